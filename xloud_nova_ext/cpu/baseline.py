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

"""A common CPU baseline for many hosts, and who can run what.

:class:`Baseliner` works over one libvirt connection (any host of the right
architecture: libvirt's CPU map does the work, not a table of ours):

* :meth:`~Baseliner.baseline` - ``baselineHypervisorCPU`` of the distinct
  host CPUs, in chunks (libvirt's remote protocol refuses more than 256 CPUs
  per call), the chunk results baselined again: a baseline is the common
  feature set named by the best model, so baselining baselines gives the
  same answer (a unit test checks it against one call on real libvirt);
* :meth:`~Baseliner.cell` - can a host run a candidate model? The host's
  own libvirt answers when we have a connection to it, its domain
  capabilities' ``usable`` flag when we read them, otherwise feature sets
  expanded from libvirt's CPU map; "lacks" lists the features it misses.
"""

import dataclasses

from xloud_nova_ext.cpu import compare
from xloud_nova_ext.cpu import inputs
from xloud_nova_ext.cpu import xmlcpu

#: libvirt's REMOTE_CPU_BASELINE_MAX: more CPUs per call are refused over
#: the wire ("xmlCPUs length greater than maximum").
MAX_CPUS_PER_CALL = 256


@dataclasses.dataclass(frozen=True)
class Cell(object):
    """Can one host run one candidate CPU?"""

    runs: bool
    lacks: tuple = ()
    #: Who answered: 'libvirt' (the host's own), 'usable' (its domain
    #: capabilities), 'features' (feature sets from libvirt's CPU map).
    checked_by: str = 'features'
    detail: str = ''


