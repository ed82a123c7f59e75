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

"""fakelibvirt hosts with CPUs that differ, compared feature by feature.

nova's fakelibvirt gives every host the same CPU, compares only arch, model
name and vendor, and has no ``baselineHypervisorCPU``. This fixture gives
each fake compute its own CPU (:class:`FakeCPU`: a model plus extra and
disabled features) and answers as libvirt's x86 CPU driver does:

* ``compareHypervisorCPU``: a guest CPU runs when the host has every feature
  its model and ``require``/``force`` features need, minus ``disable``; with
  ``VIR_CONNECT_COMPARE_CPU_FAIL_INCOMPATIBLE`` an incompatible CPU raises
  error 91 whose text lists the missing features, in libvirt's words; a
  ``<vendor>`` that differs from the host's is refused, as libvirt does;
* domains expand a host-model ``<cpu>`` into this host's host-model CPU when
  defined, so their (migratable) XML carries the CPU the guest runs, and a
  live migration carries it to the destination, as with libvirt;
* ``getDomainCapabilities`` reports this host's host-model CPU and which
  models are usable; ``getCapabilities``/``baselineCPU`` report its CPU as
  nova's ``cpu_info`` sees it; ``baselineHypervisorCPU`` intersects CPUs.

It reads and writes CPU XML itself (:class:`CPU`), so that it fakes libvirt
without borrowing the product's CPU code it is meant to test.

The model table is a hand-written simplification, enough to make hosts of
different generations differ. It is not libvirt's CPU map: libvirt's own
answers are checked against real libvirt in the integration tier (and the
unit tests that use ``qemu:///embed``), which is the truth for them.
"""

import dataclasses
from xml.sax import saxutils

from lxml import etree
from nova.tests.fixtures import libvirt as fakelibvirt

REQUIRE = 'require'
DISABLE = 'disable'
FORCE = 'force'
FORBID = 'forbid'
HOST_MODEL = 'host-model'
CUSTOM = 'custom'

# libvirt's numbers, as the python binding has them (fakelibvirt lacks some).
VIR_ERR_CPU_INCOMPATIBLE = 91
VIR_CPU_COMPARE_INCOMPATIBLE = 0
VIR_CPU_COMPARE_IDENTICAL = 1
VIR_CPU_COMPARE_SUPERSET = 2
VIR_CONNECT_COMPARE_CPU_FAIL_INCOMPATIBLE = 1


@dataclasses.dataclass(frozen=True)
class CPU:
    """A ``<cpu>``: model, sorted ``(feature, policy)`` pairs, vendor..."""

    model: str
    features: tuple = ()
    vendor: str = None
    arch: str = None
    mode: str = CUSTOM

    @classmethod
    def make(cls, model, features=None, vendor=None, arch=None,
             mode=CUSTOM):
        return cls(model or None, tuple(sorted(dict(features or {}).items())),
                   vendor or None, arch or None, mode)

    @classmethod
    def parse(cls, xml_or_elem):
        elem = xml_or_elem
        if not isinstance(elem, etree._Element):
            elem = etree.fromstring(
                elem.encode() if isinstance(elem, str) else elem)
        model = (elem.findtext('model') or '').strip()
        return cls.make(model, {f.get('name'): f.get('policy') or REQUIRE
                                for f in elem.iterfind('feature')},
                        vendor=(elem.findtext('vendor') or '').strip(),
                        arch=(elem.findtext('arch') or '').strip(),
                        mode=elem.get('mode') or CUSTOM)

    def names(self, *policies):
        return frozenset(n for n, p in self.features if p in policies)

    @property
    def required(self):
        return self.names(REQUIRE, FORCE)

    @property
    def disabled(self):
        return self.names(DISABLE, FORBID)

    def merged(self, extra):
        """This CPU with ``extra`` ({name: policy}) laid over its features."""
        feats = dict(self.features)
        feats.update(extra)
        return dataclasses.replace(self, features=tuple(sorted(feats.items())))

    def replace(self, **changes):
        return dataclasses.replace(self, **changes)

    def to_xml(self, mode=None, match=None, vendor=True, arch=False):
        """``<cpu>`` XML; a guest CPU (custom, exact) unless told."""
        mode = mode or CUSTOM
        attrs = " mode='%s'" % mode
        if mode == CUSTOM:
            attrs += " match='%s'" % (match or 'exact')
        parts = ['<cpu%s>' % attrs]
        if arch and self.arch:
            parts.append('<arch>%s</arch>' % self.arch)
        parts.append("<model fallback='forbid'>%s</model>"
                     % saxutils.escape(self.model))
        if vendor and self.vendor:
            parts.append('<vendor>%s</vendor>' % saxutils.escape(self.vendor))
        for name, policy in self.features:
            parts.append('<feature policy=%s name=%s/>' % (
                saxutils.quoteattr(policy), saxutils.quoteattr(name)))
        parts.append('</cpu>')
        return ''.join(parts)


