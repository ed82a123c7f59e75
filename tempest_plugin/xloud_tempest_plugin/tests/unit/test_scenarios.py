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

"""The scenarios' own code paths, run against the fake nova.

Everything below the scenario's _test_* helper is real (the base class's
migrate, wait and verify helpers, tempest's waiters and clients); only
booting a server and the credentials are stood in for.
"""

from unittest import mock

import fixtures
from oslo_serialization import jsonutils as json

from tempest.lib import decorators

from xloud_tempest_plugin.api.compute import base as scenario_base
from xloud_tempest_plugin.api.compute import test_cold_migration as cold
from xloud_tempest_plugin.api.compute import test_drain_host as drain
from xloud_tempest_plugin.api.compute import test_live_migration as live
from xloud_tempest_plugin.api.compute import \
    test_migration_safeguards_negative as negative
from xloud_tempest_plugin.api.compute import test_vtpm_live_migration as vtpm
from xloud_tempest_plugin.common import exceptions
from xloud_tempest_plugin.common import verify
from xloud_tempest_plugin.tests.unit import base
from xloud_tempest_plugin.tests.unit import fake_nova
from xloud_tempest_plugin.tests.unit import test_base

CONSOLE = '[    0.000000] Linux version 6.1.0 #1 SMP\nvm login: '
CPU_REFUSAL = ('[xloud.cpu.incompatible] Destination host cmp3 cannot run '
               'the guest CPU.')


class ScenarioFlowTest(base.TestCase):

    def setUp(self):
        super().setUp()
        self.nova = self.useFixture(fake_nova.FakeNova())
        self.servers, self.migrations = self.nova.clients(build_interval=0)
        self.services = test_base.FakeServicesClient(*self.nova.hosts)

    def scenario(self, cls, test_name):
        """A scenario instance wired to the fake nova."""
        # resource_setup sets these on the class; so does this, for a test.
        attrs = {
            'admin_servers_client': self.servers,
            'admin_migrations_client': self.migrations,
            'admin_services_client': self.services,
            'migration_timeout': 10,
            'verifier': verify.MigrationVerifier(
                self.servers, self.migrations,
                failure_patterns=['Kernel panic'],
                boot_marker=r'Linux version \d'),
        }
        for name, value in attrs.items():
            self.useFixture(fixtures.MockPatchObject(cls, name, value,
                                                     create=True))
        test = cls(test_name)
        test.create_guest = self._create_guest
        test.get_host_other_than = lambda server_id: 'cmp2'
        test.seconds_left = lambda: 3600
        self.booted = []
        return test

    def _create_guest(self, host=None, flavor=None, clients=None):
        server_id = self.nova.add_server(host or 'cmp1')
        self.nova.set_console(server_id, CONSOLE)
        self.booted.append((server_id, host, clients))
        return scenario_base.Guest(self.nova.servers[server_id], clients)

    def reports(self, test):
        return [json.loads(''.join(t.decode() for t in d.iter_bytes()))
                for name, d in sorted(test.getDetails().items())
                if name.startswith('xloud-migration-')]

    def host_of(self, server_id):
        return self.nova.servers[server_id]['OS-EXT-SRV-ATTR:host']


