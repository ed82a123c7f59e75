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

import logging

import fixtures
from nova.compute import task_states
import nova.conf
from nova import context as nova_context
from nova import objects
from oslo_config import fixture as config_fixture

from xloud_harness import testing

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

    def __init__(self, service):
        self.backend = 'barbican'
        self.service = service
        self.answers = {}
        self.reads = []
        self.acl = {}
        self.acl_changes = []

    @property
    def is_barbican(self):
        return self.backend == 'barbican'

    def check_enabled(self):
        if not self.is_barbican:
            raise exception.KeyManagerDisabled(host='cmp2', backend='vault')

    def read(self, context, secret_uuid):
        self.reads.append(context.user_id)
        answer = self.answers.get(context.user_id, keymgr.FORBIDDEN)
        if isinstance(answer, bytes):
            return answer
        raise keymgr.KeyManagerReadError(answer, 'detail', 'summary')

    def set_readers(self, context, secret_uuid, add=None, remove=()):
        self.acl_changes.append((context.user_id, secret_uuid, add,
                                 list(remove)))
        users = [u for u in self.acl.get(secret_uuid, []) if u not in remove]
        if add and add not in users:
            users.append(add)
        self.acl[secret_uuid] = users
        return True

    def service_context(self):
        return self.service


def make_instance(security='host', vtpm=True, project='owner-project'):
    extra_specs = {}
    if vtpm:
        extra_specs = {'hw:tpm_model': 'tpm-crb', 'hw:tpm_version': '2.0',
                       'hw:tpm_secret_security': security}
    return objects.Instance(
        uuid=INSTANCE, project_id=project, host='cmp1', task_state=None,
        image_ref='', migration_context=None,
        flavor=objects.Flavor(extra_specs=extra_specs),
        system_metadata={'vtpm_secret_uuid': SECRET} if vtpm else {})


def migrate_data(value=None, uuid=SECRET):
    return objects.LibvirtLiveMigrateData(vtpm_secret_uuid=uuid,
                                          vtpm_secret_value=value)


class GuardTestBase(testing.TestCase):

    def setUp(self):
        super().setUp()
        objects.register_all()
        self.conf = self.useFixture(config_fixture.Config(CONF))
        self.conf.config(host='cmp2')
        self.conf.config(backend='barbican', group='key_manager')
        self.host = FakeHost()
        self.guard = transfer.VTPMGuard(self.host, CONF)
        # is_admin given: nova would otherwise load its policy to learn it.
        self.service = nova_context.RequestContext(
            user_id='nova', project_id='service', is_admin=False)
        self.km = self.guard._km = FakeKeyManager(self.service)
        self.requester = nova_context.RequestContext(
            user_id='admin', project_id='admin-project', is_admin=True)
        self.owner = nova_context.RequestContext(
            user_id='owner', project_id='owner-project', is_admin=False)


class TransportTest(GuardTestBase):

    def test_auto_follows_the_key_manager(self):
        self.assertEqual('auto', CONF.xloud.vtpm_secret_transport)
        self.assertEqual('barbican', self.guard.transport)
        self.km.backend = 'vault'
        self.assertEqual('rpc', self.guard.transport)

    def test_explicit_choice_wins(self):
        self.km.backend = 'vault'
        self.conf.config(vtpm_secret_transport='barbican', group='xloud')
        self.assertEqual('barbican', self.guard.transport)
        self.km.backend = 'barbican'
        self.conf.config(vtpm_secret_transport='rpc', group='xloud')
        self.assertEqual('rpc', self.guard.transport)

    def test_start_up_says_which_is_in_force(self):
        logs = self.useFixture(fixtures.FakeLogger(
            name='xloud_nova_ext.vtpm.transfer', level=logging.INFO))
        self.km.backend = 'vault'
        self.guard.init_host()
        self.assertEqual(
            'vTPM secret transport in force: rpc ([xloud] '
            'vtpm_secret_transport = auto, [key_manager] backend = vault).',
            logs.output.strip())

    def test_other_key_managers_keep_stock_behaviour(self):
        # nova's own test key manager, Vault...: every hook as stock nova.
        self.km.backend = 'nova.keymgr.conf_key_mgr.ConfKeyManager'
        instance = make_instance()
        check_data = self.guard.check_can_live_migrate_destination(
            instance, objects.LibvirtLiveMigrateData())
        self.assertNotIn('vtpm_secret_uuid', check_data)
        data = migrate_data(value='c2VjcmV0')
        with self.guard.check_can_live_migrate_source(
                self.requester, instance, data):
            pass
        self.assertEqual('c2VjcmV0', data.vtpm_secret_value)
        self.guard.migrate_disk_and_power_off(self.requester, instance,
                                              instance.flavor)
        self.guard.guest_starting(self.requester, instance)
        self.guard.guest_started(self.owner, instance)
        self.assertEqual([], self.km.reads)
        self.assertEqual([], self.km.acl_changes)


