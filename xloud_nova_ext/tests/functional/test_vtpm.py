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

"""vTPM secrets move through a real Barbican, never over the message bus.

Real: nova's API, conductor, scheduler, RPC and computes (our driver) and a
Barbican 23 server with its own policy. Fake: libvirt (fakelibvirt; its
migration stub fails as libvirt does when the destination lacks the secret)
and keystone (identity headers, see xloud_harness.barbican).

Servers belong to a normal user of project ``USER_PROJECT``; migrations are
requested by an admin of another project, as in a real cloud, so only the
nova service user's grant (or the owner's credentials) can read a secret.
"""

import contextlib
import json
import logging

from castellan import key_manager
import fixtures
from nova.compute import instance_actions
from nova.compute import rpcapi as compute_rpcapi
from nova.compute import task_states
from nova.conductor import api as conductor_api
import nova.conf
from nova import context as nova_context
from nova import objects
from nova.objects import migrate_data as migrate_data_obj
from nova.tests.functional.api import client

from xloud_harness import barbican
from xloud_harness import nova_vtpm

from xloud_nova_ext import exception
from xloud_nova_ext.tests.functional import base
from xloud_nova_ext.tests import requirements
from xloud_nova_ext.virt.libvirt import driver as xloud_driver
from xloud_nova_ext.vtpm import keymgr

CONF = nova.conf.CONF
DRIVER = 'xloud_nova_ext.virt.libvirt.driver.XloudLibvirtDriver'
# Methods whose arguments or results carry migrate data between services.
RPC_METHODS = ('check_can_live_migrate_destination',
               'check_can_live_migrate_source', 'live_migration',
               'pre_live_migration', 'rollback_live_migration_at_destination')
SECRET_ERROR_CODES = ('xloud.vtpm.key_manager_unreachable',
                      'xloud.vtpm.secret_missing',
                      'xloud.vtpm.secret_forbidden')


class _LogCapture(logging.Handler):
    """Every record of the test, DEBUG included, formatted with its args."""

    def __init__(self):
        super().__init__(level=logging.DEBUG)
        self.lines = []

    def emit(self, record):
        try:
            self.lines.append(self.format(record))
        except Exception:
            self.lines.append(repr(record.__dict__))


