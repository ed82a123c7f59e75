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

"""A cloud half-way through the install: stock and Xloud computes together.

One nova harness, one compute running nova's own ``libvirt.LibvirtDriver``
and one running ``xloud.XloudLibvirtDriver``, default options. Every
migration stock nova allows between two stock hosts must work in both
directions: live (shared storage), block, cold confirmed and cold reverted.
vTPM servers across the two drivers are the vTPM safeguard's own tests
(test_vtpm), which need its ``auto`` transport.
"""

from nova import context as nova_context
from nova.tests.fixtures import libvirt as fakelibvirt
from nova.virt.libvirt import driver as libvirt_driver
from xloud_harness import fake_cpu
from xloud_harness import nova_fakelibvirt

from xloud_nova_ext.cpu import xmlcpu
from xloud_nova_ext.virt.libvirt import driver as xloud_driver

DRIVERS = {'stock': 'libvirt.LibvirtDriver',
           'xloud': 'xloud.XloudLibvirtDriver'}


class MixedDriversTestBase(nova_fakelibvirt.MigrationTestBase):
    """Computes named after their driver: ``stock`` and ``xloud``."""

    COMPUTES = ('stock', 'xloud')

    def _setup_compute_service(self):
        pass  # each compute sets its own driver in start_compute

    def start_compute(self, hostname='compute1', **kwargs):
        kind = hostname.rstrip('0123456789')  # 'xloud2' runs 'xloud'
        self.flags(compute_driver=DRIVERS[kind])
        hostname = super().start_compute(hostname=hostname, **kwargs)
        driver = self.driver(hostname)
        if kind == 'xloud':
            self.assertIsInstance(driver, xloud_driver.XloudLibvirtDriver)
        else:
            self.assertIs(libvirt_driver.LibvirtDriver, type(driver))
        return hostname


class Migrations(object):
    """The migrations stock nova allows between two stock hosts."""

    SOURCE = DEST = None

    def cold_migrate(self, server):
        server = self._migrate_server(server, host=self.DEST)
        self.assertEqual(self.DEST, server['OS-EXT-SRV-ATTR:host'])
        self.assertEqual('finished',
                         self.migrations_of(server, 'migration')[-1][
                             'status'])
        return server

    def test_live_migration(self):
        server = self.boot(self.SOURCE)
        migration = self.live_migrate(server, host=self.DEST)
        self.assert_migrated(server, self.SOURCE, self.DEST, migration)

    def test_block_migration(self):
        self.use_local_storage()
        server = self.boot(self.SOURCE)
        migration = self.live_migrate(server, host=self.DEST,
                                      block_migration=True)
        self.assert_migrated(server, self.SOURCE, self.DEST, migration)

    def test_cold_migration_confirmed(self):
        server = self.cold_migrate(self.boot(self.SOURCE))
        server = self._confirm_resize(server)
        migration = self.wait_for_migration(server, 'migration',
                                            ('confirmed',))
        self.assert_migrated(server, self.SOURCE, self.DEST, migration,
                             expected_status='confirmed')

    def test_cold_migration_reverted(self):
        server = self.cold_migrate(self.boot(self.SOURCE))
        self.api.post_server_action(server['id'], {'revertResize': None})
        self.wait_for_migration(server, 'migration', ('reverted',))
        self._wait_for_instance_action_event(
            server, 'revertResize', 'compute_finish_revert_resize',
            'success')
        server = self._wait_for_state_change(server, 'ACTIVE')
        self.assertEqual(self.SOURCE, server['OS-EXT-SRV-ATTR:host'])
        self.assertIn(server['id'], self.domains_on(self.SOURCE))
        self.assertNotIn(server['id'], self.domains_on(self.DEST))


class StockToXloudTest(Migrations, MixedDriversTestBase):
    SOURCE, DEST = 'stock', 'xloud'


class XloudToStockTest(Migrations, MixedDriversTestBase):
    SOURCE, DEST = 'xloud', 'stock'


class SameMigrationCallTest(MixedDriversTestBase):
    """An Xloud pair asks libvirt for the very migration a stock pair does.

    What QEMU copies and how long it pauses the guest (its downtime) follow
    from the migration call alone: URI, flags and parameters (the
    destination's XML, bandwidth, disks to copy). The safeguards act before
    that call and after it, never on it. So, with the names that must
    differ set aside (hosts, server), the source's call is the same
    between two Xloud computes as between two stock ones; the benchmark's
    downtime figures then differ by the machine's noise only.
    """

    COMPUTES = ('stock', 'stock2', 'xloud', 'xloud2')

    def setUp(self):
        super().setUp()
        self.calls = []

    def _migrate_stub(self, domain, destination, params, flags):
        self.calls.append((destination, dict(params), flags))
        super()._migrate_stub(domain, destination, params, flags)

    def migration_call(self, source, dest, block_migration):
        """The source's migration call, its names made neutral."""
        server = self.boot(source)
        instance_name = server['OS-EXT-SRV-ATTR:instance_name']
        del self.calls[:]
        migration = self.live_migrate(server, host=dest,
                                      block_migration=block_migration)
        self.assert_migrated(server, source, dest, migration)
        self.assertEqual(1, len(self.calls))

        def neutral(value):
            if isinstance(value, str):
                for name, role in ((server['id'], 'SERVER'),
                                   (instance_name, 'INSTANCE'),
                                   (dest, 'DEST'), (source, 'SOURCE')):
                    value = value.replace(name, role)
            elif isinstance(value, (list, tuple)):
                value = [neutral(v) for v in value]
            return value

        destination, params, flags = self.calls[0]
        return (neutral(destination),
                {k: neutral(v) for k, v in params.items()}, flags)

    def test_live_migration_call_is_stock(self):
        stock = self.migration_call('stock', 'stock2', False)
        xloud = self.migration_call('xloud', 'xloud2', False)
        self.assertIn('destination_xml', stock[1])
        self.assertEqual(stock, xloud)

    def test_block_migration_call_is_stock(self):
        self.use_local_storage()
        stock = self.migration_call('stock', 'stock2', True)
        xloud = self.migration_call('xloud', 'xloud2', True)
        self.assertTrue(stock[2] & fakelibvirt.VIR_MIGRATE_NON_SHARED_INC)
        self.assertEqual(stock, xloud)


class WhichHostsRunItTest(fake_cpu.FakeCPUHostsMixin,
                          MixedDriversTestBase):
    """What the operator's guide says tells the two kinds of host apart.

    Both hosts have the same CPU, whose host-model libvirt can describe.
    """

    def test_hypervisor_cpu_info_names_the_host_model_on_xloud_only(self):
        for hostname in ('stock', 'xloud'):
            self.computes[hostname].manager.update_available_resource(
                nova_context.get_admin_context())
        self.admin_api.microversion = '2.87'
        hypervisors = {
            h['service']['host']: h['cpu_info'] for h in
            self.admin_api.api_get('/os-hypervisors/detail').body[
                'hypervisors']}
        self.assertIn(xmlcpu.CPU_INFO_HOST_MODEL_KEY, hypervisors['xloud'])
        self.assertNotIn(xmlcpu.CPU_INFO_HOST_MODEL_KEY,
                         hypervisors['stock'])