class TestLiveMigrationFlow(ScenarioFlowTest):

    @decorators.idempotent_id('9547631f-9972-4e5e-b092-e104c279c8ad')
    def test_to_requested_host(self):
        test = self.scenario(live.BlockLiveMigrationTest,
                             'test_live_migration_to_requested_host')
        test._test_live_migration(request_host=True)
        [report] = self.reports(test)
        self.assertEqual(('cmp1', 'cmp2', 'cmp2'),
                         (report['source_host'], report['requested_host'],
                          report['host']))
        self.assertEqual(['completed'], list(report['timings']))
        self.assertIsNotNone(report['seconds'])
        self.assertEqual([{'host': 'cmp2', 'block_migration': True}],
                         [args for _, action, args
                          in self.nova.actions_requested
                          if action == 'os-migrateLive'])

    @decorators.idempotent_id('ee3ef1e0-914f-4f50-b0bf-5cc7dc2964ae')
    def test_scheduler_picks_and_back_and_forth(self):
        self.flags('compute-feature-enabled',
                   live_migrate_back_and_forth=True)
        test = self.scenario(live.LiveMigrationTest,
                             'test_live_migration_scheduler_picks_host')
        test._test_live_migration(request_host=False)
        there, back = self.reports(test)
        self.assertIsNone(there['requested_host'])
        self.assertEqual('cmp2', there['host'])
        self.assertEqual('cmp1', back['host'])

    @decorators.idempotent_id('148c0c40-fd81-44f4-b08a-b20c75a07bc5')
    def test_a_failed_migration_fails_with_evidence(self):
        self.nova.refusals['cmp2'] = '[xloud.disk.insufficient] full'
        test = self.scenario(live.BlockLiveMigrationTest,
                             'test_live_migration_to_requested_host')
        e = self.assertRaises(exceptions.MigrationFailed,
                              test._test_live_migration, request_host=True)
        self.assertIn('ended error, expected completed', str(e))
        self.assertIn('[xloud.disk.insufficient] full', str(e))


class TestColdMigrationFlow(ScenarioFlowTest):

    @decorators.idempotent_id('e83e6f1a-af75-466f-a8bf-8ef4554f2643')
    def test_confirmed(self):
        test = self.scenario(cold.ColdMigrationTest,
                             'test_cold_migration_confirmed')
        test._test_cold_migration(revert=False)
        [report] = self.reports(test)
        self.assertEqual('cmp2', report['host'])
        self.assertEqual('confirmed', report['migration']['status'])
        self.assertEqual(['finished', 'confirmed'], list(report['timings']))

    @decorators.idempotent_id('be7d7cc7-9082-4842-9946-2c940d444645')
    def test_reverted(self):
        self.flags('compute', migration_dest_host='cmp3')
        test = self.scenario(cold.ColdMigrationTest,
                             'test_cold_migration_reverted')
        test._test_cold_migration(revert=True)
        [report] = self.reports(test)
        self.assertEqual('cmp1', report['host'])
        self.assertEqual('cmp3', report['migration']['dest_compute'])
        self.assertEqual('reverted', report['migration']['status'])


class TestDrainFlow(ScenarioFlowTest):

    @decorators.idempotent_id('15231c2d-be07-4f77-a93c-5b827068aace')
    def test_drain(self):
        test = self.scenario(drain.DrainHostTest, 'test_drain_host')
        test._test_drain_host(3)
        reports = self.reports(test)
        self.assertEqual(3, len(reports))
        for report in reports:
            self.assertEqual('cmp1', report['source_host'])
            self.assertNotEqual('cmp1', report['host'])
        self.assertEqual(
            ['disabled', 'enabled'],
            [kwargs['status'] for _, kwargs in self.services.updates])


class TestRefusalFlow(ScenarioFlowTest):

    def _refuse(self, code='xloud.cpu.incompatible'):
        test = self.scenario(
            negative.CPUIncompatibleDestinationTest,
            'test_live_migration_to_cpu_incompatible_host_refused')
        test._test_refused_live_migration(source='cmp1', dest='cmp3',
                                          flavor=None, code=code)
        return test

    @decorators.idempotent_id('81d1dd22-09e4-4077-bba6-47e191c42236')
    def test_refused_with_its_code(self):
        self.nova.refusals['cmp3'] = CPU_REFUSAL
        [report] = self.reports(self._refuse())
        self.assertEqual('cmp1', report['host'])
        self.assertEqual('error', report['migration']['status'])
        self.assertIn(CPU_REFUSAL, report['refusal']['details'])

    @decorators.idempotent_id('44833aea-325e-4b99-9b3a-6feed6c8a24b')
    def test_refused_for_another_reason_fails(self):
        self.nova.refusals['cmp3'] = "CPU doesn't have compatibility."
        self.assertRaises(exceptions.VerificationFailed, self._refuse)

    @decorators.idempotent_id('5dc33b1d-7394-49ae-97df-0f7a687e82b2')
    def test_accepted_migration_fails(self):
        e = self.assertRaises(exceptions.MigrationFailed, self._refuse)
        self.assertIn('ended completed, expected error', str(e))

    @decorators.idempotent_id('904971da-bd4c-4b18-8d4b-a008cccca990')
    def test_same_source_and_destination_skip(self):
        test = self.scenario(negative.DiskFullDestinationTest,
                             'test_block_migration_to_host_without_disk_'
                             'room_refused')
        self.assertRaises(test.skipException,
                          test._test_refused_live_migration, source='cmp3',
                          dest='cmp3', flavor=None, code='x')