class VTPMTestBase(base.XloudMigrationTestBase,
                   nova_vtpm.VTPMMigrationTestBase):
    """vTPM servers of a normal user; 'dest' starts after the boot."""

    def start_barbican(self):
        try:
            return super().start_barbican()
        except barbican.BarbicanStartError as e:
            requirements.require(self, False, 'no Barbican server: %s' % e)

    def setUp(self):
        self.secret_values = []
        self.migrate_data_seen = []
        super().setUp()
        # After nova's logging fixture, which removes earlier handlers.
        self.logs = _LogCapture()
        self.useFixture(fixtures.LogHandler(self.logs, nuke_handlers=False))
        # After nova's TestCase.setUp, which clears attributes at cleanup.
        self.addCleanup(self._assert_values_nowhere)
        self._capture_rpc()

    def _capture_rpc(self):
        seen = self.migrate_data_seen

        def record(value):
            if isinstance(value, migrate_data_obj.LiveMigrateData):
                # What oslo.messaging's serializer sends.
                seen.append(value.obj_to_primitive())

        def wrap(name):
            real = getattr(compute_rpcapi.ComputeAPI, name)

            def wrapper(rpcapi, *args, **kwargs):
                for value in list(args) + list(kwargs.values()):
                    record(value)
                result = real(rpcapi, *args, **kwargs)
                record(result)
                return result
            return wrapper

        for name in RPC_METHODS:
            self.useFixture(fixtures.MonkeyPatch(
                'nova.compute.rpcapi.ComputeAPI.' + name, wrap(name)))

    # Servers and secrets.

    def instance(self, server):
        return objects.Instance.get_by_uuid(
            nova_context.get_admin_context(), server['id'])

    def secret_uuid(self, server):
        return self.instance(server).system_metadata['vtpm_secret_uuid']

    def barbican_value(self, server):
        """The secret's value in Barbican, read as its owner."""
        km = key_manager.API(CONF)
        value = km.get(self.owner_context(),
                       self.secret_uuid(server)).get_encoded()
        self.secret_values.append(value)
        return value

    def libvirt_secret(self, host, server):
        return self.driver(host)._host.find_secret('vtpm', server['id'])

    def assert_secret_on(self, host, server, value):
        secret = self.libvirt_secret(host, server)
        self.assertIsNotNone(secret, 'no vTPM secret on %s' % host)
        self.assertEqual(self.secret_uuid(server), secret.UUIDString())
        self.assertEqual(value, secret._value)

    def assert_no_secret_on(self, host, server):
        self.assertIsNone(self.libvirt_secret(host, server),
                          'vTPM secret left on %s' % host)

    def count_key_manager_reads(self):
        """The secret UUIDs our code reads from Barbican from now on."""
        reads = []
        real = keymgr.KeyManager.read

        def read(km, context, secret_uuid):
            reads.append(secret_uuid)
            return real(km, context, secret_uuid)

        self.useFixture(fixtures.MonkeyPatch(
            'xloud_nova_ext.vtpm.keymgr.KeyManager.read', read))
        return reads

    def break_barbican_endpoint(self):
        # A port nothing listens on: the server keeps running for the
        # other tests of this process.
        self.flags(barbican_endpoint='http://127.0.0.1:9', group='barbican')

    def _assert_values_nowhere(self):
        """Secret values nowhere nova reports or logs anything.

        Not in a log line, RPC payload, notification (legacy and
        versioned), instance fault or action event.
        """
        self.assertTrue(self.logs.lines, 'the log capture saw nothing')
        for value in self.secret_values:
            for where, text in self.places().items():
                # Not assertNotIn: it would print the whole haystack.
                self.assertFalse(value.decode() in text,
                                 'the vTPM secret value is in the %s' % where)

    def places(self):
        """Where a secret value must never be: name -> text."""
        ctxt = nova_context.get_admin_context()
        faults = objects.InstanceFaultList.get_by_instance_uuids(
            ctxt, [server['id'] for server in self.servers])
        return {
            'logs': '\n'.join(self.logs.lines),
            'migrate data over RPC': json.dumps(self.migrate_data_seen,
                                                default=str),
            'legacy notifications': json.dumps(
                [n._asdict() for n in self.notifier.notifications],
                default=str),
            'versioned notifications': json.dumps(
                self.notifier.versioned_notifications, default=str),
            'instance faults': json.dumps(
                [(f.message, f.details) for f in faults]),
            'instance action events': json.dumps(
                [self.all_events(server) for server in self.servers])}

    def all_events(self, server):
        api = self.admin_api
        return [api.get_instance_action_details(server['id'],
                                                action['request_id'])
                for action in api.get_instance_actions(server['id'])]

    # Requests.

    def live_migrate_as(self, api, server, host='dest'):
        api.post_server_action(server['id'], {'os-migrateLive': {
            'host': host, 'block_migration': 'auto'}})
        return self.wait_for_migration(
            server, 'live-migration', ('completed', 'error', 'failed'))

    def assert_vtpm_refused(self, server, migration, code):
        events = self.assert_refused(server, 'src', migration, code)
        self.assertIn(server['id'], self.domains_on('src'))
        self.assertNotIn(server['id'], self.domains_on('dest'))
        self.assert_no_secret_on('dest', server)
        # Refused by the destination's pre-check: nothing was prepared there.
        refused_by = [e['event'] for e in events
                      if code in (e.get('details') or '')]
        self.assertEqual(['compute_check_can_live_migrate_destination'],
                         refused_by, events)
        self.assertNotIn('compute_pre_live_migration',
                         [e['event'] for e in events])
        # The refusal says why and what fixes it.
        details = ' '.join(e.get('details') or '' for e in events)
        self.assertIn(' Fix: ', details)
        return details

    def assert_no_value_crossed_rpc(self, server):
        self.assertTrue(self.migrate_data_seen)
        for data in self.migrate_data_seen:
            fields = data['nova_object.data']
            self.assertIsNone(fields.get('vtpm_secret_value'), fields)
            # nova sends the UUID in 'host' mode, None in the others.
            self.assertIn(fields.get('vtpm_secret_uuid'),
                          (None, self.secret_uuid(server)))