_BASE = frozenset((
    'fpu de pse tsc msr pae mce cx8 apic sep mtrr pge mca cmov pat pse36 '
    'clflush mmx fxsr sse sse2 syscall nx lm pni').split())


def _grow(base, extra):
    return base | frozenset(extra.split())


_PENRYN = _grow(_BASE, 'ssse3 sse4.1 cx16 lahf_lm')
_NEHALEM = _grow(_PENRYN, 'sse4.2 popcnt')
_WESTMERE = _grow(_NEHALEM, 'aes pclmuldq')
_SANDYBRIDGE = _grow(_WESTMERE, 'avx xsave tsc-deadline x2apic')
_IVYBRIDGE = _grow(_SANDYBRIDGE, 'f16c rdrand fsgsbase erms smep')
_HASWELL = _grow(_IVYBRIDGE, 'avx2 bmi1 bmi2 fma movbe invpcid hle rtm')
_SKYLAKE = _grow(_HASWELL, 'adx smap rdseed xsavec mpx 3dnowprefetch')

#: model: (vendor, features). Newest last within a vendor.
MODELS = {
    'qemu64': ('', _grow(_BASE, 'cx16')),
    'Penryn': ('Intel', _PENRYN),
    'Nehalem': ('Intel', _NEHALEM),
    'Westmere': ('Intel', _WESTMERE),
    'SandyBridge': ('Intel', _SANDYBRIDGE),
    'IvyBridge': ('Intel', _IVYBRIDGE),
    'Haswell': ('Intel', _HASWELL),
    'Skylake-Client': ('Intel', _SKYLAKE),
    'Cascadelake-Server': ('Intel', _grow(
        _SKYLAKE, 'avx512f avx512dq avx512cd avx512bw avx512vl avx512vnni '
                  'pku')),
    'EPYC': ('AMD', _grow(
        _HASWELL - {'hle', 'rtm', 'invpcid'},
        'adx smap rdseed xsavec sha-ni sse4a misalignsse 3dnowprefetch osvw '
        'topoext')),
}


@dataclasses.dataclass(frozen=True)
class FakeCPU:
    """A fake host's CPU: its host-model is ``model`` +extra -disabled."""

    model: str
    extra: frozenset = frozenset()
    disabled: frozenset = frozenset()

    @property
    def vendor(self):
        return MODELS[self.model][0]

    @property
    def features(self):
        return (MODELS[self.model][1] | self.extra) - self.disabled

    def host_model(self):
        """This host's host-model CPU, as libvirt expands it."""
        feats = {f: REQUIRE for f in self.extra}
        feats.update({f: DISABLE for f in self.disabled})
        return CPU.make(self.model, feats, vendor=self.vendor,
                        arch='x86_64', mode=HOST_MODEL)

    def host_model_xml(self):
        """:meth:`host_model` as ``<cpu mode='host-model'>`` XML."""
        return self.host_model().to_xml(mode=HOST_MODEL, arch=True)

    def runs(self, model):
        return MODELS[model][1] <= self.features


#: CPUs for tests: two generations, and one host that lost two features.
CASCADELAKE = FakeCPU('Cascadelake-Server', frozenset({'vmx'}))
SKYLAKE = FakeCPU('Skylake-Client', frozenset({'vmx'}))
NEHALEM_HOST = FakeCPU('Nehalem')
EPYC_HOST = FakeCPU('EPYC', frozenset({'npt'}), frozenset({'osvw'}))


def error(msg, code):
    """A fakelibvirt libvirtError with ``code``."""
    return _error(msg, code)


def _error(msg, code):
    return fakelibvirt.make_libvirtError(
        fakelibvirt.libvirtError, msg, error_code=code,
        error_domain=fakelibvirt.VIR_FROM_QEMU)


def _cpu_of(xml_or_elem):
    return CPU.parse(xml_or_elem)


