#    Licensed under the Apache License, Version 2.0 (the "License"); you may
#    not use this file except in compliance with the License. You may obtain
#    a copy of the License at
#
#         http://www.apache.org/licenses/LICENSE-2.0
#
#    Unless required by applicable law or agreed to in writing, software
#    distributed under the License is distributed on an "AS IS" BASIS, WITHOUT
#    WARRANTIES OR CONDITIONS OF ANY KIND, either express or implied. See the
#    License for the specific language governing permissions and limitations
#    under the License.

"""VTPMGuard: each hook's decision, without nova's driver.

Fakes at the two edges only: libvirt's secrets (a dict standing in for
nova's Host) and the key manager (answers per reader). The functional tests
run the same hooks inside nova with fakelibvirt and a real Barbican.
"""

import fixtures
from nova.compute import task_states
import nova.conf
from nova import context as nova_context
from nova import objects
from oslo_config import fixture as config_fixture
import testtools

from xloud_nova_ext import exception
from xloud_nova_ext.vtpm import keymgr
from xloud_nova_ext.vtpm import transfer

CONF = nova.conf.CONF
INSTANCE = '6a1c4a3e-0d0e-4a55-8d39-7e7f0c4b2f10'
SECRET = '0b7e4e7e-94a5-4d1f-9f0c-3e4f7d1c2a11'
VALUE = b'dGhlLXZ0cG0tc2VjcmV0'
# nova keeps 255 characters of an error in action events and faults, after
# "Migration pre-check error: ".
VISIBLE = 255 - len('Migration pre-check error: ')


class FakeHost(object):
    """nova's Host secret methods over a dict keyed by usage id."""

    def __init__(self):
        self.secrets = {}

    def find_secret(self, usage_type, usage_id):
        return self.secrets.get((usage_type, usage_id))

    def create_secret(self, usage_type, usage_id, password=None, uuid=None,
                      ephemeral=None, private=None):
        self.secrets[(usage_type, usage_id)] = dict(
            uuid=uuid, value=password, ephemeral=ephemeral, private=private)

    def delete_secret(self, usage_type, usage_id):
        self.secrets.pop((usage_type, usage_id), None)


class FakeKeyManager(object):
    """Answers a read per reader (user id): a value or an outcome."""

    backend = 'barbican'

    def __init__(self):
        self.answers = {}
        self.reads = []
        self.grants = []
        self.disabled = False

    def check_enabled(self):
        if self.disabled:
            raise exception.KeyManagerDisabled(host='cmp2', backend='vault')

    def read(self, context, secret_uuid):
        self.reads.append(context.user_id)
        answer = self.answers.get(context.user_id, keymgr.FORBIDDEN)
        if isinstance(answer, bytes):
            return answer
        raise keymgr.KeyManagerReadError(answer, 'detail', 'summary')

    def grant_read(self, context, secret_uuid, user_id):
        self.grants.append((context.user_id, secret_uuid, user_id))
        return True


def make_instance(security='host', vtpm=True, project='owner-project'):
    extra_specs = {}
    if vtpm:
        extra_specs = {'hw:tpm_model': 'tpm-crb', 'hw:tpm_version': '2.0',
                       'hw:tpm_secret_security': security}
    return objects.Instance(
        uuid=INSTANCE, project_id=project, host='cmp1', task_state=None,
        image_ref='',
        flavor=objects.Flavor(extra_specs=extra_specs),
        system_metadata={'vtpm_secret_uuid': SECRET} if vtpm else {})


def migrate_data(value=None, uuid=SECRET):
    return objects.LibvirtLiveMigrateData(vtpm_secret_uuid=uuid,
                                          vtpm_secret_value=value)


class GuardTestBase(testtools.TestCase):

    def setUp(self):
        super().setUp()
        objects.register_all()
        self.conf = self.useFixture(config_fixture.Config(CONF))
        self.conf.config(host='cmp2')
        self.host = FakeHost()
        self.guard = transfer.VTPMGuard(self.host)
        self.km = self.guard._km = FakeKeyManager()
        # is_admin given: nova would otherwise load its policy to learn it.
        self.service = nova_context.RequestContext(
            user_id='nova', project_id='service', is_admin=False)
        self.useFixture(fixtures.MockPatch(
            'nova.context.get_nova_service_user_context',
            return_value=self.service))
        self.requester = nova_context.RequestContext(
            user_id='admin', project_id='admin-project', is_admin=True)
        self.owner = nova_context.RequestContext(
            user_id='owner', project_id='owner-project', is_admin=False)


