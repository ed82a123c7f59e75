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


"""Disk preflight faults, in nova's functional harness (see
:mod:`xloud_nova_ext.tests.functional.test_disk` for what is real)."""

import collections
import threading


from xloud_nova_ext import exception
from xloud_nova_ext.tests.faults import case
from xloud_nova_ext.tests.functional import test_disk

FULL_NEED = test_disk.FULL_NEED
SOURCES = ('src', 'src2')
PER_SOURCE = 5
ROOM_FOR = 5


class ConcurrentBlockMigrationsFault(case.DiskFaultCase,
                                     test_disk.DiskPreflightTestBase):

    COMPUTES = SOURCES + ('dest',)
    # Room for five guests per source in RAM and vCPUs.
    LARGE_HOSTS = COMPUTES

    def setUp(self):
        super().setUp()
        # The harness's computes share one process-wide live migration
        # executor (one per host in real life): let all ten run at once.
        self.flags(max_concurrent_live_migrations=2 * PER_SOURCE)
        self.lock = threading.Condition()
        self.refused = []   # instance UUIDs refused by the preflight
        self.copying = []   # domain UUIDs whose copy started
        self.peak = 0       # bytes reserved on dest while copies ran
        # Refused in the pre-check or just before the copy.
        self.count_refusals(self.guard('dest'),
                            'check_source_migrate_data_at_dest', 0)
        self.count_refusals(self.guard('dest'), '_reserve', 0)
        self.copy_hooks.append(self.hold_copy_until_all_decided)

    def count_refusals(self, guard, method, uuid_arg):
        original = getattr(guard, method)

        def counting(instance, *args, **kwargs):
            try:
                return original(instance, *args, **kwargs)
            except exception.MigrationRefused:
                with self.lock:
                    self.refused.append(instance.uuid)
                    self.lock.notify_all()
                raise
        setattr(guard, method, counting)

    def hold_copy_until_all_decided(self, domain):
        """A copy runs until every migration was accepted or refused."""
        with self.lock:
            self.copying.append(domain.UUIDString())
            self.peak = max(self.peak, sum(
                r.total for r in self.guard('dest').ledger.snapshot()
                .values()))
            self.lock.notify_all()
            self.lock.wait_for(lambda: len(self.copying) +
                               len(self.refused) >= 2 * PER_SOURCE, 60)
        return False  # the copy succeeds

    def test_ten_block_migrations_to_room_for_five(self):
        """10 block migrations at once to a host with room for 5"""
        servers = [self.boot_with_disks(source)
                   for source in SOURCES for _ in range(PER_SOURCE)]
        free = ROOM_FOR * FULL_NEED + FULL_NEED // 2
        self.fs['dest'].free_bytes = free
        for server in servers:
            self.api.post_server_action(server['id'], {'os-migrateLive': {
                'host': 'dest', 'block_migration': True}})
        migrations = [self.wait_for_migration(
            s, 'live-migration', ('completed', 'error', 'failed'),
            timeout=120) for s in servers]
        servers = [self._wait_for_state_change(s, 'ACTIVE')
                   for s in servers]
        where = {s['id']: s['OS-EXT-SRV-ATTR:host'] for s in servers}
        statuses = collections.Counter(m['status'] for m in migrations)
        ended = collections.Counter(where.values())
        self.row(ended='ACTIVE: ' + ', '.join(
                     '%d on %s' % (n, h) for h, n in sorted(ended.items())),
                 status=', '.join('%d %s' % (n, s)
                                  for s, n in sorted(statuses.items())),
                 leftovers=self.leftovers(servers))

        moved = [s['id'] for s in servers if where[s['id']] == 'dest']
        self.assertEqual(ROOM_FOR, len(moved), migrations)
        self.assertEqual(ROOM_FOR, statuses['completed'])
        # The others were refused by the preflight before any copy.
        self.assertEqual(2 * PER_SOURCE - ROOM_FOR, len(self.refused))
        self.assertEqual(sorted(moved), sorted(self.copying))
        self.assertEqual(sorted(moved),
                         sorted(set(self.nova_pre_live_migration_ids)))
        # Never more promised than the destination had.
        self.assertLessEqual(self.peak, free)
        self.assertEqual(ROOM_FOR * FULL_NEED, self.peak)
        self.assertEqual({h: 'none' for h in self.COMPUTES},
                         self.fault_row.leftovers)
