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

"""What this host's hypervisor offers guests, read once per QEMU and libvirt.

:class:`DomainCapabilities` keeps libvirt's ``getDomainCapabilities`` per
(virt type, arch, machine type): the CPU models this QEMU has and its
host-model CPU. They change only when libvirt or QEMU does, so each entry
is kept until one of them changes (a package upgrade without a
nova-compute restart): every use compares libvirt's version and the QEMU
binary the entry came from (inode, size, modification and change times,
read with ``stat``; where nova-compute cannot see the binary, as in some
containers, the hypervisor version libvirt reports).

A libvirtd that re-probes QEMU at every call (its QEMU user cannot open
``/dev/kvm``, see doc/source/reference/cpu.rst) pays seconds per call;
keeping one answer per key keeps the CPU check to one
``compareHypervisorCPU`` per guest on such a host.
"""

import os

from xloud_nova_ext.cpu import xmlcpu


class DomainCapabilities(object):
    """Cached ``getDomainCapabilities`` of one libvirt connection."""

    def __init__(self, host):
        #: nova's Host; its connection is asked for at every use (it
        #: reconnects after a libvirtd restart).
        self._host = host
        #: {(virt_type, arch, machine): (identity, parsed root)}
        self._entries = {}
        #: Number of getDomainCapabilities calls made (for tests).
        self.reads = 0

    def get(self, virt_type, arch, machine=None):
        """The parsed domain capabilities; libvirt errors propagate."""
        key = (virt_type, arch, machine)
        conn = self._host.get_connection()
        entry = self._entries.get(key)
        if entry is not None:
            identity, root = entry
            if identity == _identity(conn, root.findtext('path')):
                return root
        self.reads += 1
        root = xmlcpu.parse_xml(conn.getDomainCapabilities(
            None, arch, machine, virt_type, 0))
        self._entries[key] = (_identity(conn, root.findtext('path')), root)
        return root

    def models(self, virt_type, arch, machine=None):
        """{model: usable} of the hypervisor's custom CPU mode."""
        return xmlcpu.usable_models(self.get(virt_type, arch, machine))

    def host_model(self, virt_type, arch):
        """The host-model CPU, or None when not supported."""
        return xmlcpu.host_model(self.get(virt_type, arch))


def _identity(conn, emulator):
    """What changes when libvirt or the QEMU binary is upgraded."""
    try:
        st = os.stat(emulator)
        binary = (st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns)
    except (OSError, TypeError, ValueError):
        binary = conn.getVersion()
    return (conn.getLibVersion(), emulator, binary)