class LiveMigrationDestinationTest(GuardTestBase):

    def check(self, instance, data, fail=False):
        """The destination's pre-check, as nova runs it."""
        self.guard.check_can_live_migrate_destination(
            instance, objects.LibvirtLiveMigrateData())
        with self.guard.check_source_migrate_data_at_dest(
                self.requester, instance, data):
            if fail:
                raise ValueError('a later check failed')

    def test_destination_announces_it_reads_the_secret(self):
        check_data = self.guard.check_can_live_migrate_destination(
            make_instance(), objects.LibvirtLiveMigrateData())
        self.assertEqual(SECRET, check_data.vtpm_secret_uuid)
        self.assertNotIn('vtpm_secret_value', check_data)

    def test_precheck_reads_once_and_pre_live_migration_uses_it(self):
        self.km.answers['nova'] = VALUE
        instance = make_instance()
        data = migrate_data()
        self.check(instance, data)
        with self.guard.pre_live_migration(self.requester, instance, data):
            pass
        self.assertEqual(['nova'], self.km.reads)
        self.assertEqual(
            dict(uuid=SECRET, value=VALUE, ephemeral=False, private=False),
            self.host.secrets[('vtpm', INSTANCE)])
        self.assertEqual({}, self.guard._pending)

    def test_value_from_a_stock_source_is_used_without_a_read(self):
        instance = make_instance()
        data = migrate_data(value='c2VjcmV0')
        self.check(instance, data)
        with self.guard.pre_live_migration(self.requester, instance, data):
            pass  # nova defines it from the migrate data
        self.assertEqual([], self.km.reads)
        self.assertEqual({}, self.host.secrets)

    def test_value_leaves_the_data_after_pre_live_migration(self):
        # It would go back over RPC, or into an error notification.
        for fail in (False, True):
            data = migrate_data(value='c2VjcmV0')
            try:
                with self.guard.pre_live_migration(
                        self.requester, make_instance(), data):
                    if fail:
                        raise ValueError('refused')
            except ValueError:
                pass
            self.assertIsNone(data.vtpm_secret_value)
            self.assertTrue(data.has_vtpm)

    def test_failing_later_check_forgets_the_value(self):
        self.km.answers['nova'] = VALUE
        self.assertRaises(ValueError, self.check, make_instance(),
                          migrate_data(), fail=True)
        self.assertEqual({}, self.guard._pending)

    def test_expired_value_is_read_again(self):
        self.km.answers['nova'] = VALUE
        instance = make_instance()
        data = migrate_data()
        self.check(instance, data)
        self.guard._pending[INSTANCE].expires = 0
        with self.guard.pre_live_migration(self.requester, instance, data):
            pass
        self.assertEqual(['nova', 'nova'], self.km.reads)

    def test_value_whose_migration_never_came_is_purged(self):
        self.km.answers['nova'] = VALUE
        self.check(make_instance(), migrate_data())
        self.guard.update_available_resource()
        self.assertIn(INSTANCE, self.guard._pending)
        self.guard._pending[INSTANCE].expires = 0
        self.guard.update_available_resource()
        self.assertEqual({}, self.guard._pending)

    def test_refusals(self):
        instance = make_instance()
        for answer, refusal in (
                (keymgr.MISSING, exception.VTPMSecretMissing),
                (keymgr.UNREACHABLE, exception.KeyManagerUnreachable),
                (keymgr.FORBIDDEN, exception.VTPMSecretForbidden)):
            self.km.answers = {'nova': answer, 'admin': answer}
            self.assertRaises(refusal, self.check, instance, migrate_data())
            self.assertEqual({}, self.guard._pending)

    def test_explicit_barbican_without_barbican_is_refused(self):
        self.conf.config(vtpm_secret_transport='barbican', group='xloud')
        self.km.backend = 'vault'
        self.assertRaises(exception.KeyManagerDisabled, self.check,
                          make_instance(), migrate_data())

    def test_rpc_transport_does_nothing(self):
        self.conf.config(vtpm_secret_transport='rpc', group='xloud')
        instance = make_instance()
        check_data = self.guard.check_can_live_migrate_destination(
            instance, objects.LibvirtLiveMigrateData())
        self.assertNotIn('vtpm_secret_uuid', check_data)
        for data in (migrate_data(value='c2VjcmV0'),   # 'host' mode
                     migrate_data(uuid=None)):         # other modes
            self.check(instance, data)
            with self.guard.pre_live_migration(self.requester, instance,
                                               data):
                pass
        self.assertEqual([], self.km.reads)
        self.assertEqual({}, self.host.secrets)

    def test_rpc_destination_serves_a_source_that_left_the_value_out(self):
        self.conf.config(vtpm_secret_transport='rpc', group='xloud')
        self.km.answers['nova'] = VALUE
        with self.guard.pre_live_migration(self.requester, make_instance(),
                                           migrate_data()):
            pass
        self.assertIn(('vtpm', INSTANCE), self.host.secrets)

    def test_instances_without_vtpm_are_ignored(self):
        instance = make_instance(vtpm=False)
        check_data = self.guard.check_can_live_migrate_destination(
            instance, objects.LibvirtLiveMigrateData())
        self.assertNotIn('vtpm_secret_uuid', check_data)
        self.check(instance, objects.LibvirtLiveMigrateData())
        self.assertEqual([], self.km.reads)

    def test_non_host_modes_keep_no_secret_after_the_migration(self):
        self.km.answers['nova'] = VALUE
        instance = make_instance('deployment')
        with self.guard.pre_live_migration(self.requester, instance,
                                           migrate_data(uuid=None)):
            pass
        self.assertEqual(
            dict(uuid=SECRET, value=VALUE, ephemeral=True, private=True),
            self.host.secrets[('vtpm', INSTANCE)])
        self.guard.post_live_migration_at_destination(instance)
        self.assertEqual({}, self.host.secrets)

    def test_host_mode_keeps_its_secret_after_the_migration(self):
        self.host.create_secret('vtpm', INSTANCE, password=VALUE)
        self.guard.post_live_migration_at_destination(make_instance('host'))
        self.assertIn(('vtpm', INSTANCE), self.host.secrets)

    def test_rollback_leaves_nothing(self):
        self.km.answers['nova'] = VALUE
        instance = make_instance()
        self.check(instance, migrate_data())
        self.host.create_secret('vtpm', INSTANCE, password=VALUE)
        self.guard.rollback_live_migration_at_destination(instance)
        self.assertEqual({}, self.host.secrets)
        self.assertEqual({}, self.guard._pending)

    def test_rollback_does_not_raise(self):
        # nova's rollback calls it in a finally: an error here would hide
        # the error that caused the rollback.
        def broken(*args):
            raise RuntimeError('libvirt went away')
        self.host.delete_secret = broken
        self.guard.rollback_live_migration_at_destination(make_instance())
        self.assertIn(INSTANCE, self.guard._arrivals)  # retried later