class TestConcurrentBlockMigrationFlow(ScenarioFlowTest):

    REFUSAL = ('[xloud.disk.insufficient] The disks of this block migration '
               'do not fit on host cmp3: 256.0 MiB needed, 169.0 MiB '
               'available; 1 block migration(s) in flight there hold 271.0 '
               'MiB. Fix: Retry once those have finished. Free at least ...')

    def setUp(self):
        super().setUp()
        self.flags('xloud_migration', concurrent_block_dest_host='cmp3',
                   concurrent_block_source_host='cmp1')
        self.test = self.scenario(
            negative.ConcurrentBlockMigrationTest,
            'test_second_block_migration_refused_while_first_copies')

    def _run(self):
        self.test.test_second_block_migration_refused_while_first_copies()

    @decorators.idempotent_id('24ba7776-6af8-4c67-a9fd-7182b179b5e2')
    def test_one_completes_the_other_refused_then_moves(self):
        self.nova.room_for_one['cmp3'] = self.REFUSAL
        self._run()
        first, second = [s for s, _, _ in self.booted]
        reports = self.reports(self.test)
        self.assertEqual(3, len(reports))
        refused = [r for r in reports if r['refusal']]
        self.assertEqual([second], [r['server'] for r in refused])
        self.assertEqual('cmp1', refused[0]['host'])
        self.assertEqual('cmp3', self.host_of(first))
        self.assertEqual('cmp3', self.host_of(second))
        self.assertEqual(
            [(first, {'host': 'cmp3', 'block_migration': True}),
             (second, {'host': 'cmp3', 'block_migration': True}),
             (second, {'host': 'cmp3', 'block_migration': True})],
            [(server, args) for server, action, args
             in self.nova.actions_requested if action == 'os-migrateLive'])

    @decorators.idempotent_id('abe919b4-fabb-40fa-b9a9-bcc922956ab9')
    def test_both_accepted_fails(self):
        # What a destination that does not reserve does.
        e = self.assertRaises(exceptions.MigrationFailed, self._run)
        self.assertIn('ended completed, expected error', str(e))

    @decorators.idempotent_id('c7cc833e-7e5e-4ef3-9a22-61689041ec5a')
    def test_refused_without_naming_the_migration_in_flight_fails(self):
        self.nova.room_for_one['cmp3'] = '[xloud.disk.insufficient] full'
        e = self.assertRaises(exceptions.VerificationFailed, self._run)
        self.assertIn("does not say 'block migration(s) in flight there'",
                      str(e))


class TestDrainDeadline(ScenarioFlowTest):
    """The drain's waits fit in the per-test timeout."""

    def setUp(self):
        super().setUp()
        self.test = self.scenario(drain.DrainHostTest, 'test_drain_host')
        self.test.migration_timeout = 600

    @decorators.idempotent_id('d5bd5151-7c19-41c1-a90f-69e93c13043a')
    def test_time_enough_keeps_the_migration_timeout(self):
        self.test.seconds_left = lambda: 3600
        self.assertEqual(600, self.test._migration_wait(2))

    @decorators.idempotent_id('c9211e48-abd7-4fff-ac86-384364eaa47a')
    def test_the_waits_share_what_is_left(self):
        # tempest's default OS_TEST_TIMEOUT in gate jobs: 1200 s.
        self.test.seconds_left = lambda: 1100
        wait = self.test._migration_wait(2)
        # 1100 - 120 cleanup - 2 * (30 + 10) verification, in two.
        self.assertEqual(450, wait)
        self.assertLess(2 * wait + 120 + 2 * 40, 1100 + 1)

    @decorators.idempotent_id('e7ef9b1c-e9b5-4568-9ac8-99eacdde8115')
    def test_no_time_left_fails_with_the_reason(self):
        self.test.seconds_left = lambda: 150
        e = self.assertRaises(self.test.failureException,
                              self.test._migration_wait, 1)
        self.assertIn('no time to drain 1 more server(s)', str(e))

    @decorators.idempotent_id('008653f0-0cea-408e-838d-afaee1f011a3')
    def test_no_per_test_timeout(self):
        self.test.seconds_left = lambda: None
        self.assertEqual(600, self.test._migration_wait(5))