class LiveMigrationDestinationTest(GuardTestBase):

    def check(self, instance, fail=False):
        check_data = objects.LibvirtLiveMigrateData()
        with self.guard.destination_check(self.requester, instance) as c:
            if fail:
                raise ValueError('a later check failed')
            return c.bind(check_data)

    def test_precheck_reads_once_and_pre_live_migration_uses_it(self):
        self.km.answers['nova'] = VALUE
        instance = make_instance()
        check_data = self.check(instance)
        self.guard.confirm(instance)
        self.guard.end_check(check_data)

        self.guard.define_incoming(self.requester, instance, migrate_data())

        self.assertEqual(['nova'], self.km.reads)
        self.assertEqual(
            dict(uuid=SECRET, value=VALUE, ephemeral=False, private=False),
            self.host.secrets[('vtpm', INSTANCE)])
        self.assertEqual({}, self.guard._pending)

    def test_failed_check_forgets_the_value(self):
        self.km.answers['nova'] = VALUE
        instance = make_instance()
        check_data = self.check(instance)
        # The source's check failed: nova cleans up without confirming.
        self.guard.end_check(check_data)
        self.assertEqual({}, self.guard._pending)

    def test_check_failing_after_the_precheck_forgets_the_value(self):
        self.km.answers['nova'] = VALUE
        self.assertRaises(ValueError, self.check, make_instance(), fail=True)
        self.assertEqual({}, self.guard._pending)

    def test_expired_value_is_read_again(self):
        self.km.answers['nova'] = VALUE
        instance = make_instance()
        check_data = self.check(instance)
        self.guard.confirm(instance)
        self.guard.end_check(check_data)
        self.guard._pending[INSTANCE].expires = 0
        self.guard.define_incoming(self.requester, instance, migrate_data())
        self.assertEqual(['nova', 'nova'], self.km.reads)

    def test_value_whose_migration_never_came_is_purged(self):
        self.km.answers['nova'] = VALUE
        instance = make_instance()
        check_data = self.check(instance)
        self.guard.confirm(instance)
        self.guard.end_check(check_data)
        self.guard.purge()
        self.assertIn(INSTANCE, self.guard._pending)
        self.guard._pending[INSTANCE].expires = 0
        self.guard.purge()
        self.assertEqual({}, self.guard._pending)

    def test_refusals(self):
        instance = make_instance()
        for answer, refusal in (
                (keymgr.MISSING, exception.VTPMSecretMissing),
                (keymgr.UNREACHABLE, exception.KeyManagerUnreachable),
                (keymgr.FORBIDDEN, exception.VTPMSecretForbidden)):
            self.km.answers = {'nova': answer, 'admin': answer}
            self.assertRaises(refusal, self.check, instance)
            self.assertEqual({}, self.guard._pending)

    def test_disabled_key_manager_is_refused(self):
        self.km.disabled = True
        self.assertRaises(exception.KeyManagerDisabled, self.check,
                          make_instance())

    def test_rpc_transport_does_nothing(self):
        self.conf.config(vtpm_secret_transport='rpc', group='xloud')
        self.check(make_instance())
        for data in (migrate_data(value='c2VjcmV0'),   # 'host' mode
                     migrate_data(uuid=None)):         # other modes
            self.guard.define_incoming(self.requester, make_instance(),
                                       data)
        self.assertEqual([], self.km.reads)
        self.assertEqual({}, self.host.secrets)

    def test_value_sent_by_an_rpc_source_is_left_to_nova(self):
        self.guard.define_incoming(self.requester, make_instance(),
                                   migrate_data(value='c2VjcmV0'))
        self.assertEqual([], self.km.reads)
        self.assertEqual({}, self.host.secrets)

    def test_rpc_destination_serves_a_source_that_left_the_value_out(self):
        self.conf.config(vtpm_secret_transport='rpc', group='xloud')
        self.km.answers['nova'] = VALUE
        self.guard.define_incoming(self.requester, make_instance(),
                                   migrate_data())
        self.assertIn(('vtpm', INSTANCE), self.host.secrets)

    def test_instances_without_vtpm_are_ignored(self):
        instance = make_instance(vtpm=False)
        self.check(instance)
        self.guard.define_incoming(self.requester, instance,
                                   objects.LibvirtLiveMigrateData())
        self.assertEqual([], self.km.reads)

    def test_non_host_modes_keep_no_secret_after_the_migration(self):
        self.km.answers['nova'] = VALUE
        instance = make_instance('deployment')
        self.guard.define_incoming(self.requester, instance,
                                   migrate_data(uuid=None))
        self.assertEqual(
            dict(uuid=SECRET, value=VALUE, ephemeral=True, private=True),
            self.host.secrets[('vtpm', INSTANCE)])
        self.guard.incoming_done(instance)
        self.assertEqual({}, self.host.secrets)

    def test_host_mode_keeps_its_secret_after_the_migration(self):
        self.host.create_secret('vtpm', INSTANCE, password=VALUE)
        self.guard.incoming_done(make_instance('host'))
        self.assertIn(('vtpm', INSTANCE), self.host.secrets)

    def test_rollback_leaves_nothing(self):
        self.km.answers['nova'] = VALUE
        instance = make_instance()
        self.check(instance)
        self.host.create_secret('vtpm', INSTANCE, password=VALUE)
        self.guard.rollback_incoming(instance)
        self.assertEqual({}, self.host.secrets)
        self.assertEqual({}, self.guard._pending)


