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

"""QEMU's figures of a live migration, logged on the source through nova.

nova's flow is real (API, conductor, both computes, the source's monitor
and post-migration steps). The edge faked is libvirt's: fakelibvirt stores
our event callback as libvirt would but never sends the job-completed event,
so the migration stand-in sends it from the source connection, with figures
as real libvirt sent them for a 128 MiB guest (the integration tier checks a
real one), before returning, as libvirt does.
"""

import fixtures

from xloud_nova_ext.tests.functional import base
from xloud_nova_ext.virt.libvirt import migration_stats

#: What libvirt 9.0 sent for a real 128 MiB TCG guest (integration host A).
EVENT = {'operation': 5, 'time_elapsed': 349, 'time_elapsed_net': 348,
         'downtime': 14, 'downtime_net': 13, 'setup_time': 1,
         'data_total': 134610944, 'data_processed': 725781,
         'data_remaining': 0, 'memory_processed': 725781,
         'memory_iteration': 2, 'disk_processed': 0}


class MigrationStatsTest(base.XloudMigrationTestBase):

    def setUp(self):
        super().setUp()
        # What the harness's libvirt sends the source when a migration
        # completes.
        self.completed_job = dict(EVENT)
        self.migration_fails = False

    def _migrate_stub(self, domain, destination, params, flags):
        if self.migration_fails:
            # As nova's own tests fail a job: libvirt reports it failed,
            # the guest stays on the source, no completed-job event.
            domain.fail_job()
            return
        super()._migrate_stub(domain, destination, params, flags)

    def stats_lines(self):
        return [line for line in self.stdlog.logger.output.splitlines()
                if migration_stats.PREFIX + ' ' in line]

    def test_completed_live_migration_logs_one_line_on_the_source(self):
        server = self.boot('src')

        migration = self.live_migrate(server, host='dest')

        self.assert_migrated(server, 'src', 'dest', migration)
        lines = self.stats_lines()
        self.assertEqual(1, len(lines), lines)
        self.assertIn('INFO [xloud_nova_ext.virt.libvirt.migration_stats] '
                      'xloud-migration-stats instance=', lines[0])
        self.assertEqual({
            'instance': server['id'], 'destination': 'dest',
            'qemu_total_ms': 349, 'qemu_downtime_ms': 14,
            'qemu_setup_ms': 1, 'qemu_transferred_bytes': 725781,
            'qemu_memory_bytes': 725781, 'qemu_disk_bytes': 0,
            'qemu_memory_iterations': 2},
            migration_stats.parse_line(lines[0]))

    def test_each_migration_logs_its_own_figures(self):
        server = self.boot('src')
        self.live_migrate(server, host='dest')
        self.completed_job['downtime'] = 21

        migration = self.live_migrate(server, host='src')

        self.assert_migrated(server, 'dest', 'src', migration)
        figures = [migration_stats.parse_line(line)
                   for line in self.stats_lines()]
        self.assertEqual([('dest', 14), ('src', 21)],
                         [(f['destination'], f['qemu_downtime_ms'])
                          for f in figures])

    def test_no_event_is_a_warning_and_the_migration_completes(self):
        self.completed_job = None
        self.useFixture(_short_wait())
        server = self.boot('src')

        migration = self.live_migrate(server, host='dest')

        self.assert_migrated(server, 'src', 'dest', migration)
        self.assertEqual([], self.stats_lines())
        self.assertIn('WARNING [xloud_nova_ext.virt.libvirt.migration_stats]'
                      ' QEMU migration statistics are not available for '
                      'this live migration (libvirt sent no completed-job '
                      'event', self.stdlog.logger.output)

    def test_event_of_another_operation_is_not_a_migration(self):
        # A save or snapshot job completing on the source is not ours.
        self.completed_job['operation'] = 2
        self.useFixture(_short_wait())
        server = self.boot('src')

        migration = self.live_migrate(server, host='dest')

        self.assert_migrated(server, 'src', 'dest', migration)
        self.assertEqual([], self.stats_lines())

    def test_failed_migration_logs_no_figures(self):
        self.migration_fails = True
        server = self.boot('src')

        migration = self.live_migrate(server, host='dest')

        self.assertEqual('failed', migration['status'], migration)
        server = self._wait_for_state_change(server, 'ACTIVE')
        self.assertEqual('src', server['OS-EXT-SRV-ATTR:host'])
        self.assertEqual([], self.stats_lines())


def _short_wait():
    return fixtures.MonkeyPatch(
        'xloud_nova_ext.virt.libvirt.migration_stats.EVENT_WAIT', 0.2)