class HostModeLiveMigrationTest(VTPMTestBase):
    """``host`` secrets: what the nova 34 API lets live-migrate."""

    def test_secret_moves_through_barbican_not_rpc(self):
        server = self.boot_vtpm('host')
        value = self.barbican_value(server)
        self.assert_secret_on('src', server, value)
        reads = self.count_key_manager_reads()

        migration = self.live_migrate_as(self.other_admin_api, server)

        self.assert_migrated(server, 'src', 'dest', migration)
        self.assert_secret_on('dest', server, value)
        self.assert_no_secret_on('src', server)
        self.assert_no_value_crossed_rpc(server)
        # One key-manager read for the whole migration (the pre-check's).
        self.assertEqual(1, len(reads))

    def test_rpc_transport_keeps_upstream_behaviour(self):
        self.flags(vtpm_secret_transport='rpc', group='xloud')
        server = self.boot_vtpm('host')
        value = self.barbican_value(server)

        migration = self.live_migrate_as(self.other_admin_api, server)

        self.assert_migrated(server, 'src', 'dest', migration)
        self.assert_secret_on('dest', server, value)
        self.assert_no_secret_on('src', server)
        # Upstream sends the value in the migrate data; this also shows
        # that the RPC capture of the other tests sees it when it is there.
        values = [d['nova_object.data'].get('vtpm_secret_value')
                  for d in self.migrate_data_seen]
        self.assertIn(value.decode(), values)
        # And nova 34 logs it at DEBUG: LiveMigrateData's repr does not mask
        # SensitiveStringField values ("source check data is ...").
        logged = [line for line in self.logs.lines
                  if value.decode() in line]
        self.assertTrue(logged)
        self.assertIn('vtpm_secret_value=', logged[0])
        # Both found as expected: not a failure of this test.
        self.secret_values.remove(value)

    def test_barbican_unreachable_is_refused_before_copying(self):
        server = self.boot_vtpm('host')
        value = self.barbican_value(server)
        self.break_barbican_endpoint()

        migration = self.live_migrate_as(self.other_admin_api, server)

        details = self.assert_vtpm_refused(
            server, migration, 'xloud.vtpm.key_manager_unreachable')
        self.assertIn('barbican_endpoint', details)
        self.assert_secret_on('src', server, value)
        self.assertFalse(getattr(self, 'migrate_stub_ran', False))

    def test_secret_deleted_in_barbican_is_refused(self):
        server = self.boot_vtpm('host')
        value = self.barbican_value(server)
        key_manager.API(CONF).delete(self.owner_context(),
                                     self.secret_uuid(server))

        migration = self.live_migrate_as(self.other_admin_api, server)

        self.assert_vtpm_refused(server, migration,
                                 'xloud.vtpm.secret_missing')
        self.assert_secret_on('src', server, value)

    def test_other_project_without_grant_is_refused(self):
        self.flags(vtpm_grant_service_user=False, group='xloud')
        server = self.boot_vtpm('host')
        self.barbican_value(server)

        migration = self.live_migrate_as(self.other_admin_api, server)

        details = self.assert_vtpm_refused(server, migration,
                                           'xloud.vtpm.secret_forbidden')
        self.assertIn("('host' mode). Fix: Let the owner hard-reboot it",
                      details)
        self.assertIn('tried: the nova service user, the requester',
                      '\n'.join(self.logs.lines))

    def test_owner_hard_reboot_grants_then_migration_works(self):
        self.flags(vtpm_grant_service_user=False, group='xloud')
        server = self.boot_vtpm('host')
        value = self.barbican_value(server)
        self.flags(vtpm_grant_service_user=True, group='xloud')
        self._reboot_server(server, hard=True, api=self.user_api)

        migration = self.live_migrate_as(self.other_admin_api, server)

        self.assert_migrated(server, 'src', 'dest', migration)
        self.assert_secret_on('dest', server, value)

    def test_periodic_task_drops_a_value_whose_migration_never_came(self):
        server = self.boot_vtpm('host')
        guard = self.driver('dest')._vtpm
        # As if the source had died after the destination's confirmed
        # pre-check: nobody will call pre_live_migration or roll back.
        instance = self.instance(server)
        with guard.check_source_migrate_data_at_dest(
                self.owner_context(), instance,
                objects.LibvirtLiveMigrateData(
                    vtpm_secret_uuid=self.secret_uuid(server),
                    vtpm_secret_value=None)):
            pass
        self.secret_values.append(guard._pending[server['id']].value)
        self.computes['dest'].manager.update_available_resource(
            nova_context.get_admin_context())
        self.assertIn(server['id'], guard._pending)  # not expired yet
        guard._pending[server['id']].expires = 0
        self.computes['dest'].manager.update_available_resource(
            nova_context.get_admin_context())
        self.assertEqual({}, guard._pending)

    def test_source_that_lost_its_secret_still_migrates(self):
        server = self.boot_vtpm('host')
        value = self.barbican_value(server)
        self.driver('src')._host.delete_secret('vtpm', server['id'])

        migration = self.live_migrate_as(self.other_admin_api, server)

        self.assert_migrated(server, 'src', 'dest', migration)
        self.assert_secret_on('dest', server, value)
        self.assert_no_secret_on('src', server)
        self.assert_no_value_crossed_rpc(server)

    def test_failed_migration_leaves_no_secret_on_destination(self):
        server = self.boot_vtpm('host')
        value = self.barbican_value(server)

        def fail_after_start(domain, destination, params, flags):
            # The guest started on 'dest', then the migration failed.
            self.driver('dest')._host.get_connection().createXML(
                params['destination_xml'], 0)
            domain.fail_job()

        self.useFixture(fixtures.MonkeyPatch(
            'nova.tests.fixtures.libvirt.Domain.migrateToURI3',
            fail_after_start))
        migration = self.live_migrate_as(self.other_admin_api, server)

        self.assertEqual('failed', migration['status'])
        self.notifier.wait_for_versioned_notifications(
            'instance.live_migration_rollback_dest.end')
        server = self._wait_for_state_change(server, 'ACTIVE')
        self.assertEqual('src', server['OS-EXT-SRV-ATTR:host'])
        self.assert_secret_on('src', server, value)
        self.assert_no_secret_on('dest', server)


