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

import os

import fixtures

from xloud_harness import testing

from xloud_migration_cloud.real import figures

UUID = '0653e18c-9c7f-4399-bfbf-47744e882d17'
LINE = ('2026-12-06 05:03:30.101 3033 INFO xloud_nova_ext.virt.libvirt.'
        'migration_stats [req-1 - - - - - -] xloud-migration-stats '
        'instance=%s destination=xlc-b qemu_total_ms=2210 '
        'qemu_downtime_ms=%s qemu_setup_ms=12 qemu_transferred_bytes=1000 '
        'qemu_memory_bytes=900 qemu_disk_bytes=0 qemu_memory_iterations=3\n')


class FiguresTest(testing.TestCase):

    def test_parse_reads_every_figure(self):
        got = figures.parse(LINE % (UUID, 41))
        self.assertEqual(41, got['qemu_downtime_ms'])
        self.assertEqual(2210, got['qemu_total_ms'])
        self.assertEqual(UUID, got['instance'])
        self.assertEqual('xlc-b', got['destination'])

    def test_unknown_is_none_and_other_lines_are_not_figures(self):
        self.assertIsNone(figures.parse(LINE % (UUID, 'unknown'))[
            'qemu_downtime_ms'])
        self.assertIsNone(figures.parse('INFO nova.compute.manager Took '
                                        '2.21 seconds to migrate'))

    def test_last_line_of_that_instance_counts(self):
        log = os.path.join(self.useFixture(fixtures.TempDir()).path, 'log')
        other = '9b7c7a36-2d7d-4d2c-9a4e-0c6f4f3f7c11'
        with open(log, 'w') as f:
            f.write(LINE % (UUID, 40) + LINE % (UUID, 55) +
                    LINE % (other, 9))
        self.assertEqual(55, figures.for_instance(log, UUID)[
            'qemu_downtime_ms'])
        self.assertIsNone(figures.for_instance(log, 'no-such-server'))
        self.assertIsNone(figures.for_instance(log + '.gone', UUID))
