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

"""What nova imports as ``nova.virt.xloud``: ``xloud.XloudLibvirtDriver``.

_xloud_nova_ext_finder loads this file under that name when nova-compute
loads ``compute_driver = xloud.XloudLibvirtDriver``. The nova release is
checked first, before the driver's own imports can fail on another nova.
"""

from xloud_nova_ext import installation

installation.require_supported_nova()

from xloud_nova_ext.virt.libvirt.driver import XloudLibvirtDriver  # noqa: E402,E501

__all__ = ['XloudLibvirtDriver']