class ColdMigrationTest(VTPMTestBase):
    """Cold migration by an admin of another project (per mode)."""

    def migrate_as(self, api, server):
        api.post_server_action(server['id'], {'migrate': {'host': 'dest'}})
        return self.wait_for_migration(
            server, 'migration', ('finished', 'error', 'failed'))

    def assert_running_on(self, host, server):
        self.assertIn(server['id'], self.domains_on(host))

    def test_user_secret_is_refused_before_the_guest_stops(self):
        server = self.boot_vtpm('user')

        migration = self.migrate_as(self.other_admin_api, server)

        self.assertEqual('error', migration['status'])
        server = self._wait_for_state_change(server, 'ACTIVE')
        self.assertEqual('src', server['OS-EXT-SRV-ATTR:host'])
        self.assert_running_on('src', server)
        event = self._wait_for_instance_action_event(
            server, 'migrate', 'compute_resize_instance', 'Error')
        self.assertIn('[xloud.vtpm.secret_forbidden]', event['details'])
        self.assertIn("Only the owner's project may read", event['details'])

    def test_upstream_fails_late_for_a_user_secret(self):
        """The finding behind the refusal above, with our code off (rpc).

        nova 34 powers the guest off and copies it, then the destination's
        finish_migration cannot read the 'user' secret with the admin's
        credentials (Barbican 403): ERROR, guest stopped.
        """
        self.flags(vtpm_secret_transport='rpc', group='xloud')
        server = self.boot_vtpm('user')

        self.other_admin_api.post_server_action(
            server['id'], {'migrate': {'host': 'dest'}})
        server = self._wait_for_state_change(server, 'ERROR')

        self.assertNotIn(server['id'], self.domains_on('src'))
        self.assertNotIn(server['id'], self.domains_on('dest'))
        event = self._wait_for_instance_action_event(
            server, 'migrate', 'compute_finish_resize', 'Error')
        self.assertIn('Forbidden', event['details'])

    def test_host_secret_moves_and_leaves_nothing_behind(self):
        server = self.boot_vtpm('host')
        value = self.barbican_value(server)

        migration = self.migrate_as(self.other_admin_api, server)

        self.assertEqual('finished', migration['status'])
        self.assert_secret_on('dest', server, value)
        self.assert_running_on('dest', server)
        self.api.post_server_action(server['id'], {'confirmResize': None})
        self.wait_for_migration(server, 'migration', ('confirmed',))
        self.assert_no_secret_on('src', server)
        self.assert_secret_on('dest', server, value)

    def test_reverted_host_secret_leaves_nothing_on_destination(self):
        server = self.boot_vtpm('host')
        value = self.barbican_value(server)
        self.migrate_as(self.other_admin_api, server)

        self.other_admin_api.post_server_action(server['id'],
                                                {'revertResize': None})
        self.wait_for_migration(server, 'migration', ('reverted',))
        self._wait_for_state_change(server, 'ACTIVE')

        self.assert_running_on('src', server)
        self.assert_secret_on('src', server, value)
        self.assert_no_secret_on('dest', server)

    def test_barbican_unreachable_is_refused_before_the_guest_stops(self):
        server = self.boot_vtpm('host')
        self.break_barbican_endpoint()

        migration = self.migrate_as(self.other_admin_api, server)

        self.assertEqual('error', migration['status'])
        server = self._wait_for_state_change(server, 'ACTIVE')
        self.assert_running_on('src', server)
        event = self._wait_for_instance_action_event(
            server, 'migrate', 'compute_resize_instance', 'Error')
        self.assertIn('[xloud.vtpm.key_manager_unreachable]',
                      event['details'])


