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

"""The cluster baseline: chunks, vendors, input errors, the matrix.

Two kinds of tests: logic on fakelibvirt hosts (fake_cpu, a simplified CPU
table), and libvirt's own answers through an embedded real libvirt
(``qemu:///embed``), which is the truth for what libvirt computes.
"""

import random


from xloud_harness import fake_cpu
from xloud_harness import testing

from xloud_nova_ext.cpu import baseline
from xloud_nova_ext.cpu import compare
from xloud_nova_ext.cpu import inputs
from xloud_nova_ext.cpu import xmlcpu
from xloud_nova_ext import exception
from xloud_nova_ext.tests.fixtures import embedded_libvirt
from xloud_nova_ext.tests import requirements
from xloud_nova_ext.tests.unit import test_cpu_compare


def host(name, model, features=None, vendor=None, **kwargs):
    return inputs.HostCPU(name=name, source='%s.xml' % name,
                          cpu=xmlcpu.CPUDef.make(model, features,
                                                 vendor=vendor,
                                                 arch='x86_64'), **kwargs)


class FakeBaselineTest(test_cpu_compare.FakeLibvirtTestCase):

    def setUp(self):
        super().setUp()
        self.conn = self.connection(fake_cpu.CASCADELAKE)

    def tool(self, chunk_size=None):
        return baseline.Baseliner(self.conn, 'x86_64', 'kvm', chunk_size)

    def test_distinct_cpus_in_chunks_then_one_naming_call(self):
        hosts = [host('h%d' % i, 'Skylake-Client', {'vmx': 'require'})
                 for i in range(50)]
        hosts += [host('n%d' % i, 'Haswell', {'f%d' % i: 'require'})
                  for i in range(9)]
        tool = self.tool(chunk_size=4)
        cpu, dropped = tool.baseline(hosts)
        self.assertFalse(dropped)
        self.assertEqual('Haswell', cpu.model)
        # 10 distinct CPUs: 3 chunks, then 1 call for their 3 results,
        # then 1 call naming the common features.
        self.assertEqual(5, tool.calls)
        self.assertEqual(cpu, self.tool().baseline(hosts)[0])

    def test_chunks_never_exceed_libvirts_maximum(self):
        self.assertEqual(256, self.tool(chunk_size=1000).chunk_size)

    def test_mixed_vendors_intersect_feature_sets(self):
        hosts = [host('i', 'Skylake-Client', vendor='Intel'),
                 host('a', 'EPYC', vendor='AMD')]
        cpu, dropped = self.tool().baseline(hosts)
        self.assertTrue(dropped)
        self.assertIsNone(cpu.vendor)
        self.assertTrue(fake_cpu.FakeCPU('Skylake-Client').runs(cpu.model))
        self.assertTrue(fake_cpu.FakeCPU('EPYC').runs(cpu.model))

    def test_unknown_model_names_its_input(self):
        e = self.assertRaises(exception.BaselineInputError,
                              self.tool().check_models,
                              [host('ok', 'Nehalem'), host('bad', 'Bogus')])
        self.assertEqual("bad.xml: unknown CPU model 'Bogus' (not in the CPU "
                         "map of the libvirt that computes the baseline)",
                         e.cause)

    def test_cells(self):
        tool = self.tool()
        sky = host('sky', 'Skylake-Client', {'vmx': 'require'})
        cascade = xmlcpu.CPUDef.make('Cascadelake-Server')
        cell = tool.cell(sky, cascade)
        self.assertEqual((False, 'features'), (cell.runs, cell.checked_by))
        self.assertIn('avx512f', cell.lacks)
        self.assertTrue(tool.cell(sky, xmlcpu.CPUDef.make('Nehalem')).runs)
        # A host's domain capabilities have the last word on bare models.
        told = host('told', 'Skylake-Client', usable={'Nehalem': False})
        cell = tool.cell(told, xmlcpu.CPUDef.make('Nehalem'))
        self.assertEqual((False, 'usable', ()),
                         (cell.runs, cell.checked_by, cell.lacks))
        # A host we are connected to answers itself.
        live = host('live', 'Skylake-Client', conn=self.connection(
            fake_cpu.SKYLAKE), virt_type='qemu')
        cell = tool.cell(live, cascade)
        self.assertEqual((False, 'libvirt'), (cell.runs, cell.checked_by))
        self.assertIn('avx512f', cell.lacks)
        self.assertEqual('qemu', live.conn.cpu_compare_calls[-1][3])

    def test_nova_conf(self):
        cpu = xmlcpu.CPUDef.make('IvyBridge', {'pcid': 'require',
                                               'x2apic': 'disable'})
        self.assertEqual(['pcid', '-x2apic'], baseline.extra_flags(cpu))
        self.assertEqual('[libvirt]\ncpu_mode = custom\ncpu_models = '
                         'IvyBridge\ncpu_model_extra_flags = pcid, -x2apic\n',
                         baseline.nova_conf(cpu))
        self.assertNotIn('extra', baseline.nova_conf(
            xmlcpu.CPUDef.make('IvyBridge')))


INTEL = ('Skylake-Client', 'Cascadelake-Server', 'Haswell', 'Broadwell',
         'IvyBridge', 'Icelake-Server', 'Westmere')
EXTRA = ('vmx', 'pdpe1gb', 'ssbd', 'spec-ctrl', 'md-clear', 'hypervisor',
         'arch-capabilities', 'tsc_adjust', 'xsaves', 'invtsc')


