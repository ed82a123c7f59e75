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

"""Does a CPU run on a hypervisor? libvirt's ``compareHypervisorCPU``.

We always pass the guest's virt type, arch and machine type (nova passes
none of them, so libvirt compares against its default, which is KVM even
for a ``virt_type = qemu`` host) and ``VIR_CONNECT_COMPARE_CPU_FAIL_
INCOMPATIBLE``, so that an incompatible CPU comes back as error 91 whose
text lists the missing features.
"""

import dataclasses
import importlib
import sys

from xloud_nova_ext.cpu import xmlcpu

# libvirt ABI numbers (stable: libvirt never renumbers). Spelled out because
# nova's fakelibvirt lacks some of them.
VIR_ERR_NO_SUPPORT = 3
VIR_ERR_CPU_INCOMPATIBLE = 91
VIR_CPU_COMPARE_ERROR = -1
VIR_CPU_COMPARE_INCOMPATIBLE = 0
VIR_CPU_COMPARE_IDENTICAL = 1
VIR_CPU_COMPARE_SUPERSET = 2
VIR_CONNECT_COMPARE_CPU_FAIL_INCOMPATIBLE = 1
VIR_CONNECT_BASELINE_CPU_EXPAND_FEATURES = 1
VIR_CONNECT_BASELINE_CPU_MIGRATABLE = 2
VIR_DOMAIN_XML_MIGRATABLE = 8


def libvirt_module():
    """The libvirt module whose connections we are handed.

    nova imports libvirt in ``nova.virt.libvirt.host`` and nova's test
    fixtures replace it there with fakelibvirt; follow that module so that
    we catch the error class the connection raises. Without nova loaded
    (the baseline tool), import libvirt itself.
    """
    host = sys.modules.get('nova.virt.libvirt.host')
    if host is not None and getattr(host, 'libvirt', None) is not None:
        return host.libvirt
    return importlib.import_module('libvirt')


def libvirt_error():
    return libvirt_module().libvirtError


@dataclasses.dataclass(frozen=True)
class Verdict:
    """libvirt's answer about one CPU on one hypervisor."""

    compatible: bool
    #: Features the CPU requires that the hypervisor cannot provide.
    missing: tuple = ()
    #: Features the CPU forbids that the hypervisor has.
    forbidden: tuple = ()
    #: libvirt's own words (empty when compatible).
    detail: str = ''
    #: False when this hypervisor cannot compare CPUs at all.
    supported: bool = True

    def reason(self, limit=None):
        """One phrase for an error message: what is missing, or why not.

        ``limit`` caps how many feature names are spelled out.
        """
        parts = []
        if self.missing:
            parts.append('missing ' + _names(self.missing, limit))
        if self.forbidden:
            parts.append('has forbidden ' + _names(self.forbidden, limit))
        return '; '.join(parts) or self.detail or 'incompatible'


def _names(names, limit):
    if limit is None or len(names) <= limit:
        return ', '.join(names)
    return '%s and %d more' % (', '.join(names[:limit]), len(names) - limit)


def compare(conn, cpu, virt_type, arch=None, machine=None, emulator=None):
    """Can the hypervisor behind ``conn`` run ``cpu`` (a :class:`CPUDef`)?

    ``emulator`` None means the emulator libvirt itself picks for
    ``arch``/``virt_type``, which is the one nova's guests get: nova never
    writes ``<emulator>`` into a domain. Returns a :class:`Verdict`;
    libvirt errors other than incompatibility and "not supported" come
    back as an incompatible verdict carrying libvirt's text (an unknown
    model or machine type fails the migration just the same).
    """
    xml = xmlcpu.to_guest_xml(cpu)
    try:
        result = conn.compareHypervisorCPU(
            emulator, arch, machine, virt_type, xml,
            VIR_CONNECT_COMPARE_CPU_FAIL_INCOMPATIBLE)
    except libvirt_error() as e:
        code = e.get_error_code()
        if code == VIR_ERR_NO_SUPPORT:
            return Verdict(True, detail=str(e), supported=False)
        if code == VIR_ERR_CPU_INCOMPATIBLE:
            missing, forbidden, detail = xmlcpu.parse_incompatibility(str(e))
            return Verdict(False, tuple(missing), tuple(forbidden), detail)
        return Verdict(False, detail=_first_line(str(e)))
    if result in (VIR_CPU_COMPARE_IDENTICAL, VIR_CPU_COMPARE_SUPERSET):
        return Verdict(True)
    # Only reached if libvirt ignored FAIL_INCOMPATIBLE (it never does for
    # x86) or returned an error code without raising.
    return Verdict(False, detail='libvirt compareHypervisorCPU returned %s'
                   % result)


def _first_line(text):
    return (text or '').strip().splitlines()[0] if text else ''