class DeploymentModeTest(VTPMTestBase):
    """``deployment`` secrets belong to the nova service user."""

    def service_value(self, server):
        km = key_manager.API(CONF)
        value = km.get(self.key_manager.service_context(),
                       self.secret_uuid(server)).get_encoded()
        self.secret_values.append(value)
        return value

    def live_migrate_past_the_api(self, server, host='dest'):
        """What the API would do if nova 34 allowed it for this mode."""
        ctxt = nova_context.RequestContext(
            user_id='admin', project_id='admin-project',
            roles=['reader', 'member', 'admin'], is_admin=True)
        instance = objects.Instance.get_by_uuid(ctxt, server['id'])
        request_spec = objects.RequestSpec.get_by_instance_uuid(
            ctxt, server['id'])
        instance.task_state = task_states.MIGRATING
        instance.save(expected_task_state=[None])
        objects.InstanceAction.action_start(
            ctxt, server['id'], instance_actions.LIVE_MIGRATION,
            want_result=False)
        conductor_api.ComputeTaskAPI().live_migrate_instance(
            ctxt, instance, host, block_migration=False,
            disk_over_commit=None, request_spec=request_spec, async_=True)
        return self.wait_for_migration(
            server, 'live-migration', ('completed', 'error', 'failed'))

    def test_api_refuses_live_migration(self):
        server = self.boot_vtpm('deployment')
        err = self.assertRaises(
            client.OpenStackApiException, self.other_admin_api.
            post_server_action, server['id'],
            {'os-migrateLive': {'host': 'dest', 'block_migration': 'auto'}})
        self.assertEqual(400, err.response.status_code)

    def test_driver_side_of_live_migration(self):
        server = self.boot_vtpm('deployment')
        value = self.service_value(server)
        secret_uuid = self.secret_uuid(server)

        migration = self.live_migrate_past_the_api(server)

        self.assert_migrated(server, 'src', 'dest', migration)
        self.assert_no_value_crossed_rpc(server)
        # Defined for the incoming guest (the stub checks it), then
        # undefined as nova does for non-host modes once the guest runs.
        self.assert_no_secret_on('dest', server)
        removed = self.driver('dest')._host.get_connection()._removed_secrets
        self.assertEqual(value, removed[secret_uuid]._value)
        self.assertTrue(removed[secret_uuid]._private)

    def test_cold_migration_by_other_project_admin(self):
        server = self.boot_vtpm('deployment')
        self.service_value(server)

        self.other_admin_api.post_server_action(
            server['id'], {'migrate': {'host': 'dest'}})
        migration = self.wait_for_migration(
            server, 'migration', ('finished', 'error', 'failed'))

        self.assertEqual('finished', migration['status'])
        self.assertIn(server['id'], self.domains_on('dest'))
        self.assert_no_secret_on('dest', server)