def random_hosts(rng, count, models=INTEL, vendor='Intel'):
    hosts = []
    for i in range(count):
        features = {f: 'require'
                    for f in rng.sample(EXTRA, rng.randint(0, 6))}
        if rng.random() < 0.3:
            features[rng.choice(('avx2', 'aes', 'sse4.2'))] = 'disable'
        hosts.append(host('h%d' % i, rng.choice(models), features,
                          vendor=vendor))
    return hosts


class LibvirtBaselineTest(testing.TestCase):
    """Against libvirt's real CPU maps (an embedded QEMU driver)."""

    def setUp(self):
        super().setUp()
        self.libvirt = self.useFixture(embedded_libvirt.EmbeddedLibvirt(self))

    def tool(self, chunk_size=None, virt_type='qemu'):
        return baseline.Baseliner(self.libvirt.conn, 'x86_64', virt_type,
                                  chunk_size)

    def test_chunked_baseline_equals_one_call(self):
        # Small groups too: without the naming step, libvirt names the
        # chunked result differently in about one case out of ten.
        for seed in range(16):
            rng = random.Random(seed)
            hosts = random_hosts(rng, rng.randint(3, 12) if seed < 12
                                 else rng.randint(30, 60))
            whole = self.tool()
            answer = whole.baseline(hosts)
            for size in (7, 2):
                chunked = self.tool(chunk_size=size)
                self.assertEqual(answer, chunked.baseline(hosts),
                                 (seed, size))
            # It was chunked: more calls than the one-call baseline.
            self.assertGreater(chunked.calls, whole.calls)

    def test_baseline_is_accepted_by_libvirt_and_runs_everywhere(self):
        hosts = random_hosts(random.Random(7), 30)
        tool = self.tool()
        cpu, _ = tool.baseline(hosts)
        self.assertTrue(compare.compare(self.libvirt.conn, cpu, 'qemu',
                                        'x86_64').compatible)
        for one in hosts:
            self.assertTrue(tool.cell(one, cpu).runs, one)

    def test_libvirt_one_call_baseline_can_be_refused_by_its_hypervisor(self):
        # Why settle() exists: libvirt 9.0 (TCG) baselines Skylake-Client
        # and Haswell into a CPU requiring hle and rtm, then refuses it.
        sky, has = (xmlcpu.to_guest_xml(xmlcpu.CPUDef.make(m, vendor='Intel'),
                                        with_vendor=True)
                    for m in ('Skylake-Client', 'Haswell'))
        raw = xmlcpu.domain_cpu('<domain>%s</domain>' % (
            self.libvirt.conn.baselineHypervisorCPU(
                None, 'x86_64', None, 'qemu', [sky, has],
                compare.VIR_CONNECT_BASELINE_CPU_MIGRATABLE)))
        verdict = compare.compare(self.libvirt.conn, raw, 'qemu', 'x86_64')
        ours, _ = self.tool().baseline([host('s', 'Skylake-Client',
                                             vendor='Intel'),
                                        host('h', 'Haswell',
                                             vendor='Intel')])
        self.assertTrue(compare.compare(self.libvirt.conn, ours, 'qemu',
                                        'x86_64').compatible)
        # The premise holds on the libvirt CI installs (Debian 12's 9.0); a
        # libvirt that fixed this makes settle() unneeded, not wrong, so
        # elsewhere this skips with the reason, and fails under CI's
        # XLOUD_TEST_REQUIRE_ALL, where the premise must hold.
        requirements.require(
            self, not verdict.compatible,
            'this libvirt accepts its own baseline: %s' % raw.describe())
        self.assertLessEqual({'hle', 'rtm'}, set(verdict.missing))

    def test_mixed_vendors(self):
        rng = random.Random(3)
        hosts = random_hosts(rng, 10) + random_hosts(
            rng, 10, models=('EPYC', 'EPYC-Rome', 'Opteron_G3'), vendor='AMD')
        tool = self.tool()
        cpu, dropped = tool.baseline(hosts)
        self.assertTrue(dropped)
        for one in hosts:
            self.assertTrue(tool.cell(one, cpu).runs, one)
        self.assertEqual(cpu, self.tool(chunk_size=3).baseline(hosts)[0])

    def test_expand_reads_libvirts_cpu_map_not_the_hypervisor(self):
        # Under TCG, baselineHypervisorCPU would disable AVX-512.
        tool = self.tool()
        self.assertLessEqual({'avx512f', 'avx512vnni', 'sse4.2'},
                             tool.expand('Cascadelake-Server'))
        self.assertEqual('Intel', tool.vendor_of('Cascadelake-Server'))
        self.assertIsNone(tool.vendor_of('qemu64'))

    def test_an_input_libvirt_refuses_is_found_and_named(self):
        hosts = random_hosts(random.Random(5), 12)
        hosts[9] = host('evil', 'Haswell', {'warp-drive': 'require'},
                        vendor='Intel')
        e = self.assertRaises(exception.BaselineInputError,
                              self.tool(chunk_size=5).baseline, hosts)
        self.assertTrue(e.cause.startswith('evil.xml: '), e.cause)
        self.assertIn('warp-drive', e.cause)

    def test_unknown_model(self):
        e = self.assertRaises(exception.BaselineInputError,
                              self.tool().check_models,
                              [host('bad', 'Pentium-9000')])
        self.assertIn("unknown CPU model 'Pentium-9000'", e.cause)