class OrphanTest(GuardTestBase):
    """Secrets defined for a guest that never arrives."""

    def arrive(self, during=None):
        self.km.answers['nova'] = VALUE
        with self.guard.pre_live_migration(self.requester, make_instance(),
                                           migrate_data()):
            if during:
                during()

    def test_rollback_racing_pre_live_migration_leaves_nothing(self):
        # The source's RPC call timed out and it rolled back while this
        # host was still preparing (reading the secret).
        self.arrive(during=lambda: self.guard.
                    rollback_live_migration_at_destination(make_instance()))
        self.assertEqual({}, self.host.secrets)
        self.assertEqual({}, self.guard._arrivals)

    def instance_now(self, host, task_state):
        instance = make_instance()
        instance.host = host
        instance.task_state = task_state
        self.useFixture(fixtures.MockPatch(
            'nova.objects.Instance.get_by_uuid', return_value=instance))

    def test_source_died_mid_migration(self):
        self.arrive()
        # Still migrating: keep it.
        self.instance_now('cmp1', task_states.MIGRATING)
        self.guard.update_available_resource()
        self.assertIn(('vtpm', INSTANCE), self.host.secrets)
        # The source came back and reset the instance: remove it.
        self.instance_now('cmp1', None)
        self.guard.update_available_resource()
        self.assertEqual({}, self.host.secrets)
        self.assertEqual({}, self.guard._arrivals)

    def test_arrived_guest_keeps_its_secret(self):
        self.arrive()
        self.instance_now('cmp2', None)
        self.guard.update_available_resource()
        self.assertIn(('vtpm', INSTANCE), self.host.secrets)
        self.assertEqual({}, self.guard._arrivals)


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
        def broken():
            raise ValueError('no [service_user]')
        self.km.service_context = broken
        self.km.answers['admin'] = VALUE
        self.assertEqual(VALUE, self.read('host'))
        self.assertEqual(['admin'], self.km.reads)

    def test_missing_is_not_retried_with_other_credentials(self):
        self.km.answers = {'nova': keymgr.MISSING, 'admin': VALUE}
        self.assertRaises(exception.VTPMSecretMissing, self.read, 'host')
        self.assertEqual(['nova'], self.km.reads)