class LeakTest(VTPMTestBase):
    """A refused check never carries the value into nova's error reports.

    nova's @wrap_exception sends a legacy error notification whose ``args``
    hold the migrate data, and records an instance fault.
    """

    def refuse(self, host, hook):
        def refused(*args, **kwargs):
            raise exception.DiskInfoInvalid(detail='refused by this test')
        guard = self.driver(host)._disk
        if hook == 'pre_live_migration':
            @contextlib.contextmanager
            def reservation(*args, **kwargs):
                refused()
                yield
            self.useFixture(fixtures.MockPatchObject(
                guard, 'pre_live_migration', reservation))
        else:
            self.useFixture(fixtures.MockPatchObject(
                guard, 'check_can_live_migrate_source', refused))

    def error_notifications(self, event_type):
        found = [n for n in self.notifier.notifications
                 if n.event_type == event_type and n.priority == 'ERROR']
        self.assertTrue(found, [n.event_type
                                for n in self.notifier.notifications])
        return found

    def test_source_check_refused_after_nova_added_the_value(self):
        server = self.boot_vtpm('host')
        value = self.barbican_value(server)
        self.refuse('src', 'check_can_live_migrate_source')

        migration = self.live_migrate_as(self.other_admin_api, server)

        self.assertEqual('error', migration['status'])
        self.error_notifications('check_can_live_migrate_source')
        self.assert_secret_on('src', server, value)
        # The scan at cleanup covers the notification, faults and logs.

    def test_pre_live_migration_refused_with_the_rpc_transport(self):
        self.flags(vtpm_secret_transport='rpc', group='xloud')
        server = self.boot_vtpm('host')
        value = self.barbican_value(server)
        self.refuse('dest', 'pre_live_migration')

        migration = self.live_migrate_as(self.other_admin_api, server)

        self.assertIn(migration['status'], ('error', 'failed'))
        self.error_notifications('pre_live_migration')
        server = self._wait_for_state_change(server, 'ACTIVE')
        self.assert_no_secret_on('dest', server)
        places = self.places()
        # With rpc the value crosses RPC by design (upstream behaviour) and
        # nova 34 logs it at DEBUG; nowhere else.
        del places['migrate data over RPC'], places['logs']
        for where, text in places.items():
            self.assertFalse(value.decode() in text,
                             'the vTPM secret value is in the %s' % where)
        self.secret_values.remove(value)


