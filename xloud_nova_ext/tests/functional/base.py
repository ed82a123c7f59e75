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


"""nova 34's own functional harness, with computes running our driver.

The harness (:mod:`xloud_harness.nova_fakelibvirt`) says what is real and
what is fake; here every compute runs XloudLibvirtDriver, loaded as in
production (``compute_driver = xloud.XloudLibvirtDriver``).
"""

from xloud_harness import nova_fakelibvirt

from xloud_nova_ext.virt.libvirt import driver as xloud_driver


class XloudMigrationTestBase(nova_fakelibvirt.MigrationTestBase):
    """Computes running XloudLibvirtDriver behind nova's real services."""

    # The production setting: nova loads nova.virt.xloud (our shim).
    COMPUTE_DRIVER = 'xloud.XloudLibvirtDriver'
    LIBVIRT_MODULES = ('xloud_nova_ext.cpu.compare',)

    def start_compute(self, hostname='compute1', *args, **kwargs):
        # nova's restart_compute_service passes its arguments by position.
        hostname = super().start_compute(hostname, *args, **kwargs)
        driver = self.computes[hostname].driver
        self.assertIsInstance(driver, xloud_driver.XloudLibvirtDriver)
        return hostname