class LiveMigrationSourceTest(GuardTestBase):

    def setUp(self):
        super().setUp()
        # nova's spawn defined the host secret here.
        self.host.create_secret('vtpm', INSTANCE, password=VALUE)

    def source_check(self, data, announced=True, fail=False):
        """nova's source check fills the value; ours runs around it."""
        check_data = objects.LibvirtLiveMigrateData()
        if announced:
            check_data.vtpm_secret_uuid = SECRET
        with self.guard.check_can_live_migrate_source(
                self.requester, make_instance(), check_data):
            check_data.vtpm_secret_uuid = SECRET
            check_data.vtpm_secret_value = data
            if fail:
                raise ValueError('the disk check refused')
        return check_data

    def test_value_stays_on_the_source(self):
        data = self.source_check('c2VjcmV0')
        self.assertIsNone(data.vtpm_secret_value)
        self.assertEqual(SECRET, data.vtpm_secret_uuid)
        # nova's own cleanup hooks still see a vTPM migration.
        self.assertTrue(data.has_vtpm)
        self.assertFalse(data.has_vtpm_secret_data)

    def test_stock_destination_gets_the_value(self):
        # It did not announce: it needs the value, as from a stock source.
        data = self.source_check('c2VjcmV0', announced=False)
        self.assertEqual('c2VjcmV0', data.vtpm_secret_value)

    def test_refused_check_never_carries_the_value(self):
        # nova's @wrap_exception puts the check data into a notification.
        for announced in (True, False):
            check_data = objects.LibvirtLiveMigrateData()
            self.assertRaises(ValueError, self._failing_check, check_data,
                              announced)
            self.assertIsNone(check_data.vtpm_secret_value)

    def _failing_check(self, check_data, announced):
        if announced:
            check_data.vtpm_secret_uuid = SECRET
        with self.guard.check_can_live_migrate_source(
                self.requester, make_instance(), check_data):
            check_data.vtpm_secret_value = 'c2VjcmV0'
            raise ValueError('the disk check refused')

    def test_rpc_transport_keeps_the_value(self):
        self.conf.config(vtpm_secret_transport='rpc', group='xloud')
        data = self.source_check('c2VjcmV0')
        self.assertEqual('c2VjcmV0', data.vtpm_secret_value)

    def test_lost_host_secret_is_recreated(self):
        self.host.secrets.clear()
        self.km.answers['nova'] = VALUE
        self.source_check(None)
        self.assertEqual(
            dict(uuid=SECRET, value=VALUE, ephemeral=False, private=False),
            self.host.secrets[('vtpm', INSTANCE)])

    def test_present_secret_is_not_read(self):
        self.source_check(None)
        self.assertEqual([], self.km.reads)

    def test_only_host_mode_keeps_a_secret_to_heal(self):
        self.host.secrets.clear()
        with self.guard.check_can_live_migrate_source(
                self.requester, make_instance('deployment'),
                objects.LibvirtLiveMigrateData()):
            pass
        self.assertEqual([], self.km.reads)
        self.assertEqual({}, self.host.secrets)