class GrantLifecycleTest(VTPMTestBase):
    """The nova service user's read grant follows ``host`` mode."""

    def service_can_read(self, server):
        km = keymgr.KeyManager(CONF)
        try:
            km.read(self.key_manager.service_context(),
                    self.secret_uuid(server))
        except keymgr.KeyManagerReadError as e:
            self.assertEqual(keymgr.FORBIDDEN, e.outcome)
            return False
        return True

    def vtpm_flavor(self, security):
        return self._create_flavor(extra_spec={
            'hw:tpm_model': 'tpm-crb', 'hw:tpm_version': '2.0',
            'hw:tpm_secret_security': security})

    def resize_as_owner(self, server, flavor_id):
        self.user_api.post_server_action(
            server['id'], {'resize': {'flavorRef': flavor_id}})
        return self._wait_for_state_change(server, 'VERIFY_RESIZE')

    def test_host_to_user_resize_revokes_and_revert_grants_again(self):
        server = self.boot_vtpm('host')
        self.barbican_value(server)
        self.assertTrue(self.service_can_read(server))

        server = self.resize_as_owner(server, self.vtpm_flavor('user'))

        # Same secret, now 'user' mode: only the owner may read it.
        self.assertFalse(self.service_can_read(server))
        self.user_api.post_server_action(server['id'],
                                         {'revertResize': None})
        self.wait_for_migration(server, 'resize', ('reverted',))
        self.notifier.wait_for_versioned_notifications(
            'instance.resize_revert.end')
        self.assertTrue(self.service_can_read(server))


class SameHostRevertTest(VTPMTestBase):
    """A same-host resize revert needs no key manager, as in stock nova."""

    def boot_vtpm(self, security, host='src'):
        # One compute: the resize stays on it.
        extra_specs = {'hw:tpm_model': 'tpm-crb', 'hw:tpm_version': '2.0',
                       'hw:tpm_secret_security': security}
        server = self._create_server(
            flavor_id=self._create_flavor(extra_spec=extra_specs),
            networks='none', api=self.user_api)
        self.servers.append(server)
        return server

    def test_revert_keeps_the_secret_while_barbican_is_down(self):
        self.flags(allow_resize_to_same_host=True)
        server = self.boot_vtpm('host')
        value = self.barbican_value(server)
        bigger = self._create_flavor(memory_mb=4096, extra_spec={
            'hw:tpm_model': 'tpm-crb', 'hw:tpm_version': '2.0',
            'hw:tpm_secret_security': 'host'})
        self.user_api.post_server_action(
            server['id'], {'resize': {'flavorRef': bigger}})
        server = self._wait_for_state_change(server, 'VERIFY_RESIZE')
        self.assertEqual('src', server['OS-EXT-SRV-ATTR:host'])
        self.break_barbican_endpoint()

        self.user_api.post_server_action(server['id'],
                                         {'revertResize': None})
        self.wait_for_migration(server, 'resize', ('reverted', 'error'))
        server = self._wait_for_state_change(server, 'ACTIVE')

        self.assertIn(server['id'], self.domains_on('src'))
        self.assert_secret_on('src', server, value)


class OrphanSecretTest(VTPMTestBase):
    """Secrets defined for a guest that never arrived do not stay."""

    def test_source_died_after_pre_live_migration(self):
        server = self.boot_vtpm('host')
        value = self.barbican_value(server)
        guard = self.driver('dest')._vtpm
        instance = self.instance(server)
        data = objects.LibvirtLiveMigrateData(
            vtpm_secret_uuid=self.secret_uuid(server),
            vtpm_secret_value=None)
        # As far as the destination got before its source died.
        with guard.pre_live_migration(self.owner_context(), instance, data):
            pass
        self.assert_secret_on('dest', server, value)

        self.computes['dest'].manager.update_available_resource(
            nova_context.get_admin_context())

        # The instance never left 'src' and is not migrating any more.
        self.assert_no_secret_on('dest', server)
        self.assert_secret_on('src', server, value)