class Baseliner(object):

    def __init__(self, conn, arch, virt_type=None, chunk_size=None,
                 progress=None):
        self.conn = conn
        self.arch = arch
        self.virt_type = virt_type
        self.chunk_size = min(chunk_size or MAX_CPUS_PER_CALL,
                              MAX_CPUS_PER_CALL)
        self.progress = progress or (lambda *args: None)
        self._expanded = {}
        self._known = None
        self._vendors = None
        self._feature_sets = {}
        #: Number of baselineHypervisorCPU calls made (for tests).
        self.calls = 0

    # libvirt.

    def _baseline_xml(self, xmls, flags):
        self.calls += 1
        return self.conn.baselineHypervisorCPU(
            None, self.arch, None, self.virt_type, xmls, flags)

    def known_models(self):
        if self._known is None:
            self._known = set(self.conn.getCPUModelNames(self.arch, 0))
        return self._known

    def _expansion(self, model):
        # libvirt's plain (not hypervisor) baseline of one host CPU with
        # EXPAND_FEATURES lists a model's features from the CPU map alone;
        # baselineHypervisorCPU would drop those the connection's own
        # hypervisor lacks (under TCG: AVX and most of what came after).
        if model not in self._expanded:
            xml = self.conn.baselineCPU(
                [xmlcpu.to_host_xml(model, self.arch)],
                compare.VIR_CONNECT_BASELINE_CPU_EXPAND_FEATURES)
            self._expanded[model] = xmlcpu.cpu_from_xml(xml)
        return self._expanded[model]

    def expand(self, model):
        """All features of a named model, from libvirt's CPU map."""
        return self._expansion(model).required

    def vendor_of(self, model):
        """The vendor of a named model (None for neutral ones: qemu64...).

        Read from the computing hypervisor's domain capabilities, which
        list every model of libvirt's CPU map with its vendor.
        """
        if self._vendors is None:
            root = xmlcpu.parse_xml(self.conn.getDomainCapabilities(
                None, self.arch, None, self.virt_type, 0))
            self._vendors = {
                m.text.strip(): m.get('vendor')
                for m in root.iterfind("cpu/mode[@name='custom']/model")
                if m.get('vendor') not in (None, 'unknown')}
        return self._vendors.get(model)

    def feature_set(self, cpu):
        """Features a CPU has or needs: its model's + required - disabled."""
        found = self._feature_sets.get(cpu)
        if found is None:
            found = self._feature_sets[cpu] = (
                (self.expand(cpu.model) | cpu.required) - cpu.disabled)
        return found

    # Baseline.

    def check_models(self, hosts):
        """Refuse, naming the input, a model libvirt's CPU map lacks."""
        known = self.known_models()
        for host in hosts:
            if host.cpu.model not in known:
                raise inputs.input_error(host.source, (
                    'unknown CPU model %r (not in the CPU map of the libvirt '
                    'that computes the baseline)' % host.cpu.model))

    def baseline(self, hosts):
        """The baseline CPU of ``hosts`` (HostCPUs), as a CPUDef.

        Returns (cpu, vendor_dropped). Four steps:

        1. ``baselineHypervisorCPU`` of the distinct CPUs, in chunks of at
           most 256, then of the chunk results, and so on;
        2. the feature set of that result (libvirt's CPU map);
        3. :meth:`name`: one more call names that set canonically, so the
           answer does not depend on how the inputs were chunked (libvirt
           may name one feature set differently);
        4. :meth:`settle`: the computing hypervisor must accept the result.

        libvirt refuses to baseline CPUs of several vendors ("CPU vendors
        do not match", depending on their order); then step 1 is replaced
        by the intersection of the feature sets, and the vendor is dropped.
        """
        distinct = {}
        for host in hosts:
            cpu = host.cpu
            distinct.setdefault((cpu.model, cpu.features, cpu.vendor), host)
        distinct = {host.cpu.replace(arch=None, mode='custom'): host
                    for host in distinct.values()}
        vendors = {cpu.vendor or self.vendor_of(cpu.model)
                   for cpu in distinct} - {None}
        if len(vendors) > 1:
            self.progress('baseline: %d CPUs of several vendors'
                          % len(distinct))
            common = frozenset.intersection(*[self.feature_set(c)
                                              for c in distinct])
            return self.settle(self.name(common, None)), True
        vendor = vendors.pop() if vendors else None
        items = [(xmlcpu.to_guest_xml(cpu, with_vendor=True), host.source)
                 for cpu, host in distinct.items()]
        level = 0
        while len(items) > 1 or level == 0:
            chunks = [items[i:i + self.chunk_size]
                      for i in range(0, len(items), self.chunk_size)]
            results = []
            for n, chunk in enumerate(chunks, 1):
                self.progress('baseline: %d CPUs, chunk %d of %d'
                              % (len(items), n, len(chunks)))
                results.append((self._baseline_chunk(chunk),
                                'baseline of %d inputs' % len(chunk)))
            items = results
            level += 1
        found = xmlcpu.cpu_from_xml(items[0][0])
        return self.settle(self.name(self.feature_set(found), vendor)), False

    def name(self, features, vendor):
        """libvirt's name for a feature set: model + extra flags.

        One host CPU made of the largest model inside the set (of the
        vendor, or vendor-neutral like qemu64) plus the other features.
        """
        inside = [m for m in sorted(self.known_models())
                  if self.vendor_of(m) in (None, vendor) and
                  self.expand(m) <= features]
        if not inside:
            raise inputs.input_error(
                'the inputs', 'their CPUs have too few features in common '
                'to name a CPU model')
        base = max(inside, key=lambda m: len(self.expand(m)))
        host_cpu = xmlcpu.to_host_xml(
            base, self.arch, vendor, sorted(features - self.expand(base)))
        xml = self._baseline_xml([host_cpu],
                                 compare.VIR_CONNECT_BASELINE_CPU_MIGRATABLE)
        return xmlcpu.cpu_from_xml(xml).replace(arch=self.arch, vendor=vendor)

    def settle(self, cpu):
        """``cpu`` as the computing hypervisor accepts it.

        libvirt 9.0's baseline may require features its own hypervisor
        then refuses (seen under TCG: a baseline of Skylake-Client and
        Haswell requires hle and rtm); we drop what it reports missing.
        """
        for _ in range(3):
            verdict = compare.compare(self.conn, cpu, self.virt_type,
                                      self.arch)
            if verdict.compatible:
                return cpu
            if not verdict.missing:
                break
            features = dict(cpu.features)
            for name in verdict.missing:
                if features.get(name) in (xmlcpu.REQUIRE, xmlcpu.FORCE):
                    del features[name]
                else:
                    features[name] = xmlcpu.DISABLE
            cpu = cpu.replace(features=tuple(sorted(features.items())))
        raise inputs.input_error(
            'the baseline %s' % cpu.describe(),
            'the libvirt computing it refuses it: %s' % verdict.reason())

    def _baseline_chunk(self, chunk):
        try:
            return self._baseline_xml(
                [xml for xml, _ in chunk],
                compare.VIR_CONNECT_BASELINE_CPU_MIGRATABLE)
        except compare.libvirt_error() as e:
            if len(chunk) == 1:
                raise inputs.input_error(chunk[0][1], compare.first_line(e))
            # Find the input libvirt refuses: only on this error path.
            half = len(chunk) // 2
            self._baseline_chunk(chunk[:half])
            self._baseline_chunk(chunk[half:])
            raise inputs.input_error(
                '%d inputs' % len(chunk), compare.first_line(e))

    # Who can run what.

    def cell(self, host, candidate):
        """A :class:`Cell`: can ``host`` (a HostCPU) run ``candidate``?"""
        lacks = tuple(sorted(self.feature_set(candidate) -
                             self.feature_set(host.cpu)))
        if host.conn is not None:
            verdict = compare.compare(host.conn, candidate, host.virt_type,
                                      self.arch)
            return Cell(verdict.compatible,
                        tuple(verdict.missing) or (
                            () if verdict.compatible else lacks),
                        'libvirt', verdict.detail)
        bare = not candidate.features
        if bare and host.usable and host.usable.get(candidate.model) \
                is not None:
            return Cell(host.usable[candidate.model], lacks, 'usable')
        return Cell(not lacks, lacks, 'features')


def extra_flags(cpu):
    """nova's cpu_model_extra_flags for a CPU: required, -disabled."""
    return ([n for n in sorted(cpu.names(xmlcpu.REQUIRE, xmlcpu.FORCE))] +
            ['-' + n for n in sorted(cpu.names(xmlcpu.DISABLE,
                                               xmlcpu.FORBID))])


def nova_conf(cpu):
    """The [libvirt] snippet that gives every guest this baseline."""
    lines = ['[libvirt]', 'cpu_mode = custom', 'cpu_models = %s' % cpu.model]
    flags = extra_flags(cpu)
    if flags:
        lines.append('cpu_model_extra_flags = %s' % ', '.join(flags))
    return '\n'.join(lines) + '\n'
