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

"""ConnectionGuard: real TCP on loopback, nova's own URI builder."""

import socket
import time

import fixtures
from nova import objects
from nova.virt.libvirt import driver as libvirt_driver
from oslo_config import fixture as config_fixture

import nova.conf

from xloud_harness import testing

from xloud_nova_ext import connection
from xloud_nova_ext import exception
from xloud_nova_ext.virt.libvirt import failsafe

CONF = nova.conf.CONF


def listener(backlog=8):
    """A socket listening on a free loopback port (close it)."""
    sock = socket.socket()
    sock.bind(('127.0.0.1', 0))
    sock.listen(backlog)
    return sock


def closed_port():
    """A loopback port nothing listens on."""
    sock = listener()
    port = sock.getsockname()[1]
    sock.close()
    return port


class EndpointTest(testing.TestCase):
    """Which host and port a libvirt URI connects to."""

    def test_libvirt_remote_transports(self):
        for uri, expected in (
                ('qemu+tcp://h1/system', ('h1', 16509)),
                ('qemu+tls://h1/system', ('h1', 16514)),
                # libvirt's default for a remote URI without transport.
                ('qemu://h1/system', ('h1', 16514)),
                ('qemu+tcp://h1:1234/system', ('h1', 1234)),
                ('qemu+tcp://[fd00::2]/system', ('fd00::2', 16509)),
                ('qemu+tls://nova@h1/system?no_verify=1', ('h1', 16514))):
            self.assertEqual(expected, connection.endpoint(uri), uri)

    def test_what_it_cannot_judge(self):
        for uri in ('qemu+ssh://h1/system', 'qemu+libssh2://h1/system',
                    'qemu+ext://h1/system?command=/bin/x',
                    'qemu+unix:///system', 'qemu:///system',
                    'qemu+tcp://h1:99999/system', 'qemu+tcp://h1:x/system'):
            self.assertIsNone(connection.endpoint(uri), uri)


class ProbeTest(testing.TestCase):

    def test_listening_port_answers(self):
        sock = listener()
        self.addCleanup(sock.close)
        connection.probe('127.0.0.1', sock.getsockname()[1], 2.0)

    def test_closed_port_is_refused_at_once(self):
        start = time.monotonic()
        self.assertRaises(ConnectionRefusedError, connection.probe,
                          '127.0.0.1', closed_port(), 2.0)
        self.assertLess(time.monotonic() - start, 1.0)

    def test_silent_port_times_out(self):
        # A listener whose accept queue is full drops new SYNs, as a
        # firewall that drops packets does.
        sock = listener(backlog=0)
        self.addCleanup(sock.close)
        port = sock.getsockname()[1]
        held = []
        self.addCleanup(lambda: [s.close() for s in held])
        for _ in range(4):
            s = socket.socket()
            s.setblocking(False)
            s.connect_ex(('127.0.0.1', port))
            held.append(s)
        time.sleep(0.1)
        start = time.monotonic()
        err = self.assertRaises(OSError, connection.probe, '127.0.0.1',
                                port, 0.5)
        elapsed = time.monotonic() - start
        self.assertIsInstance(err, (TimeoutError, socket.timeout))
        self.assertEqual('no answer in 0.5 s',
                         connection.describe(err, 0.5))
        self.assertGreaterEqual(elapsed, 0.45)
        self.assertLess(elapsed, 1.5)

    def test_unresolvable_name(self):
        self.assertRaises(connection.Unresolved, connection.probe,
                          'no-such-host.invalid', 16509, 1.0)


