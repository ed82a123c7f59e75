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

"""Make nova load our driver wherever its harness asks for LibvirtDriver.

nova's libvirt functional tests set ``compute_driver`` to
``libvirt.LibvirtDriver`` in several places (``ServersTestBase``,
``LibvirtProviderUsageBaseTestCase``, single tests); all of them reach
``nova.virt.driver.load_compute_driver``, which the compute manager calls
when a compute service starts. Translating the name there changes nothing
else: nova then imports ``nova.virt.xloud.XloudLibvirtDriver`` exactly as a
compute node configured with ``compute_driver = xloud.XloudLibvirtDriver``
does, and every other fixture and mock of the harness stays as nova wrote
it.
"""

from nova.virt import driver as virt_driver

STOCK = 'libvirt.LibvirtDriver'
XLOUD = 'xloud.XloudLibvirtDriver'

_nova_load = virt_driver.load_compute_driver


def load_compute_driver(virtapi, compute_driver=None):
    name = compute_driver or virt_driver.CONF.compute_driver
    if name == STOCK:
        name = XLOUD
    return _nova_load(virtapi, name)


def install():
    virt_driver.load_compute_driver = load_compute_driver


def installed():
    return virt_driver.load_compute_driver is load_compute_driver
