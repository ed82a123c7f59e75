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

from xloud_nova_ext.cpu import xmlcpu

#: The libvirt module, imported at first use as nova's own libvirt modules
#: do (the baseline tool parses files and prints --help without it). Test
#: fixtures set it to nova's fakelibvirt.
libvirt = None

# libvirt ABI numbers (stable: libvirt never renumbers). Spelled out because
# nova's fakelibvirt lacks some of them.
VIR_ERR_INTERNAL_ERROR = 1
VIR_ERR_NO_SUPPORT = 3
VIR_ERR_INVALID_ARG = 8
VIR_ERR_CONFIG_UNSUPPORTED = 67
VIR_ERR_ARGUMENT_UNSUPPORTED = 74
VIR_ERR_OPERATION_UNSUPPORTED = 84
VIR_ERR_CPU_INCOMPATIBLE = 91
VIR_CPU_COMPARE_IDENTICAL = 1
VIR_CPU_COMPARE_SUPERSET = 2
VIR_CONNECT_COMPARE_CPU_FAIL_INCOMPATIBLE = 1
VIR_CONNECT_BASELINE_CPU_EXPAND_FEATURES = 1
VIR_CONNECT_BASELINE_CPU_MIGRATABLE = 2

#: "This hypervisor cannot compare CPUs": no answer about the guest. From
#: libvirt 9.0's qemuConnectCompareHypervisorCPU (src/qemu/qemu_driver.c)
#: and virCPUCompare (src/cpu/cpu.c): OPERATION_UNSUPPORTED for every arch
#: but x86 and s390 ("comparing with the hypervisor CPU is not supported
#: for arch aarch64/ppc64le"), for s390x whose QEMU lacks
#: query-cpu-model-comparison, and for a QEMU that reports no host-model
#: CPU for the virt type; NO_SUPPORT where the driver or the arch's CPU
#: driver has no compare ("cannot compare CPUs of ... architecture");
#: ARGUMENT_UNSUPPORTED where a driver refuses our flags.
CANNOT_JUDGE = frozenset((VIR_ERR_NO_SUPPORT, VIR_ERR_OPERATION_UNSUPPORTED,
                          VIR_ERR_ARGUMENT_UNSUPPORTED))
#: Answers about this guest on this host, besides CPU_INCOMPATIBLE (x86's
#: feature list; s390x's QEMU answers "incompatible" without one): the
#: machine type or accelerator is not supported by the emulator, or no
#: emulator serves the arch (virQEMUCapsCacheLookupDefault): the guest
#: cannot start here either.
REFUSES = frozenset((VIR_ERR_CPU_INCOMPATIBLE, VIR_ERR_INVALID_ARG,
                     VIR_ERR_CONFIG_UNSUPPORTED))
#: libvirt's text for a model its CPU map lacks (VIR_ERR_INTERNAL_ERROR,
#: src/cpu/cpu_x86.c): an answer too. Any other error (connection, RPC,
#: timeout, a QEMU probe that failed) says nothing about the guest.
_UNKNOWN_MODEL = 'Unknown CPU model'


def libvirt_module():
    """The libvirt module (imported on first use)."""
    global libvirt
    if libvirt is None:
        libvirt = importlib.import_module('libvirt')
    return libvirt


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
    #: True when libvirt failed for a reason that says nothing about the
    #: CPU (a dropped connection, a timeout): the check could not be made.
    failed: bool = False

    @property
    def judged(self):
        """True when this is an answer about the CPU."""
        return self.supported and not self.failed

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
    writes ``<emulator>`` into a domain. Returns a :class:`Verdict`: an
    answer (compatible or not), "cannot compare here" (``supported``
    False), or "could not check" (``failed``) for errors that say nothing
    about the CPU.
    """
    xml = xmlcpu.to_guest_xml(cpu)
    try:
        result = conn.compareHypervisorCPU(
            emulator, arch, machine, virt_type, xml,
            VIR_CONNECT_COMPARE_CPU_FAIL_INCOMPATIBLE)
    except libvirt_error() as e:
        return verdict_of_error(e)
    if result in (VIR_CPU_COMPARE_IDENTICAL, VIR_CPU_COMPARE_SUPERSET):
        return Verdict(True)
    # Only reached if libvirt ignored FAIL_INCOMPATIBLE (it never does for
    # x86) or returned an error code without raising.
    return Verdict(False, detail='libvirt compareHypervisorCPU returned %s'
                   % result)


def verdict_of_error(error):
    """The :class:`Verdict` a libvirt error from compareHypervisorCPU means."""
    code = error.get_error_code()
    text = first_line(error)
    if code in CANNOT_JUDGE:
        return Verdict(True, detail=text, supported=False)
    if code == VIR_ERR_CPU_INCOMPATIBLE:
        missing, forbidden, detail = xmlcpu.parse_incompatibility(str(error))
        return Verdict(False, tuple(missing), tuple(forbidden),
                       detail or text)
    if code in REFUSES or (code == VIR_ERR_INTERNAL_ERROR and
                           _UNKNOWN_MODEL in text):
        return Verdict(False, detail=text)
    return Verdict(False, detail=text, failed=True)


def first_line(error):
    """The first line of an error's text, or its class name."""
    text = str(error).strip()
    return text.splitlines()[0] if text else type(error).__name__
