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

"""QEMU's figures of a real live migration, as the driver logs them.

The driver's MigrationStats runs on host A's real connection, with libvirt's
event loop running as nova's Host runs it (a native thread, registered
before the connection opens); a real peer-to-peer live migration to B then
gives the line its figures. Not covered here: nova's control plane (the
functional tier runs the hooks through nova).
"""

import logging
import os
import threading

import fixtures
from nova import objects
from nova.objects import migrate_data as migrate_data_obj
from testtools import content

from xloud_harness import guests
from xloud_harness import nova_host

from xloud_nova_ext.tests.admin_guide import shell_blocks
from xloud_nova_ext.tests.integration import base
from xloud_nova_ext.virt.libvirt import migration_stats

try:
    import libvirt
except ImportError:  # base.IntegrationTestCase reports it
    libvirt = None

_event_loop = None


def run_event_loop():
    """libvirt's default event loop on a native thread, once per process.

    As nova's Host does: connections opened afterwards deliver events.
    """
    global _event_loop
    if _event_loop is None:
        libvirt.virEventRegisterDefaultImpl()

        def loop():
            while True:
                libvirt.virEventRunDefaultImpl()
        _event_loop = threading.Thread(target=loop, daemon=True,
                                       name='libvirt-events')
        _event_loop.start()


class MigrationStatsTest(base.IntegrationTestCase):

    def setUp(self):
        super().setUp()
        objects.register_all()
        run_event_loop()
        self.log = self.useFixture(fixtures.FakeLogger(
            name=migration_stats.__name__, level=logging.INFO,
            format='%(levelname)s %(message)s'))
        self.conn = self.open(self.a)
        self.stats = migration_stats.MigrationStats(
            nova_host.LibvirtHost(self.conn))

    def migrate_data(self):
        return migrate_data_obj.LibvirtLiveMigrateData(
            migration=objects.Migration(dest_compute=self.b.name))

    def lines(self):
        return [line for line in self.log.output.splitlines()
                if migration_stats.PREFIX in line]

    def test_real_live_migration_logs_qemu_figures(self):
        dom = guests.start_guest(self.conn, guests.domain_xml('stats-live'))
        instance = objects.Instance(uuid=dom.UUIDString())

        self.stats.live_migration(instance)
        guests.live_migrate(dom, self.b)
        self.stats.post_live_migration(instance, self.migrate_data())

        self.assertTrue(self.open(self.b).lookupByName(
            'stats-live').isActive())
        lines = self.lines()
        self.assertEqual(1, len(lines), self.log.output)
        self.assertTrue(lines[0].startswith('INFO xloud-migration-stats '),
                        lines[0])
        figures = migration_stats.parse_line(lines[0])
        self.addDetail('figures', content.text_content(lines[0]))
        self.assertEqual(instance.uuid, figures['instance'])
        self.assertEqual(self.b.name, figures['destination'])
        self.assertGreater(figures['qemu_total_ms'], 0)
        self.assertIsNotNone(figures['qemu_downtime_ms'])
        self.assertLessEqual(figures['qemu_downtime_ms'],
                             figures['qemu_total_ms'])
        # A 128 MiB guest: mostly zero pages, but some pages move.
        self.assertGreater(figures['qemu_transferred_bytes'], 0)
        self.assertGreaterEqual(figures['qemu_memory_iterations'], 1)
        self.assertEqual(0, figures['qemu_disk_bytes'])

        # The verification page's grep, on a log with this line as
        # nova-compute writes it (its default format) in place of the
        # host's /var/log/nova/nova-compute.log.
        log = os.path.join(self.useFixture(fixtures.TempDir()).path,
                           'nova-compute.log')
        with open(log, 'w') as f:
            f.write('2026-12-06 11:00:00.000 4242 INFO nova.compute.manager '
                    '[-] Migrating instance to %s finished successfully.\n'
                    '2026-12-06 11:00:00.100 4242 INFO %s [-] %s\n' % (
                        self.b.name, migration_stats.__name__,
                        lines[0].split(' ', 1)[1]))
        b = shell_blocks.block('admin/verification.rst',
                               "grep -h 'xloud-migration-stats'")
        proc = shell_blocks.bash('\n'.join(b.commands).replace(
            '/var/log/nova/nova-compute.log', log), '/')
        self.assertEqual(0, proc.returncode, proc.stderr)
        self.assertEqual('qemu_downtime_ms=%d' % figures['qemu_downtime_ms'],
                         proc.stdout.strip())

    def test_failed_migration_gives_no_figures(self):
        # B already has a guest of that name: libvirt refuses the incoming
        # one, the source keeps running and sends no completed job.
        self.useFixture(fixtures.MonkeyPatch(
            migration_stats.__name__ + '.EVENT_WAIT', 0.5))
        dom = guests.start_guest(self.conn, guests.domain_xml('stats-fail'))
        self.open(self.b).defineXML(guests.domain_xml('stats-fail'))
        instance = objects.Instance(uuid=dom.UUIDString())

        self.stats.live_migration(instance)
        self.assertRaises(libvirt.libvirtError, guests.live_migrate, dom,
                          self.b)
        self.stats.post_live_migration(instance, self.migrate_data())

        self.assertTrue(dom.isActive())
        self.assertEqual([], self.lines())
        self.assertIn('WARNING QEMU migration statistics are not available',
                      self.log.output)
