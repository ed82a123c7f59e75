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

"""The Xloud libvirt driver: nova's LibvirtDriver plus migration safeguards.

This class only wires the safeguards into nova's public migration hooks and
calls ``super()`` for everything nova does. Each safeguard lives in its own
module and is tested without this class:

* :mod:`xloud_nova_ext.cpu` - the guest's CPU must run on the destination;
* :mod:`xloud_nova_ext.vtpm` - the destination gets the vTPM secret from the
  key manager, never over the message bus;
* :mod:`xloud_nova_ext.disk` - a block migration's destination must have room
  for the disks it will receive.

Each refuses a doomed migration before any memory or disk is copied, with a
:class:`nova.exception.MigrationPreCheckError` that names cause and fix.
"""

from nova.virt.libvirt import driver as libvirt_driver
from oslo_log import log as logging

from xloud_nova_ext import conf  # noqa: F401  (registers [xloud])

LOG = logging.getLogger(__name__)


class XloudLibvirtDriver(libvirt_driver.LibvirtDriver):
    """nova's libvirt driver with the Xloud migration safeguards."""