class ReadersTest(GuardTestBase):
    """Which credentials read a secret, per secret security mode."""

    def read(self, security):
        return self.guard._read(self.requester, make_instance(security),
                                SECRET, security)

    def test_host_tries_the_service_user_then_the_requester(self):
        self.km.answers['admin'] = VALUE
        self.assertEqual(VALUE, self.read('host'))
        self.assertEqual(['nova', 'admin'], self.km.reads)

    def test_deployment_reads_as_the_service_user_only(self):
        self.assertRaises(exception.VTPMSecretForbidden, self.read,
                          'deployment')
        self.assertEqual(['nova'], self.km.reads)

    def test_user_reads_as_the_requester_only(self):
        self.km.answers['nova'] = VALUE
        err = self.assertRaises(exception.VTPMSecretForbidden, self.read,
                                'user')
        self.assertEqual(['admin'], self.km.reads)
        self.assertIn("Only the owner's project", str(err))

    def test_no_service_user_configured(self):
        self.useFixture(fixtures.MockPatch(
            'nova.context.get_nova_service_user_context',
            side_effect=ValueError('no [service_user]')))
        self.km.answers['admin'] = VALUE
        self.assertEqual(VALUE, self.read('host'))
        self.assertEqual(['admin'], self.km.reads)

    def test_missing_is_not_retried_with_other_credentials(self):
        self.km.answers = {'nova': keymgr.MISSING, 'admin': VALUE}
        self.assertRaises(exception.VTPMSecretMissing, self.read, 'host')
        self.assertEqual(['nova'], self.km.reads)


class LiveMigrationSourceTest(GuardTestBase):

    def test_value_stays_on_the_source(self):
        data = migrate_data(value='c2VjcmV0')
        self.assertIs(data, self.guard.strip(make_instance(), data))
        self.assertIsNone(data.vtpm_secret_value)
        self.assertEqual(SECRET, data.vtpm_secret_uuid)
        # nova's own cleanup hooks still see a vTPM migration.
        self.assertTrue(data.has_vtpm)
        self.assertFalse(data.has_vtpm_secret_data)

    def test_rpc_transport_keeps_the_value(self):
        self.conf.config(vtpm_secret_transport='rpc', group='xloud')
        data = self.guard.strip(make_instance(), migrate_data('c2VjcmV0'))
        self.assertEqual('c2VjcmV0', data.vtpm_secret_value)

    def test_lost_host_secret_is_recreated(self):
        self.km.answers['nova'] = VALUE
        self.guard.heal_source(self.requester, make_instance())
        self.assertEqual(
            dict(uuid=SECRET, value=VALUE, ephemeral=False, private=False),
            self.host.secrets[('vtpm', INSTANCE)])

    def test_present_secret_is_not_read(self):
        self.host.create_secret('vtpm', INSTANCE, password=VALUE)
        self.guard.heal_source(self.requester, make_instance())
        self.assertEqual([], self.km.reads)

    def test_only_host_mode_keeps_a_secret_to_heal(self):
        self.guard.heal_source(self.requester, make_instance('deployment'))
        self.assertEqual([], self.km.reads)
        self.assertEqual({}, self.host.secrets)


