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

"""The statistics line and the event bookkeeping of MigrationStats.

libvirt's connection is the edge: a stand-in that records the callback and
lets a test send the event (real libvirt: the integration tier; through
nova: the functional tier).
"""

import logging

import fixtures
from nova import objects

from xloud_harness import testing

from xloud_nova_ext.virt.libvirt import migration_stats

UUID = '6a1c4a3e-0d0e-4a55-8d39-7e7f0c4b2f10'
EVENT = {'operation': 5, 'time_elapsed': 349, 'downtime': 14,
         'setup_time': 1, 'data_processed': 725781,
         'memory_processed': 725781, 'disk_processed': 0,
         'memory_iteration': 2}


class FakeConnection(object):

    def __init__(self, fail=None):
        self.callbacks = []
        self.fail = fail

    def domainEventRegisterAny(self, dom, event_id, callback, opaque):
        if self.fail:
            raise self.fail
        self.callbacks.append((event_id, callback, opaque))

    def send(self, params, uuid=UUID):
        for _event_id, callback, opaque in self.callbacks:
            callback(self, FakeDomain(uuid), params, opaque)


class FakeDomain(object):

    def __init__(self, uuid):
        self.uuid = uuid

    def UUIDString(self):
        return self.uuid


class FakeHost(object):

    def __init__(self, conn):
        self.conn = conn

    def get_connection(self):
        return self.conn


class FormatTest(testing.TestCase):

    def test_line_has_every_figure_in_order(self):
        line = migration_stats.format_line(UUID, 'dest', EVENT)
        self.assertEqual(
            'xloud-migration-stats instance=%s destination=dest '
            'qemu_total_ms=349 qemu_downtime_ms=14 qemu_setup_ms=1 '
            'qemu_transferred_bytes=725781 qemu_memory_bytes=725781 '
            'qemu_disk_bytes=0 qemu_memory_iterations=2' % UUID, line)

    def test_unreported_or_odd_figures_are_unknown(self):
        line = migration_stats.format_line(
            UUID, None, {'time_elapsed': 5, 'downtime': -1,
                         'setup_time': 'x', 'data_processed': True})
        figures = migration_stats.parse_line('prefix ' + line)
        self.assertEqual('unknown', figures['destination'])
        self.assertEqual(5, figures['qemu_total_ms'])
        for key in ('qemu_downtime_ms', 'qemu_setup_ms',
                    'qemu_transferred_bytes', 'qemu_memory_iterations'):
            self.assertIsNone(figures[key], key)

    def test_only_named_figures_are_written(self):
        # Whatever else libvirt adds to the event never reaches the log.
        line = migration_stats.format_line(
            UUID, 'dest', dict(EVENT, secret_thing='s3cr3t'))
        self.assertNotIn('s3cr3t', line)

    def test_parse_rejects_other_lines(self):
        self.assertIsNone(migration_stats.parse_line('Migration completed'))
        self.assertIsNone(migration_stats.parse_line(
            'xloud-migration-stats instance=x qemu_total_ms=1'))


class MigrationStatsTest(testing.TestCase):

    def setUp(self):
        super().setUp()
        self.log = self.useFixture(fixtures.FakeLogger(
            name=migration_stats.__name__, level=logging.INFO,
            format='%(levelname)s %(message)s'))
        self.useFixture(fixtures.MonkeyPatch(
            migration_stats.__name__ + '.EVENT_WAIT', 0.1))
        self.conn = FakeConnection()
        self.host = FakeHost(self.conn)
        self.stats = migration_stats.MigrationStats(self.host)
        self.instance = objects.Instance(uuid=UUID)

    def test_event_of_the_outgoing_migration_is_logged(self):
        self.stats.live_migration(self.instance)
        self.conn.send(dict(EVENT))
        self.stats.post_live_migration(self.instance)
        self.assertEqual(
            'INFO ' + migration_stats.format_line(UUID, None, EVENT),
            self.log.output.strip())

    def test_registers_once_per_connection(self):
        self.stats.live_migration(self.instance)
        self.stats.live_migration(self.instance)
        self.assertEqual(1, len(self.conn.callbacks))
        self.assertEqual(migration_stats.EVENT_ID_JOB_COMPLETED,
                         self.conn.callbacks[0][0])
        # nova reconnected: the callback went with the old connection.
        self.host.conn = FakeConnection()
        self.stats.live_migration(self.instance)
        self.assertEqual(1, len(self.host.conn.callbacks))

    def test_other_jobs_and_other_guests_are_not_this_migration(self):
        self.stats.live_migration(self.instance)
        self.conn.send(dict(EVENT, operation=4))    # MIGRATION_IN
        self.conn.send(dict(EVENT, operation=2))    # SAVE
        self.conn.send(dict(EVENT), uuid='another')
        self.stats.post_live_migration(self.instance)
        self.assertNotIn('xloud-migration-stats', self.log.output)
        self.assertIn('WARNING QEMU migration statistics are not available'
                      ' for this live migration (libvirt sent no '
                      'completed-job event within 0.1 s)', self.log.output)

    def test_a_bad_event_never_raises_into_libvirt(self):
        self.stats.live_migration(self.instance)
        self.conn.send(None)
        self.conn.send({'operation': 5}, uuid=None)

    def test_figures_of_an_earlier_migration_are_not_reused(self):
        self.stats.live_migration(self.instance)
        self.conn.send(dict(EVENT))
        # That migration never reached post (nova failed in between).
        self.stats.live_migration(self.instance)
        self.stats.post_live_migration(self.instance)
        self.assertNotIn('xloud-migration-stats', self.log.output)

    def test_rollback_forgets_the_figures(self):
        self.stats.live_migration(self.instance)
        self.conn.send(dict(EVENT))
        self.stats.rollback_live_migration_at_source(self.instance)
        self.stats.post_live_migration(self.instance)
        self.assertNotIn('xloud-migration-stats', self.log.output)

    def test_registration_failure_is_named_in_the_warning(self):
        self.host.conn = FakeConnection(fail=RuntimeError('no events'))
        self.assertRaises(RuntimeError, self.stats.live_migration,
                          self.instance)
        self.stats.post_live_migration(self.instance)
        self.assertIn('(RuntimeError: no events)', self.log.output)
