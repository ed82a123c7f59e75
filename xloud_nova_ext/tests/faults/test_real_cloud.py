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


"""Hypervisor and network faults mid-migration, on the real cloud.

Real: everything of the real cloud (:mod:`xloud_migration_cloud.real`):
nova's services as processes, libvirtd and QEMU (TCG) per host, the
heartbeat guest, real filesystems and a real network between the hosts.
Nothing is mocked; the faults are made on the hosts themselves.

A migration of the heartbeat guest takes half a second; to hit it
mid-copy every time, each case caps the guest's migration bandwidth on
its source with libvirt's per-domain cap (``virsh migrate-setspeed``; nova
passes none of its own) at :data:`SLOW_MIB_S`. At that rate the guest
dirties its memory about as fast as it is sent and nova's growing
downtime allowance never lets the memory copy end, so the migration is
still running whenever the case strikes: once libvirt's job statistics on
the source show :data:`STRIKE_AFTER` copied (memory, or the disk for the
block copy).
"""

from xloud_harness import testing

from xloud_nova_ext.tests.faults import case
from xloud_nova_ext.tests.faults import real_cloud
from xloud_nova_ext.tests import requirements

MIB = 2 ** 20
SLOW_MIB_S = 2
STRIKE_AFTER = 4 * MIB
#: What the guest writes to its disk before the block copy (so the copy
#: has data to write while the destination fills), and where.
WRITTEN = 48 * MIB
WRITE_AT = 512 * MIB
#: A host keeps what a fault left only if it is still there this long
#: after the record ended (the destination's rollback is an RPC cast).
LEFTOVER_GRACE = 60


class HypervisorFaults(case.FaultCase, testing.TestCase):
    """Each case: one server moved from SOURCE, a fault, then the checks."""

    RUN_LAST = True
    SOURCE = 'xlc-a'

    def setUp(self):
        why = real_cloud.unavailable()
        if why is None:
            # Before the case's time limit starts (OS_TEST_TIMEOUT): the
            # first case waits for the cloud to start, 100-150 s.
            self.cloud = real_cloud.get()
        super().setUp()
        requirements.require(self, why is None, why)

    def boot(self):
        server = self.cloud.boot(self.SOURCE, self._testMethodName)
        self.addCleanup(self.cloud.delete, server['id'])
        return server['id']

    def settle(self, server_id, dest):
        """Record the row; assert what every case must hold."""
        hosts = (self.SOURCE, dest)
        migration = self.cloud.wait_migration_over(server_id)
        server = self.cloud.wait_settled(server_id)
        where = server['OS-EXT-SRV-ATTR:host']
        try:
            real_cloud.poll.wait_until(
                lambda: not any(self.cloud.leftovers(
                    server_id, where, hosts).values()),
                LEFTOVER_GRACE, 2, what='nothing left')
        except real_cloud.poll.WaitTimeout:
            pass  # the row says what is left
        running = self.cloud.running_on(hosts, server_id)
        self.row(ended='ACTIVE on %s (guest on %s)'
                 % (where, ', '.join(running) or 'no host'),
                 status=migration['status'],
                 leftovers=self.cloud.leftovers(server_id, where, hosts))
        self.assertIn(migration['status'], real_cloud.TERMINAL)
        self.assertEqual([where], running)
        self.assertEqual({h: 'none' for h in hosts}, self.fault_row.leftovers)
        return where, migration

    def start_slow_migration(self, server_id, dest, block_migration):
        self.cloud.slow_down(self.SOURCE, server_id, SLOW_MIB_S)
        self.cloud.live_migrate(server_id, dest, block_migration)

    def test_destination_filled_during_block_copy(self):
        """dest's instances fs filled by another writer mid block copy"""
        dest = 'xlc-c'
        server_id = self.boot()
        self.cloud.guest_writes(self.SOURCE, server_id, WRITE_AT, WRITTEN)
        self.start_slow_migration(server_id, dest, block_migration=True)
        stats = self.cloud.wait_copied(self.SOURCE, server_id,
                                       'disk_processed', STRIKE_AFTER)
        self.addCleanup(self.cloud.unfill, dest)
        filled = self.cloud.fill(dest)

        where, migration = self.settle(server_id, dest)
        self.assertGreater(filled, 0)
        # Struck mid-copy: the guest's data was still on its way.
        self.assertGreater(stats['disk_remaining'], 0, stats)
        self.assertEqual(self.SOURCE, where)

    def test_destination_libvirtd_killed_mid_migration(self):
        """dest libvirtd killed (SIGKILL) mid block migration, restarted"""
        dest = 'xlc-c'
        server_id = self.boot()
        self.start_slow_migration(server_id, dest, block_migration=True)
        self.cloud.wait_copied(self.SOURCE, server_id, 'memory_processed',
                               STRIKE_AFTER)
        killed = self.cloud.restart_libvirtd(dest)

        where, migration = self.settle(server_id, dest)
        self.assertNotEqual(killed, self.cloud.hosts[dest].daemon.pid())
        self.assertEqual(self.SOURCE, where)
        # nova-compute found its libvirtd again (it disables itself while
        # the connection is lost).
        self.cloud.wait_compute_up(dest)

    def test_migration_network_cut_mid_migration(self):
        """migration network cut mid-migration (dest drops the source)"""
        dest = 'xlc-b'
        server_id = self.boot()
        self.start_slow_migration(server_id, dest, block_migration=False)
        self.cloud.wait_copied(self.SOURCE, server_id, 'memory_processed',
                               STRIKE_AFTER)
        self.addCleanup(self.cloud.restore_network, dest, self.SOURCE)
        self.cloud.cut_network(dest, self.SOURCE)
        self.cloud.wait_migration_over(server_id)
        self.cloud.restore_network(dest, self.SOURCE)

        where, migration = self.settle(server_id, dest)
        self.assertEqual(self.SOURCE, where)