class MixedComputesTest(VTPMTestBase):
    """Rolling install: stock nova and Xloud computes in one cloud."""

    COMPUTES = ()

    def start_kind(self, hostname, kind):
        driver = {'stock': 'libvirt.LibvirtDriver',
                  'xloud': 'xloud.XloudLibvirtDriver'}[kind]
        self.flags(compute_driver=driver)
        # Not our base's start_compute: it insists on our driver.
        super(base.XloudMigrationTestBase, self).start_compute(
            hostname=hostname, host_info=self.host_info(hostname))
        self.assertEqual(kind == 'xloud', isinstance(
            self.driver(hostname), xloud_driver.XloudLibvirtDriver))

    def boot_on(self, source_kind, dest_kind, security='host'):
        self.start_kind('src', source_kind)
        server = self._boot_only(security)
        self.start_kind('dest', dest_kind)
        return server

    def _boot_only(self, security):
        extra_specs = {'hw:tpm_model': 'tpm-crb', 'hw:tpm_version': '2.0',
                       'hw:tpm_secret_security': security}
        server = self._create_server(
            flavor_id=self._create_flavor(extra_spec=extra_specs),
            networks='none', api=self.user_api)
        self.assertEqual('src', self.admin_api.get_server(server['id'])[
            'OS-EXT-SRV-ATTR:host'])
        self.servers.append(server)
        return server

    def resize_as_owner(self, server):
        flavor = self._create_flavor(memory_mb=4096, extra_spec={
            'hw:tpm_model': 'tpm-crb', 'hw:tpm_version': '2.0',
            'hw:tpm_secret_security': 'host'})
        self.user_api.post_server_action(
            server['id'], {'resize': {'flavorRef': flavor}})
        server = self._wait_for_state_change(server, 'VERIFY_RESIZE')
        self.assertEqual('dest', server['OS-EXT-SRV-ATTR:host'])
        self.user_api.post_server_action(server['id'],
                                         {'confirmResize': None})
        self.wait_for_migration(server, 'resize', ('confirmed',))
        return self._wait_for_state_change(server, 'ACTIVE')

    def test_live_stock_source_to_xloud_destination(self):
        # Created before the install: no grant for the nova service user.
        server = self.boot_on('stock', 'xloud')
        value = self.barbican_value(server)
        reads = self.count_key_manager_reads()

        migration = self.live_migrate_as(self.other_admin_api, server)

        self.assert_migrated(server, 'src', 'dest', migration)
        self.assert_secret_on('dest', server, value)
        self.assertEqual([], reads)
        # A stock source sends the value over RPC, as it always did.
        self.secret_values.remove(value)

    def test_live_xloud_source_to_stock_destination(self):
        server = self.boot_on('xloud', 'stock')
        value = self.barbican_value(server)

        migration = self.live_migrate_as(self.other_admin_api, server)

        self.assert_migrated(server, 'src', 'dest', migration)
        self.assert_secret_on('dest', server, value)
        # The stock destination did not announce a key-manager read: our
        # source sent the value, as stock nova does.
        values = [d['nova_object.data'].get('vtpm_secret_value')
                  for d in self.migrate_data_seen]
        self.assertIn(value.decode(), values)
        self.secret_values.remove(value)

    def test_cold_stock_source_to_xloud_destination(self):
        server = self.boot_on('stock', 'xloud')
        value = self.barbican_value(server)

        server = self.resize_as_owner(server)

        self.assertIn(server['id'], self.domains_on('dest'))
        self.assert_secret_on('dest', server, value)

    def test_cold_xloud_source_to_stock_destination(self):
        server = self.boot_on('xloud', 'stock')
        value = self.barbican_value(server)

        server = self.resize_as_owner(server)

        self.assertIn(server['id'], self.domains_on('dest'))
        self.assert_secret_on('dest', server, value)
        self.assert_no_secret_on('src', server)
