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

"""Connection pre-check in nova's real services (fakelibvirt computes).

The destination's migration address is 127.0.0.1 (``[libvirt]
live_migration_inbound_addr``) and nova's URI names a port of this test:
a real listening socket stands for the destination's libvirtd, a closed
port for a firewall that rejects. fakelibvirt itself has no network; the
harness maps the address back to the ``dest`` compute.
"""

import socket

from xloud_nova_ext.tests.functional import base
from xloud_nova_ext.tests.functional import test_failsafe
from xloud_nova_ext.tests.functional import test_mixed_drivers

CODE = 'xloud.connection.unreachable'


def free_port(listen):
    """(socket or None, port): a listening socket, or a closed port."""
    sock = socket.socket()
    sock.bind(('127.0.0.1', 0))
    port = sock.getsockname()[1]
    if listen:
        sock.listen(8)
        return sock, port
    sock.close()
    return None, port


def received_by_pre_live_migration(manager):
    """The carriers a compute manager's pre_live_migration is handed.

    One dict per call: nova's ``old_vol_attachment_ids`` and
    ``target_connect_addr`` where set, as they arrive over RPC (nova's
    manager then resets the one and its driver sets the other).
    """
    received = []
    original = manager.pre_live_migration

    def spying(context, instance, disk, migrate_data):
        received.append({
            name: getattr(migrate_data, name)
            for name in ('old_vol_attachment_ids', 'target_connect_addr')
            if name in migrate_data})
        return original(context, instance, disk, migrate_data)
    manager.pre_live_migration = spying
    return received


class ConnectionPrecheckTest(base.XloudMigrationTestBase):

    MIGRATION_ADDRESSES = {'127.0.0.1': 'dest'}

    def destination_at(self, listen):
        sock, port = free_port(listen)
        if sock is not None:
            # Keeps the socket itself: eventlet's sock.close is the inner
            # socket's, and a green socket closes its file when collected.
            self.listener = sock
            self.addCleanup(sock.close)
        self.flags(live_migration_inbound_addr='127.0.0.1',
                   live_migration_uri='qemu+tcp://%%s:%d/system' % port,
                   group='libvirt')
        return port

    def count_pre_live_migration(self):
        calls = []
        driver = self.driver('dest')
        original = driver.pre_live_migration

        def counting(*args, **kwargs):
            calls.append(args)
            return original(*args, **kwargs)
        driver.pre_live_migration = counting
        return calls

    def test_closed_port_refused_before_the_destination_is_prepared(self):
        port = self.destination_at(listen=False)
        server = self.boot('src')
        prepared = self.count_pre_live_migration()

        migration = self.live_migrate(server, host='dest')

        events = self.assert_refused(server, 'src', migration, CODE)
        details = ' '.join(e.get('details') or '' for e in events)
        # The whole refusal, fix included, fits in what nova keeps.
        self.assertIn('No libvirt at 127.0.0.1 port %d: connection refused. '
                      'Fix: Open TCP %d to 127.0.0.1 in the firewall, or fix '
                      'live_migration_inbound_addr.' % (port, port), details)
        self.assertEqual([], prepared)
        self.assertEqual([], self.domains_on('dest'))

    def test_answering_destination_migrates(self):
        self.destination_at(listen=True)
        server = self.boot('src')
        received = received_by_pre_live_migration(
            self.computes['dest'].manager)

        migration = self.live_migrate(server, host='dest')

        self.assert_migrated(server, 'src', 'dest', migration)
        # The source took the address back: nova's fields arrive as a stock
        # pair's would, and nova's own pre_live_migration sets the address.
        self.assertEqual([{}], received)

    def test_name_this_host_cannot_resolve_proceeds_with_a_warning(self):
        # nova's defaults: qemu+tcp://dest/system; "dest" resolves nowhere
        # here, yet libvirtd might resolve it: stock nova's behaviour.
        server = self.boot('src')

        migration = self.live_migrate(server, host='dest')

        self.assert_migrated(server, 'src', 'dest', migration)
        self.assertIn('dest does not resolve on this host',
                      self.stdlog.logger.output)


class ConnectionFailsafeTest(test_failsafe.FailsafeTestBase):

    MIGRATION_ADDRESSES = {'127.0.0.1': 'dest'}

    def test_connection_check_failure_lets_live_migration_proceed(self):
        # Even towards a closed port: the check's own bug is not the
        # user's failure; nova finds out as stock nova would.
        self.flags(live_migration_inbound_addr='127.0.0.1',
                   group='libvirt')
        server = self.boot('src')
        self.break_step(
            'connection.ConnectionGuard.check_can_live_migrate_source')

        migration = self.live_migrate(server, host='dest')

        self.assert_migrated(server, 'src', 'dest', migration)
        self.assert_warned('connection', 'check_can_live_migrate_source')


class ConnectionMixedDriversTest(test_mixed_drivers.MixedDriversTestBase):
    """The address's carrier between a stock and an Xloud compute.

    The Xloud destination publishes its address in nova's own
    ``target_connect_addr``; nova's pre_live_migration on the destination
    sets that field again before the source reads it, and nova's map of
    volume attachments (which once carried the address) stays nova's.
    """

    def setUp(self):
        super().setUp()
        self.migrations = []

    def _migrate_stub(self, domain, destination, params, flags):
        self.migrations.append((destination, params))
        super()._migrate_stub(domain, destination, params, flags)

    def closed_inbound_address(self, dest):
        """Every host's libvirt "at" 127.0.0.1, on a port that refuses."""
        self.MIGRATION_ADDRESSES = {'127.0.0.1': dest}
        _sock, port = free_port(listen=False)
        self.flags(live_migration_inbound_addr='127.0.0.1',
                   live_migration_uri='qemu+tcp://%%s:%d/system' % port,
                   group='libvirt')
        return port

    def test_stock_source_migrates_as_stock_nova_does(self):
        # Default options: nova lets libvirt pick the migration address
        # (no migrate_uri); the host name we published does not change it.
        server = self.boot('stock')
        received = received_by_pre_live_migration(
            self.computes['xloud'].manager)

        migration = self.live_migrate(server, host='xloud')

        self.assert_migrated(server, 'stock', 'xloud', migration)
        self.assertEqual([{'target_connect_addr': 'xloud'}], received)
        [(destination, params)] = self.migrations
        self.assertEqual('qemu+tcp://xloud/system', destination)
        self.assertNotIn('migrate_uri', params)

    def test_stock_source_does_not_check_the_connection(self):
        self.closed_inbound_address('xloud')
        server = self.boot('stock')

        migration = self.live_migrate(server, host='xloud')

        self.assert_migrated(server, 'stock', 'xloud', migration)
        [(_destination, params)] = self.migrations
        self.assertEqual('tcp://127.0.0.1', params['migrate_uri'])

    def test_stock_destination_is_not_checked(self):
        # It publishes no address: the source proceeds as stock nova.
        self.closed_inbound_address('stock')
        server = self.boot('xloud')
        received = received_by_pre_live_migration(
            self.computes['stock'].manager)

        migration = self.live_migrate(server, host='stock')

        self.assert_migrated(server, 'xloud', 'stock', migration)
        self.assertEqual([{}], received)