class ColdMigrationTest(GuardTestBase):

    def test_unreadable_secret_is_refused_before_the_guest_stops(self):
        instance = make_instance('user')
        self.assertRaises(exception.VTPMSecretForbidden,
                          self.guard.migrate_disk_and_power_off,
                          self.requester, instance, instance.flavor)

    def test_no_vtpm_after_the_resize_needs_no_secret(self):
        self.guard.migrate_disk_and_power_off(
            self.requester, make_instance('user'),
            objects.Flavor(extra_specs={}))
        self.assertEqual([], self.km.reads)

    def test_destination_defines_a_host_secret_before_nova_looks(self):
        self.km.answers['nova'] = VALUE
        self.guard.guest_starting(self.requester, make_instance())
        self.assertIn(('vtpm', INSTANCE), self.host.secrets)

    def test_destination_leaves_it_to_nova_when_it_cannot_read(self):
        self.guard.guest_starting(self.requester, make_instance())
        self.assertEqual({}, self.host.secrets)

    def test_confirmed_source_keeps_nothing(self):
        self.host.create_secret('vtpm', INSTANCE, password=VALUE)
        migration = objects.Migration(source_compute='cmp1',
                                      dest_compute='cmp1')
        self.guard.confirm_migration(make_instance(), migration)
        self.assertIn(('vtpm', INSTANCE), self.host.secrets)
        migration.dest_compute = 'cmp2'
        self.guard.confirm_migration(make_instance(), migration)
        self.assertEqual({}, self.host.secrets)

    def reverting(self, source, dest):
        instance = make_instance()
        instance.task_state = task_states.RESIZE_REVERTING
        instance.migration_context = objects.MigrationContext(
            migration_id=7)
        self.useFixture(fixtures.MockPatch(
            'nova.objects.Migration.get_by_id',
            return_value=objects.Migration(source_compute=source,
                                           dest_compute=dest)))
        return instance

    def test_reverted_destination_keeps_nothing(self):
        instance = make_instance()
        self.host.create_secret('vtpm', INSTANCE, password=VALUE)
        self.guard.destroy(self.requester, instance)  # a hard reboot: keep
        self.assertIn(('vtpm', INSTANCE), self.host.secrets)
        self.guard.destroy(self.requester, self.reverting('cmp1', 'cmp2'))
        self.assertEqual({}, self.host.secrets)

    def test_same_host_revert_keeps_the_secret(self):
        # The guest starts again here; stock nova needs no key manager.
        self.host.create_secret('vtpm', INSTANCE, password=VALUE)
        self.guard.destroy(self.requester, self.reverting('cmp2', 'cmp2'))
        self.assertIn(('vtpm', INSTANCE), self.host.secrets)
        self.guard.guest_starting(self.requester, make_instance())
        self.assertEqual([], self.km.reads)


