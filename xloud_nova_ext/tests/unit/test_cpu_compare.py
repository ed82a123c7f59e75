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

"""compareHypervisorCPU's answers turned into verdicts."""

import importlib

from xloud_harness import fake_cpu
from xloud_harness import testing

from xloud_nova_ext.cpu import compare
from xloud_nova_ext.cpu import xmlcpu
from xloud_nova_ext.tests.fixtures import cpu_defs
from xloud_nova_ext.tests import requirements


class FakeLibvirtTestCase(testing.TestCase):
    """nova's Host and our code use fakelibvirt, as under nova's fixture."""

    def setUp(self):
        super().setUp()
        self.useFixture(cpu_defs.FakeLibvirt())

    def connection(self, cpu=fake_cpu.SKYLAKE):
        return fake_cpu.CPUConnection('qemu:///system', cpu=cpu,
                                      hostname='h1')


class CompareTest(FakeLibvirtTestCase):

    def test_compatible(self):
        conn = self.connection()
        verdict = compare.compare(conn, xmlcpu.CPUDef.make('Nehalem'),
                                  'kvm', 'x86_64', 'pc-q35-7.2')
        self.assertEqual(compare.Verdict(True), verdict)
        emulator, arch, machine, virt_type, xml = conn.cpu_compare_calls[0]
        self.assertEqual((None, 'x86_64', 'pc-q35-7.2', 'kvm'),
                         (emulator, arch, machine, virt_type))
        self.assertNotIn('vendor', xml)

    def test_vendor_is_never_sent(self):
        # An Intel model on an AMD host that runs it: libvirt would refuse
        # it for the vendor alone ("host CPU vendor does not match").
        conn = self.connection(fake_cpu.EPYC_HOST)
        verdict = compare.compare(
            conn, xmlcpu.CPUDef.make('Nehalem', vendor='Intel'), 'qemu')
        self.assertTrue(verdict.compatible, verdict)
        self.assertNotIn('vendor', conn.cpu_compare_calls[0][4])

    def test_missing_features_are_listed(self):
        verdict = compare.compare(
            self.connection(), xmlcpu.CPUDef.make(
                'Cascadelake-Server', {'pku': 'disable', 'ibpb': 'require'}),
            'qemu', 'x86_64')
        self.assertFalse(verdict.compatible)
        self.assertEqual(('avx512bw', 'avx512cd', 'avx512dq', 'avx512f',
                          'avx512vl', 'avx512vnni', 'ibpb'),
                         verdict.missing)
        self.assertEqual('missing avx512bw, avx512cd and 5 more',
                         verdict.reason(limit=2))
        self.assertIn('avx512vnni, ibpb', verdict.reason())

    def test_disabled_features_are_not_required(self):
        cpu = xmlcpu.CPUDef.make('Skylake-Client', {'mpx': 'disable'})
        host = fake_cpu.FakeCPU('Skylake-Client', disabled=frozenset(
            {'mpx'}))
        self.assertTrue(compare.compare(self.connection(host), cpu,
                                        'kvm').compatible)
        self.assertFalse(compare.compare(
            self.connection(host), cpu.replace(features=()),
            'kvm').compatible)

    def test_unknown_model_is_incompatible_with_libvirts_words(self):
        verdict = compare.compare(self.connection(),
                                  xmlcpu.CPUDef.make('Bogus'), 'kvm')
        self.assertFalse(verdict.compatible)
        self.assertEqual((), verdict.missing)
        self.assertIn('Unknown CPU model Bogus', verdict.reason())

    def test_no_support_is_not_a_refusal(self):
        conn = self.connection()
        conn.compare_unsupported = True
        verdict = compare.compare(conn, xmlcpu.CPUDef.make('Bogus'), 'kvm')
        self.assertTrue(verdict.compatible)
        self.assertFalse(verdict.supported)

    def test_nothing_to_compare_without_a_model(self):
        self.assertRaises(xmlcpu.CPUDefError, compare.compare,
                          self.connection(), xmlcpu.CPUDef.make(None), 'kvm')


class LibvirtModuleTest(testing.TestCase):

    def test_constants_are_libvirts(self):
        try:
            libvirt = importlib.import_module('libvirt')
        except ImportError:
            libvirt = None
        requirements.require(self, libvirt is not None,
                             'libvirt-python is not installed')
        for name in ('VIR_ERR_INTERNAL_ERROR', 'VIR_ERR_NO_SUPPORT',
                     'VIR_ERR_INVALID_ARG', 'VIR_ERR_CONFIG_UNSUPPORTED',
                     'VIR_ERR_ARGUMENT_UNSUPPORTED',
                     'VIR_ERR_OPERATION_UNSUPPORTED',
                     'VIR_ERR_CPU_INCOMPATIBLE',
                     'VIR_CPU_COMPARE_IDENTICAL', 'VIR_CPU_COMPARE_SUPERSET',
                     'VIR_CONNECT_COMPARE_CPU_FAIL_INCOMPATIBLE',
                     'VIR_CONNECT_BASELINE_CPU_EXPAND_FEATURES',
                     'VIR_CONNECT_BASELINE_CPU_MIGRATABLE'):
            self.assertEqual(getattr(libvirt, name), getattr(compare, name),
                             name)