class ConnectionGuardTest(testing.TestCase):

    def setUp(self):
        super().setUp()
        self.conf = self.useFixture(config_fixture.Config(CONF))
        self.conf.config(host='dest-host')
        self.guard = connection.ConnectionGuard(
            CONF, libvirt_driver.LibvirtDriver._live_migration_uri)
        self.instance = objects.Instance(
            uuid='6a1c4a3e-0d0e-4a55-8d39-7e7f0c4b2f10')
        self.logs = self.useFixture(fixtures.FakeLogger(
            name='xloud_nova_ext.connection'))

    def published(self, address):
        return objects.LibvirtLiveMigrateData(target_connect_addr=address)

    def uri_port(self, port):
        self.conf.config(live_migration_uri='qemu+tcp://%%s:%d/system' % port,
                         group='libvirt')

    # Destination

    def test_destination_publishes_its_host_name(self):
        data = self.guard.check_can_live_migrate_destination(
            objects.LibvirtLiveMigrateData())
        self.assertEqual('dest-host', data.target_connect_addr)

    def test_destination_publishes_its_inbound_address(self):
        self.conf.config(live_migration_inbound_addr='10.0.0.2',
                         group='libvirt')
        data = self.guard.check_can_live_migrate_destination(
            objects.LibvirtLiveMigrateData())
        self.assertEqual('10.0.0.2', data.target_connect_addr)

    def test_destination_leaves_novas_volume_map_alone(self):
        # nova's map of volume attachments, which the address once rode in.
        data = self.guard.check_can_live_migrate_destination(
            objects.LibvirtLiveMigrateData())
        self.assertNotIn('old_vol_attachment_ids', data)
        data = self.guard.check_can_live_migrate_destination(
            objects.LibvirtLiveMigrateData(old_vol_attachment_ids={'v': 'a'}))
        self.assertEqual({'v': 'a'}, data.old_vol_attachment_ids)

    def test_published_address_survives_novas_rpc_backports(self):
        # The oldest LibvirtLiveMigrateData that carries the field (1.1) is
        # older than any nova a nova 34 compute talks to.
        data = self.guard.check_can_live_migrate_destination(
            objects.LibvirtLiveMigrateData())
        primitive = data.obj_to_primitive(target_version='1.1')
        self.assertEqual('dest-host', objects.LibvirtLiveMigrateData
                         .obj_from_primitive(primitive).target_connect_addr)

    def test_destination_step_hands_its_data_on_when_failing(self):
        self.assertIn('migrate_data', failsafe.PASSTHROUGH[
            'check_can_live_migrate_destination'])

    # Source

    def test_answering_destination_passes_and_takes_the_address_back(self):
        # The data goes on as a stock pair's would: the field unset until
        # the destination's pre_live_migration sets it.
        sock = listener()
        self.addCleanup(sock.close)
        self.uri_port(sock.getsockname()[1])
        data = self.published('127.0.0.1')

        self.guard.check_can_live_migrate_source(self.instance, data)

        self.assertNotIn('target_connect_addr', data)

    def test_closed_port_refused_naming_address_port_and_firewall(self):
        port = closed_port()
        self.uri_port(port)

        err = self.assertRaises(
            exception.MigrationAddressUnreachable,
            self.guard.check_can_live_migrate_source, self.instance,
            self.published('127.0.0.1'))

        self.assertEqual(
            '[xloud.connection.unreachable] No libvirt at 127.0.0.1 port '
            '%d: connection refused. Fix: Open TCP %d to 127.0.0.1 in the '
            'firewall, or fix live_migration_inbound_addr.' % (port, port),
            str(err))

    def test_default_uri_checks_libvirtd_tcp_port_of_published_address(self):
        # nova's default: qemu+tcp://<dest>/system, libvirtd's port 16509.
        checked = []
        self.useFixture(fixtures.MockPatch(
            'xloud_nova_ext.connection.probe',
            side_effect=lambda *a: checked.append(a)))
        CONF.set_override('migration_connection_timeout', 2.5, group='xloud')
        self.guard.check_can_live_migrate_source(
            self.instance, self.published('10.0.0.2'))
        self.assertEqual([('10.0.0.2', 16509, 2.5)], checked)

    def test_tls_scheme_checks_libvirtd_tls_port(self):
        self.conf.config(live_migration_scheme='tls', group='libvirt')
        checked = []
        self.useFixture(fixtures.MockPatch(
            'xloud_nova_ext.connection.probe',
            side_effect=lambda *a: checked.append(a[:2])))
        self.guard.check_can_live_migrate_source(
            self.instance, self.published('fd00::2'))
        self.assertEqual([('fd00::2', 16514)], checked)

    def test_ssh_proceeds_with_a_warning(self):
        self.conf.config(live_migration_scheme='ssh', group='libvirt')
        self.guard.check_can_live_migrate_source(
            self.instance, self.published('127.0.0.1'))
        self.assertIn('Cannot check the connection to '
                      'qemu+ssh://127.0.0.1/system', self.logs.output)

    def test_unresolvable_name_proceeds_with_a_warning(self):
        self.guard.check_can_live_migrate_source(
            self.instance, self.published('no-such-host.invalid'))
        self.assertIn('does not resolve on this host', self.logs.output)

    def test_stock_destination_is_not_checked(self):
        # Its pre-check leaves the field unset; None is nova's own "no
        # inbound address", never ours.
        checked = []
        self.useFixture(fixtures.MockPatch(
            'xloud_nova_ext.connection.probe',
            side_effect=lambda *a: checked.append(a)))
        for data in (objects.LibvirtLiveMigrateData(),
                     objects.LibvirtLiveMigrateData(target_connect_addr=None)):
            self.guard.check_can_live_migrate_source(self.instance, data)
        self.assertEqual([], checked)

    def test_timeout_zero_turns_it_off_and_still_takes_the_address(self):
        CONF.set_override('migration_connection_timeout', 0, group='xloud')
        self.uri_port(closed_port())
        data = self.published('127.0.0.1')
        self.guard.check_can_live_migrate_source(self.instance, data)
        self.assertNotIn('target_connect_addr', data)
