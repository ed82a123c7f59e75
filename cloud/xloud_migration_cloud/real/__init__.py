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

"""The real cloud (``--hypervisor libvirt``): nova on real libvirt and QEMU.

:mod:`.layout` names everything it makes on the machine, :mod:`.network`
its bridge, :mod:`.control` the control plane (MariaDB, RabbitMQ, keystone,
placement, glance, nova's API, conductor and scheduler), :mod:`.hosts` the
compute hosts (namespaces, libvirtd, an unmodified ``nova-compute``),
:mod:`.sweep` removes all of it, and :mod:`.cloud` puts it together for
``xloud-migration-demo``.
"""