def _model_features(name):
    if name not in MODELS:
        raise _error('internal error: Unknown CPU model %s' % name,
                     fakelibvirt.VIR_ERR_INTERNAL_ERROR)
    return MODELS[name][1]


def _feature_set(cpu):
    """Features a CPU definition has or needs (model + require - disable)."""
    return (_model_features(cpu.model) | cpu.required) - cpu.disabled


def _baseline(cpus, expand):
    """libvirt-like baseline: the best model inside the common features."""
    defs = [_cpu_of(x) for x in cpus]
    vendors = {d.vendor for d in defs if d.vendor}
    if len(vendors) > 1:
        raise _error('operation failed: CPU vendors do not match',
                     fakelibvirt.VIR_ERR_OPERATION_FAILED)
    common = frozenset.intersection(*[_feature_set(d) for d in defs])
    vendor = vendors.pop() if vendors else None
    candidates = [m for m, (v, f) in MODELS.items()
                  if f <= common and (not vendor or v in ('', vendor))]
    model = max(candidates, key=lambda m: len(MODELS[m][1]))
    feats = {f: REQUIRE for f in (
        common if expand else common - MODELS[model][1])}
    return CPU.make(model, feats, vendor=vendor).to_xml()


class CPUDomain(fakelibvirt.Domain):
    """A fake domain whose XML carries the CPU the guest runs."""

    def __init__(self, connection, xml, running=False, transient=False):
        super().__init__(connection, xml, running=running,
                         transient=transient)
        self._cpu_xml = connection.live_cpu_xml(xml)

    def XMLDesc(self, flags):
        xml = super().XMLDesc(flags)
        if not self._cpu_xml:
            return xml
        return xml.replace('</domain>', self._cpu_xml + '</domain>', 1)


