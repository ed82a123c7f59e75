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

"""Connection pre-check from one real libvirt host to the other.

The source's check (ConnectionGuard, with nova's own URI builder) runs
inside host A's namespaces, as nova-compute would beside A's libvirtd: it
resolves ``xhost-b`` through A's ``/etc/hosts`` and connects over the veth
link to B's real libvirtd. The real path passes and the migration it
vouched for then succeeds; a closed port, a stopped libvirtd and a firewall
that drops the connection are refused, each before anything is copied.
"""

import json
import sys
import time

from xloud_harness import guests

from xloud_nova_ext.tests.integration import base
from xloud_nova_ext.tests import requirements

CODE = 'xloud.connection.unreachable'

#: The source's pre-check, run in host A: argv is the destination's
#: published address, the timeout and [libvirt] live_migration_uri ('' for
#: nova's default). Prints the URI nova will use and the outcome as JSON.
SOURCE_CHECK = '''
import json, sys, time
import nova.conf
from nova import objects
from nova.virt.libvirt import driver
from xloud_nova_ext import conf, connection, exception  # conf: [xloud]
address, timeout, uri = sys.argv[1], float(sys.argv[2]), sys.argv[3]
objects.register_all()
CONF = nova.conf.CONF
CONF.set_override('migration_connection_timeout', timeout, group='xloud')
CONF.set_override('virt_type', 'qemu', group='libvirt')
if uri:
    CONF.set_override('live_migration_uri', uri, group='libvirt')
uri_for = driver.LibvirtDriver._live_migration_uri
guard = connection.ConnectionGuard(CONF, uri_for)
data = objects.LibvirtLiveMigrateData(target_connect_addr=address)
out = {'uri': uri_for(address)}
start = time.monotonic()
try:
    guard.check_can_live_migrate_source(
        objects.Instance(uuid='6a1c4a3e-0d0e-4a55-8d39-7e7f0c4b2f10'), data)
    out['outcome'] = 'passed'
except exception.MigrationAddressUnreachable as e:
    out['outcome'] = str(e)
out['seconds'] = time.monotonic() - start
print(json.dumps(out))
'''


class ConnectionPrecheckTest(base.IntegrationTestCase):

    def source_check(self, address='xhost-b', timeout=2.0, uri=''):
        """The source's pre-check, run in host A: a dict (see SOURCE_CHECK)."""
        result = self.a.run([sys.executable, '-c', SOURCE_CHECK, address,
                             str(timeout), uri], timeout=60)
        return json.loads(result.stdout.strip().splitlines()[-1])

    def assert_refused(self, result, port, detail, address='xhost-b'):
        self.assertEqual(
            '[%s] No libvirt at %s port %d: %s. Fix: Open TCP %d to %s in '
            'the firewall, or fix live_migration_inbound_addr.'
            % (CODE, address, port, detail, port, address),
            result['outcome'])

    def test_real_path_passes_and_the_migration_succeeds(self):
        """nova's default URI to B's libvirtd answers; the guest moves."""
        dom = guests.start_guest(self.open(self.a),
                                 guests.domain_xml('cc-guest'))

        result = self.source_check()

        self.assertEqual('passed', result['outcome'])
        # The URI checked is the one the migration uses.
        self.assertEqual(self.b.peer_uri, result['uri'])
        guests.live_migrate(dom, self.b)
        self.assertEqual('cc-guest',
                         self.open(self.b).lookupByName('cc-guest').name())

    def test_closed_port_is_refused_at_once(self):
        """Nothing listens on the URI's port: refused in well under 1 s."""
        result = self.source_check(uri='qemu+tcp://%s:16599/system')

        self.assert_refused(result, 16599, 'connection refused')
        self.assertLess(result['seconds'], 1.0)

    def test_stopped_libvirtd_is_refused(self):
        """B's libvirtd is down; A's guest keeps running."""
        dom = guests.start_guest(self.open(self.a),
                                 guests.domain_xml('cc-guest'))
        self.b.stop()  # the pair's reset starts it again

        result = self.source_check()

        self.assert_refused(result, 16509, 'connection refused')
        self.assertTrue(dom.isActive())

    def test_firewall_that_drops_is_refused_after_the_timeout(self):
        """A drops its packets to B's libvirtd port: refused after 1 s."""
        requirements.require(
            self, not requirements.missing_commands('iptables'),
            'missing iptables: run tools/install-debian-deps.sh')
        rule = ['-d', self.b.ip, '-p', 'tcp', '--dport', '16509', '-j',
                'DROP']
        self.a.run(['iptables', '-I', 'OUTPUT'] + rule)
        self.addCleanup(self.a.run, ['iptables', '-D', 'OUTPUT'] + rule)

        start = time.monotonic()
        result = self.source_check(timeout=1.0)

        self.assert_refused(result, 16509, 'no answer in 1 s')
        self.assertGreaterEqual(result['seconds'], 0.95)
        self.assertLess(result['seconds'], 2.0)
        self.assertLess(time.monotonic() - start, 30)
