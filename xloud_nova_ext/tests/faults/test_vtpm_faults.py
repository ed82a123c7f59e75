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


"""vTPM faults in nova's harness, with a real Barbican server of its own.

Real: nova's services and RPC, the compute manager, our driver, Barbican
(its own server process, stopped by the case). Fake: libvirt (fakelibvirt
secrets and domains, see :mod:`xloud_nova_ext.tests.functional.test_vtpm`).
Leftovers per host: a libvirt vTPM secret or a guest on a host where the
server is not.
"""


from nova.compute import rpcapi as compute_rpcapi

import fixtures

from xloud_harness import barbican

from xloud_nova_ext.tests.faults import case
from xloud_nova_ext.tests.functional import test_vtpm
from xloud_nova_ext.tests import requirements

TERMINAL = ('completed', 'error', 'failed')


class BarbicanStoppedFault(case.FaultCase, test_vtpm.VTPMTestBase):

    def start_barbican(self):
        # A server of this case's own: the shared one serves other tests.
        self.own_barbican = barbican.BarbicanServer()
        try:
            self.own_barbican.start()
        except barbican.BarbicanStartError as e:
            requirements.require(self, False, 'no Barbican server: %s' % e)
        self.addCleanup(self.own_barbican.stop)
        return self.own_barbican

    def leftovers(self, server, where):
        out = {}
        for host in ('src', 'dest'):
            items = []
            if host != where and self.libvirt_secret(host, server):
                items.append('vTPM secret')
            if host != where and server['id'] in self.domains_on(host):
                items.append('stray guest')
            out[host] = ', '.join(items)
        return out

    def test_barbican_stopped_between_precheck_and_pre_live_migration(self):
        """Barbican stopped between pre-check and pre_live_migration"""
        server = self.boot_vtpm('host')
        value = self.barbican_value(server)
        real = compute_rpcapi.ComputeAPI.pre_live_migration
        stopped = []

        def stop_barbican_first(rpcapi, *args, **kwargs):
            self.own_barbican.stop()
            stopped.append(self.own_barbican.running)
            return real(rpcapi, *args, **kwargs)
        self.useFixture(fixtures.MonkeyPatch(
            'nova.compute.rpcapi.ComputeAPI.pre_live_migration',
            stop_barbican_first))

        migration = self.live_migrate_as(self.other_admin_api, server)

        server = self._wait_for_state_change(server, 'ACTIVE')
        where = server['OS-EXT-SRV-ATTR:host']
        running_on = [h for h in ('src', 'dest')
                      if server['id'] in self.domains_on(h)]
        self.row(ended='ACTIVE on %s (guest on %s)'
                 % (where, ', '.join(running_on) or 'no host'),
                 status=migration['status'],
                 leftovers=self.leftovers(server, where))
        self.assertEqual([False], stopped)
        self.assertIn(migration['status'], TERMINAL)
        self.assertEqual([where], running_on)
        # The guest's host keeps (or got) its secret, with the same value.
        self.assert_secret_on(where, server, value)
        self.assertEqual({'src': 'none', 'dest': 'none'},
                         self.fault_row.leftovers)