class CPUConnection(fakelibvirt.Connection):
    """A fakelibvirt connection to a host with CPU ``cpu``."""

    def __init__(self, *args, cpu=CASCADELAKE, **kwargs):
        super().__init__(*args, **kwargs)
        self.cpu = cpu
        #: (emulator, arch, machine, virttype, xml) of every comparison.
        self.cpu_compare_calls = []
        #: Set to make compareHypervisorCPU unsupported, as on some drivers.
        self.compare_unsupported = False
        #: Models libvirt knows but this QEMU lacks (an older QEMU): left
        #: out of the domain capabilities, yet compareHypervisorCPU, which
        #: reads libvirt's CPU map, accepts them, as real libvirt does.
        self.hidden_models = set()
        self.domcaps_calls = 0
        #: The QEMU binary named in the domain capabilities (``<path>``).
        self.emulator = None
        #: A libvirtError that compareHypervisorCPU raises, if set.
        self.compare_error = None

    # Domains.

    def live_cpu_xml(self, domain_xml):
        """The ``<cpu>`` libvirt reports for a domain started here."""
        elem = etree.fromstring(domain_xml.encode()).find('cpu')
        if elem is None:
            return ''
        cpu = CPU.parse(elem)
        if cpu.mode == HOST_MODEL:
            # libvirt expands host-model at start: this host's host-model
            # CPU plus the features nova asked for (extra flags).
            cpu = self.cpu.host_model().merged(dict(cpu.features))
            return cpu.to_xml().replace(
                "match='exact'", "match='exact' check='full'", 1)
        return etree.tostring(elem, encoding='unicode')

    def defineXML(self, xml):
        dom = CPUDomain(connection=self, running=False, transient=False,
                        xml=xml)
        self._vms[dom.name()] = dom
        self._emit_lifecycle(dom, fakelibvirt.VIR_DOMAIN_EVENT_DEFINED, 0)
        return dom

    def createXML(self, xml, flags):
        dom = CPUDomain(connection=self, running=True, transient=True,
                        xml=xml)
        self._vms[dom.name()] = dom
        self._emit_lifecycle(dom, fakelibvirt.VIR_DOMAIN_EVENT_STARTED, 0)
        return dom

    # Host CPU.

    def getCapabilities(self):
        root = etree.fromstring(super().getCapabilities())
        cpu = root.find('host/cpu')
        for child in cpu.findall('feature'):
            cpu.remove(child)
        cpu.find('model').text = self.cpu.model
        cpu.find('vendor').text = self.cpu.vendor or 'unknown'
        for name in sorted(self.cpu.extra - self.cpu.disabled):
            etree.SubElement(cpu, 'feature', name=name)
        return etree.tostring(root, encoding='unicode')

    def baselineCPU(self, cpus, flags):
        return _baseline(cpus, flags &
                         fakelibvirt.VIR_CONNECT_BASELINE_CPU_EXPAND_FEATURES)

    def baselineHypervisorCPU(self, emulator, arch, machine, virttype, cpus,
                              flags):
        return self.baselineCPU(cpus, flags)

    def getCPUModelNames(self, arch, flags=0):
        return list(MODELS)

    def getDomainCapabilities(self, emulatorbin, arch, machine_type,
                              virt_type, flags):
        self.domcaps_calls += 1
        root = etree.fromstring(super().getDomainCapabilities(
            emulatorbin, arch, machine_type, virt_type, flags))
        if self.emulator is not None:
            path = root.find('path')
            if path is None:
                path = etree.SubElement(root, 'path')
            path.text = self.emulator
        cpu_elem = root.find('cpu')
        for mode in cpu_elem.findall('mode'):
            if mode.get('name') in ('host-model', 'custom'):
                cpu_elem.remove(mode)
        host_model = self.cpu.host_model()
        mode = etree.SubElement(cpu_elem, 'mode', name='host-model',
                                supported='yes')
        etree.SubElement(mode, 'model', fallback='forbid').text = \
            host_model.model
        etree.SubElement(mode, 'vendor').text = host_model.vendor
        for name, policy in host_model.features:
            etree.SubElement(mode, 'feature', policy=policy, name=name)
        custom = etree.SubElement(cpu_elem, 'mode', name='custom',
                                  supported='yes')
        for name, (vendor, _features) in MODELS.items():
            if name in self.hidden_models:
                continue
            etree.SubElement(custom, 'model', usable='yes' if self.cpu.runs(
                name) else 'no', vendor=vendor or 'unknown').text = name
        return etree.tostring(root, encoding='unicode')

    def compareHypervisorCPU(self, emulator, arch, machine, virttype, xml,
                             flags):
        self.cpu_compare_calls.append((emulator, arch, machine, virttype,
                                       xml))
        if self.compare_unsupported:
            raise _error('this function is not supported by the connection '
                         'driver: virConnectCompareHypervisorCPU',
                         fakelibvirt.VIR_ERR_NO_SUPPORT)
        if self.compare_error is not None:
            raise self.compare_error
        cpu = _cpu_of(xml)
        host = self.cpu.features
        if cpu.vendor and cpu.vendor != self.cpu.vendor:
            problem = ('host CPU vendor does not match required CPU vendor '
                       '%s' % cpu.vendor)
        else:
            missing = sorted(_feature_set(cpu) - host)
            forbidden = sorted(cpu.names(FORBID) & host)
            problem = None
            if missing:
                problem = ('Host CPU does not provide required features: '
                           '%s' % ', '.join(missing))
            elif forbidden:
                problem = ('Host CPU provides forbidden features: %s'
                           % ', '.join(forbidden))
        if problem is None:
            return (VIR_CPU_COMPARE_IDENTICAL
                    if _feature_set(cpu) == host
                    else VIR_CPU_COMPARE_SUPERSET)
        if flags & VIR_CONNECT_COMPARE_CPU_FAIL_INCOMPATIBLE:
            raise _error('the CPU is incompatible with host CPU: %s'
                         % problem, VIR_ERR_CPU_INCOMPATIBLE)
        return VIR_CPU_COMPARE_INCOMPATIBLE


class FakeCPUHostsMixin(object):
    """For a functional test class: ``CPUS`` maps hostname to FakeCPU.

    Overrides nova's harness hook that creates each compute's fake
    connection (``_get_connection``) to create a :class:`CPUConnection`.
    """

    CPUS = {}
    DEFAULT_CPU = CASCADELAKE

    def _get_connection(self, host_info=None, pci_info=None, mdev_info=None,
                        vdpa_info=None, libvirt_version=None,
                        qemu_version=None, hostname=None):
        return CPUConnection(
            'qemu:///system',
            version=libvirt_version or fakelibvirt.FAKE_LIBVIRT_VERSION,
            hv_version=qemu_version or fakelibvirt.FAKE_QEMU_VERSION,
            host_info=host_info, pci_info=pci_info, mdev_info=mdev_info,
            vdpa_info=vdpa_info, hostname=hostname,
            cpu=self.CPUS.get(hostname, self.DEFAULT_CPU))

    def connection(self, hostname):
        return self.computes[hostname].driver._host.get_connection()