class ColdMigrationTest(GuardTestBase):

    def test_unreadable_secret_is_refused_before_the_guest_stops(self):
        instance = make_instance('user')
        self.assertRaises(exception.VTPMSecretForbidden,
                          self.guard.check_cold_migration, self.requester,
                          instance, instance.flavor)

    def test_no_vtpm_after_the_resize_needs_no_secret(self):
        self.guard.check_cold_migration(self.requester, make_instance('user'),
                                        objects.Flavor(extra_specs={}))
        self.assertEqual([], self.km.reads)

    def test_destination_defines_a_host_secret_before_nova_looks(self):
        self.km.answers['nova'] = VALUE
        self.guard.define_for_start(self.requester, make_instance())
        self.assertIn(('vtpm', INSTANCE), self.host.secrets)

    def test_destination_leaves_it_to_nova_when_it_cannot_read(self):
        self.guard.define_for_start(self.requester, make_instance())
        self.assertEqual({}, self.host.secrets)

    def test_confirmed_source_keeps_nothing(self):
        self.host.create_secret('vtpm', INSTANCE, password=VALUE)
        migration = objects.Migration(source_compute='cmp1',
                                      dest_compute='cmp1')
        self.guard.moved_away(make_instance(), migration)
        self.assertIn(('vtpm', INSTANCE), self.host.secrets)
        migration.dest_compute = 'cmp2'
        self.guard.moved_away(make_instance(), migration)
        self.assertEqual({}, self.host.secrets)

    def test_reverted_destination_keeps_nothing(self):
        instance = make_instance()
        self.host.create_secret('vtpm', INSTANCE, password=VALUE)
        self.guard.destroyed(instance)  # a hard reboot: keep it
        self.assertIn(('vtpm', INSTANCE), self.host.secrets)
        instance.task_state = task_states.RESIZE_REVERTING
        self.guard.destroyed(instance)
        self.assertEqual({}, self.host.secrets)


class GrantTest(GuardTestBase):

    def test_host_mode_grants_the_service_user(self):
        self.guard.grant_service_user(self.owner, make_instance('host'))
        self.assertEqual([('owner', SECRET, 'nova')], self.km.grants)

    def test_user_and_deployment_modes_never_grant(self):
        for security in ('user', 'deployment'):
            self.guard.grant_service_user(self.owner, make_instance(security))
        self.assertEqual([], self.km.grants)

    def test_option_off_grants_nothing(self):
        self.conf.config(vtpm_grant_service_user=False, group='xloud')
        self.guard.grant_service_user(self.owner, make_instance('host'))
        self.assertEqual([], self.km.grants)

    def test_another_project_is_not_asked(self):
        self.guard.grant_service_user(self.requester, make_instance('host'))
        self.assertEqual([], self.km.grants)

    def test_failure_does_not_fail_the_operation(self):
        self.km.grant_read = lambda *a: 1 / 0
        self.guard.grant_service_user(self.owner, make_instance('host'))


class RefusalTextTest(testtools.TestCase):
    """The whole text, fix included, survives nova's 255-character cut."""

    HOST = 'compute-0042.rack17'

    def disabled(self, backend):
        conf = self.useFixture(config_fixture.Config(CONF))
        conf.config(backend=backend, group='key_manager')
        km = keymgr.KeyManager(self.HOST, CONF)
        return self.assertRaises(exception.KeyManagerDisabled,
                                 km.check_enabled)

    def test_every_vtpm_refusal_fits(self):
        refusals = [
            self.disabled('castellan.key_manager.vault_key_manager.'
                          'VaultKeyManager'),
            exception.KeyManagerUnreachable(host=self.HOST,
                                            detail='ConnectTimeout'),
            exception.VTPMSecretMissing(secret_uuid=SECRET),
        ] + [exception.VTPMSecretForbidden(
            host=self.HOST, security=mode, remedy=remedy)
            for mode, remedy in transfer._REMEDY.items()]
        for refusal in refusals:
            text = str(refusal)
            self.assertLessEqual(len(text), VISIBLE, text)
            self.assertIn(' Fix: ', text)
            self.assertNotIn(VALUE.decode(), text)