class FakeSecrets(object):
    """Barbican as one user sees it: list by name, read a payload."""

    def __init__(self, secrets=(), payload_status=200):
        self.secrets = list(secrets)
        self.payload_status = payload_status
        self.read = []

    def SecretsClient(self):
        return self

    def list_secrets(self, name):
        return {'secrets': [s for s in self.secrets if s['name'] == name]}

    def read_payload_status(self, secret_uuid):
        self.read.append(secret_uuid)
        return self.payload_status


class TestVTPMFlow(ScenarioFlowTest):

    SECRET_UUID = '6d3f3a34-8c50-4b8b-9d37-7c1ed1c2c2a1'

    def _test(self, admin_status, placed=None):
        self.flags('compute', migration_source_host='cmp1',
                   migration_dest_host='cmp2')
        self.flags('xloud_migration', vtpm_flavor='vtpm')
        test = self.scenario(vtpm.VTPMLiveMigrationTest,
                             'test_vtpm_live_migration_keeps_secret')
        owner = mock.Mock(xloud_key_manager=FakeSecrets())
        admin = mock.Mock(xloud_key_manager=FakeSecrets(
            payload_status=admin_status))
        test.os_primary, test.os_admin = owner, admin

        def create_guest(**kwargs):
            guest = self._create_guest(**kwargs)
            if placed:
                self.nova.move_server(guest.id, placed)
            owner.xloud_key_manager.secrets.append({
                'name': 'vTPM secret for instance %s' % guest.id,
                'status': 'ACTIVE',
                'secret_ref': 'http://kc/v1/secrets/' + self.SECRET_UUID})
            return guest
        test.create_guest = create_guest
        test._test_vtpm_live_migration('cmp2')
        return test, admin

    @decorators.idempotent_id('c4042521-b1eb-483b-bb2d-c635ea2cbc02')
    def test_user_boots_admin_cannot_read_admin_migrates(self):
        test, admin = self._test(admin_status=403)
        [(server_id, host, clients)] = self.booted
        self.assertIsNone(host)
        self.assertIs(test.os_primary, clients)
        self.assertEqual([self.SECRET_UUID], admin.xloud_key_manager.read)
        [report] = self.reports(test)
        self.assertEqual(('cmp1', 'cmp2'),
                         (report['source'], report['destination']))
        self.assertEqual('cmp2', self.host_of(server_id))

    @decorators.idempotent_id('da011226-47a3-46d8-b012-d76561d95645')
    def test_placed_elsewhere_goes_to_the_source_first(self):
        # Only an admin may boot on a host: the user's guest is moved there.
        test, _admin = self._test(admin_status=403, placed='cmp3')
        first, second = self.reports(test)
        self.assertEqual([('cmp3', 'cmp1'), ('cmp1', 'cmp2')],
                         [(r['source'], r['destination'])
                          for r in (first, second)])

    @decorators.idempotent_id('562e0d57-f3b8-49c8-81ef-771c0189a5de')
    def test_admin_reading_the_payload_fails(self):
        e = self.assertRaises(AssertionError, self._test, admin_status=200)
        self.assertIn('The admin (another project) read the vTPM secret',
                      str(e))
        self.assertEqual([], [a for a in self.nova.actions_requested
                              if a[1] == 'os-migrateLive'])