class GrantTest(GuardTestBase):

    def started(self, instance, context=None):
        self.guard.guest_started(context or self.owner, instance)
        return instance

    def test_host_mode_grants_the_service_user(self):
        instance = self.started(make_instance('host'))
        self.assertEqual({SECRET: ['nova']}, self.km.acl)
        self.assertEqual('nova', instance.system_metadata['xloud_vtpm_reader'])
        # Granted once, not at every start.
        self.started(instance)
        self.assertEqual(1, len(self.km.acl_changes))

    def test_user_and_deployment_modes_never_grant(self):
        for security in ('user', 'deployment'):
            self.started(make_instance(security))
        self.assertEqual([], self.km.acl_changes)

    def test_option_off_grants_nothing(self):
        self.conf.config(vtpm_grant_service_user=False, group='xloud')
        self.started(make_instance('host'))
        self.assertEqual([], self.km.acl_changes)

    def test_another_project_is_not_asked(self):
        self.started(make_instance('host'), self.requester)
        self.assertEqual([], self.km.acl_changes)

    def test_failure_does_not_fail_the_operation(self):
        self.km.set_readers = lambda *a, **k: 1 / 0
        instance = self.started(make_instance('host'))
        self.assertNotIn('xloud_vtpm_reader', instance.system_metadata)

    def resized(self, instance, flavor_specs):
        instance.flavor = objects.Flavor(extra_specs=flavor_specs)
        return self.started(instance)

    def test_leaving_host_mode_revokes(self):
        instance = self.started(make_instance('host'))
        self.resized(instance, {'hw:tpm_model': 'tpm-crb',
                                'hw:tpm_version': '2.0',
                                'hw:tpm_secret_security': 'user'})
        self.assertEqual({SECRET: []}, self.km.acl)
        self.assertNotIn('xloud_vtpm_reader', instance.system_metadata)

    def test_dropping_the_vtpm_revokes(self):
        instance = self.started(make_instance('host'))
        self.resized(instance, {})
        self.assertEqual({SECRET: []}, self.km.acl)

    def test_rotated_service_user_replaces_the_old_grant(self):
        instance = self.started(make_instance('host'))
        self.km.service = nova_context.RequestContext(
            user_id='nova-2026', project_id='service', is_admin=False)
        self.started(instance)
        self.assertEqual({SECRET: ['nova-2026']}, self.km.acl)

    def test_owner_delete_revokes(self):
        instance = self.started(make_instance('host'))
        instance.task_state = task_states.DELETING
        self.guard.destroy(self.owner, instance)
        self.assertEqual({SECRET: []}, self.km.acl)

    def test_other_project_cannot_revoke_and_says_so(self):
        logs = self.useFixture(fixtures.FakeLogger(
            name='xloud_nova_ext.vtpm.transfer', level=logging.WARNING))
        instance = self.started(make_instance('host'))
        instance.task_state = task_states.DELETING
        self.guard.destroy(self.requester, instance)
        self.assertEqual({SECRET: ['nova']}, self.km.acl)
        self.assertIn('keeps read access to vTPM secret %s' % SECRET,
                      logs.output)


class RefusalTextTest(testing.TestCase):
    """The whole text, fix included, survives nova's 255-character cut."""

    HOST = 'compute-0042.rack17'

    def disabled(self, backend):
        conf = self.useFixture(config_fixture.Config(CONF))
        conf.config(backend=backend, group='key_manager')
        conf.config(host=self.HOST)
        km = keymgr.KeyManager(CONF)
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


class CleanupNeverFailsTest(GuardTestBase):
    """A failed secret cleanup never fails what nova already did."""

    def setUp(self):
        super().setUp()

        def broken(*args):
            raise RuntimeError('libvirt went away')
        self.host.delete_secret = broken

    def test_after_the_guest_arrived(self):
        self.guard.post_live_migration_at_destination(
            make_instance('deployment'))

    def test_after_a_confirmed_migration(self):
        self.guard.confirm_migration(make_instance(), objects.Migration(
            source_compute='cmp1', dest_compute='cmp2'))

    def test_after_a_revert(self):
        instance = make_instance()
        instance.task_state = task_states.RESIZE_REVERTING
        self.guard.destroy(self.requester, instance)
