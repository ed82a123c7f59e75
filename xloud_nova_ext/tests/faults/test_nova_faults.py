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


"""Control-plane faults during a block migration, in nova's harness.

Real: nova's services and RPC (oslo.messaging's fake driver), the compute
manager's rollback, our driver and its disk reservations. Fake: libvirt
(fakelibvirt moves the domain), and the hosts' filesystems (the harness's
FakeFS; both computes share one instances path, so disk files are not
counted per host here; the integration pair covers real files). The
leftovers checked per host are the disk preflight's reservations and
guests running where the server is not.
"""

import threading

from nova.compute import rpcapi as compute_rpcapi
import oslo_messaging as messaging

import fixtures

from xloud_nova_ext.tests.faults import case
from xloud_nova_ext.tests.functional import test_disk

TERMINAL = ('completed', 'error', 'failed')


class BlockMigrationFaults(case.DiskFaultCase,
                           test_disk.DiskPreflightTestBase):

    def settle(self, server, migration):
        """Record the row; assert the invariants every case must hold."""
        server = self._wait_for_state_change(server, 'ACTIVE')
        where = server['OS-EXT-SRV-ATTR:host']
        running_on = [h for h in self.COMPUTES
                      if server['id'] in self.domains_on(h)]
        self.row(ended='ACTIVE on %s (guest on %s)'
                 % (where, ', '.join(running_on) or 'no host'),
                 status=migration['status'],
                 leftovers=self.leftovers([server]))
        self.assertIn(migration['status'], TERMINAL)
        self.assertEqual([where], running_on)
        self.assertEqual({h: 'none' for h in self.COMPUTES},
                         self.fault_row.leftovers)
        return where

    def test_rpc_timeout_after_the_destination_prepared(self):
        """RPC timeout: pre_live_migration's reply lost (dest prepared)"""
        server = self.boot_with_disks('src')
        real = compute_rpcapi.ComputeAPI.pre_live_migration
        prepared = []

        def reply_lost(rpcapi, ctxt, instance, *args, **kwargs):
            real(rpcapi, ctxt, instance, *args, **kwargs)
            prepared.append(sorted(self.guard('dest').ledger.snapshot()))
            raise messaging.MessagingTimeout('Timed out waiting for a reply '
                                             '(injected)')
        self.useFixture(fixtures.MonkeyPatch(
            'nova.compute.rpcapi.ComputeAPI.pre_live_migration', reply_lost))

        migration = self.live_migrate(server, host='dest',
                                      block_migration=True)

        # The destination had reserved its room and prepared the guest.
        self.assertEqual([[server['id']]], prepared)
        self._wait_for_instance_action_event(
            server, 'live-migration',
            'compute_rollback_live_migration_at_destination', 'success')
        self.assertEqual('src', self.settle(server, migration))

    def test_destination_compute_restarted_mid_copy(self):
        """destination nova-compute restarted during the block copy"""
        server = self.boot_with_disks('src')
        copying, restarted = threading.Event(), threading.Event()

        def hold(domain):
            copying.set()
            restarted.wait(60)
            return False  # the copy succeeds
        self.copy_hooks.append(hold)

        self.api.post_server_action(server['id'], {'os-migrateLive': {
            'host': 'dest', 'block_migration': True}})
        self.assertTrue(copying.wait(60))
        reserved = sorted(self.guard('dest').ledger.snapshot())
        self.restart_compute_service('dest')
        # The new process's guard: same host, same filesystem.
        self.guard('dest').fs = self.fs['dest']
        restarted.set()
        migration = self.wait_for_migration(server, 'live-migration',
                                            TERMINAL, timeout=60)

        self.assertEqual([server['id']], reserved)
        self.settle(server, migration)
