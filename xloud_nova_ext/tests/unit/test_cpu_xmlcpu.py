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

"""CPU definitions: reading libvirt's and nova's forms, writing ours."""

from xloud_harness import testing

from xloud_nova_ext.cpu import xmlcpu

# Excerpts of what libvirt 9.0 printed on a TCG host (an integration host).
DOMCAPS = """<domainCapabilities>
  <path>/usr/bin/qemu-system-x86_64</path>
  <domain>qemu</domain>
  <machine>pc-i440fx-7.2</machine>
  <arch>x86_64</arch>
  <cpu>
    <mode name='host-passthrough' supported='no'/>
    <mode name='host-model' supported='yes'>
      <model fallback='forbid'>EPYC</model>
      <vendor>AMD</vendor>
      <feature policy='require' name='acpi'/>
      <feature policy='require' name='svme-addr-chk'/>
      <feature policy='disable' name='vme'/>
      <feature policy='disable' name='nrip-save'/>
    </mode>
    <mode name='custom' supported='yes'>
      <model usable='yes' vendor='unknown'>qemu64</model>
      <model usable='no' vendor='Intel'>Skylake-Client</model>
      <model usable='yes' vendor='Intel'>Nehalem</model>
      <model vendor='Intel'>Mystery</model>
    </mode>
  </cpu>
</domainCapabilities>"""

CAPS_CPU = """<capabilities><host><cpu>
      <arch>x86_64</arch>
      <model>kvm64</model>
      <vendor>AMD</vendor>
      <topology sockets='1' dies='1' cores='2' threads='1'/>
      <feature name='vme'/>
      <feature name='avx512f'/>
</cpu></host></capabilities>"""

DOMAIN = """<domain type='qemu'><name>g</name>
  <os><type arch='x86_64' machine='pc-i440fx-7.2'>hvm</type></os>
  <cpu mode='custom' match='exact' check='full'>
    <model fallback='forbid'>EPYC</model>
    <vendor>AMD</vendor>
    <feature policy='require' name='acpi'/>
    <feature policy='disable' name='vme'/>
  </cpu>
</domain>"""

INCOMPATIBLE = ('the CPU is incompatible with host CPU: Host CPU does not '
                'provide required features: vme, pcid, x2apic, tsc-deadline, '
                'sse4.2')


class ReadTest(testing.TestCase):

    def test_domcaps_host_model_keeps_policies(self):
        cpu = xmlcpu.host_model(xmlcpu.parse_xml(DOMCAPS))
        self.assertEqual('EPYC', cpu.model)
        self.assertEqual('AMD', cpu.vendor)
        self.assertEqual('x86_64', cpu.arch)
        self.assertEqual(xmlcpu.HOST_MODEL, cpu.mode)
        self.assertEqual({'acpi', 'svme-addr-chk'}, cpu.required)
        self.assertEqual({'vme', 'nrip-save'}, cpu.disabled)

    def test_domcaps_without_host_model(self):
        root = xmlcpu.parse_xml(DOMCAPS.replace(
            "name='host-model' supported='yes'",
            "name='host-model' supported='no'"))
        self.assertIsNone(xmlcpu.host_model(root))

    def test_usable_models_are_the_hypervisors_verdict(self):
        self.assertEqual(
            {'qemu64': True, 'Skylake-Client': False, 'Nehalem': True,
             'Mystery': None},
            xmlcpu.usable_models(xmlcpu.parse_xml(DOMCAPS)))

    def test_host_cpu_features_have_no_policy_and_are_required(self):
        cpu = xmlcpu.from_element(xmlcpu.parse_xml(CAPS_CPU).find(
            'host/cpu'))
        self.assertEqual(('kvm64', 'AMD', 'x86_64'),
                         (cpu.model, cpu.vendor, cpu.arch))
        self.assertEqual({'vme', 'avx512f'}, cpu.required)

    def test_domain_cpu(self):
        cpu = xmlcpu.domain_cpu(DOMAIN)
        self.assertEqual(xmlcpu.CPUDef.make(
            'EPYC', {'acpi': 'require', 'vme': 'disable'}, vendor='AMD'),
            cpu)
        self.assertIsNone(xmlcpu.domain_cpu('<domain><name>g</name>'
                                            '</domain>'))

    def test_passthrough_guest_has_no_model(self):
        cpu = xmlcpu.domain_cpu("<domain><cpu mode='host-passthrough' "
                                "check='none' migratable='on'/></domain>")
        self.assertEqual((xmlcpu.HOST_PASSTHROUGH, None),
                         (cpu.mode, cpu.model))

    def test_malformed_xml_says_why(self):
        e = self.assertRaises(xmlcpu.CPUDefError, xmlcpu.parse_xml,
                              '<cpu><model>')
        self.assertIn('malformed XML', str(e))

    def test_feature_without_name_or_bad_policy(self):
        self.assertRaises(xmlcpu.CPUDefError, xmlcpu.domain_cpu,
                          '<domain><cpu><model>X</model><feature/></cpu>'
                          '</domain>')
        self.assertRaises(xmlcpu.CPUDefError, xmlcpu.domain_cpu,
                          "<domain><cpu><model>X</model><feature "
                          "policy='maybe' name='a'/></cpu></domain>")


class GuestXMLTest(testing.TestCase):

    def test_guest_xml_is_custom_exact_forbid_fallback_without_vendor(self):
        cpu = xmlcpu.domain_cpu(DOMAIN)
        xml = xmlcpu.to_guest_xml(cpu)
        root = xmlcpu.parse_xml(xml)
        self.assertEqual(('custom', 'exact'),
                         (root.get('mode'), root.get('match')))
        self.assertEqual('forbid', root.find('model').get('fallback'))
        self.assertIsNone(root.find('vendor'))
        self.assertIsNone(root.find('arch'))
        self.assertEqual(cpu.replace(vendor=None),
                         xmlcpu.from_element(root))

    def test_vendor_only_when_asked(self):
        xml = xmlcpu.to_guest_xml(xmlcpu.domain_cpu(DOMAIN),
                                  with_vendor=True)
        self.assertIn('<vendor>AMD</vendor>', xml)

    def test_names_outside_libvirts_alphabet_are_refused(self):
        for model, feature in (("a<b", 'x'), ('a', "x'y"), ('', 'x y'),
                               ('a\x00', 'x'), ('a', 'x' * 65)):
            self.assertRaises(xmlcpu.CPUDefError, xmlcpu.CPUDef.make,
                              model, {feature: 'require'})
        cpu = xmlcpu.CPUDef.make('z14.2-base', {'sse4.2': 'require',
                                                'tsc_adjust': 'disable'})
        self.assertEqual(cpu, xmlcpu.from_element(
            xmlcpu.parse_xml(xmlcpu.to_guest_xml(cpu))))

    def test_entities_are_never_resolved(self):
        for payload in (
                '<!DOCTYPE cpu [<!ENTITY x SYSTEM "file:///etc/passwd">]>'
                '<cpu><model>&x;</model></cpu>',
                '<!DOCTYPE cpu [<!ENTITY a "aaaaaaaaaa"><!ENTITY b '
                '"&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;">]><cpu><model>&b;</model>'
                '</cpu>'):
            e = self.assertRaises(xmlcpu.CPUDefError, xmlcpu.parse_xml,
                                  payload)
            self.assertIn('DTD', str(e))

    def test_no_model_no_xml(self):
        cpu = xmlcpu.CPUDef.make(None, mode=xmlcpu.HOST_PASSTHROUGH)
        self.assertRaises(xmlcpu.CPUDefError, xmlcpu.to_guest_xml, cpu)


class CompactTest(testing.TestCase):

    def test_round_trip(self):
        cpu = xmlcpu.CPUDef.make('Cascadelake-Server', {
            'tsc-deadline': 'require', 'sha-ni': 'disable', 'x': 'force',
            'y': 'optional', 'z': 'forbid'})
        text = xmlcpu.encode(cpu)
        self.assertEqual(cpu, xmlcpu.decode(text))
        self.assertTrue(text.startswith('1;Cascadelake-Server;'), text)

    def test_vendor_and_arch_are_not_recorded(self):
        cpu = xmlcpu.domain_cpu(DOMAIN).replace(arch='x86_64')
        self.assertEqual(cpu.replace(vendor=None, arch=None),
                         xmlcpu.decode(xmlcpu.encode(cpu)))

    def test_garbage_is_refused(self):
        for text in ('', '2;EPYC;+a', '1;;+a', '1;EPYC', '1;EPYC;*a',
                     '1;EPYC;+'):
            self.assertRaises(xmlcpu.CPUDefError, xmlcpu.decode, text)


class NovaFormsTest(testing.TestCase):

    def test_cpu_info(self):
        cpu = xmlcpu.from_cpu_info({'arch': 'x86_64', 'model': 'Penryn',
                                    'vendor': 'Intel',
                                    'features': ['vmx', 'ssse3']})
        self.assertEqual(xmlcpu.CPUDef.make(
            'Penryn', {'vmx': 'require', 'ssse3': 'require'},
            vendor='Intel', arch='x86_64'), cpu)
        self.assertRaises(xmlcpu.CPUDefError, xmlcpu.from_cpu_info, {})
        self.assertRaises(xmlcpu.CPUDefError, xmlcpu.from_cpu_info,
                          {'model': 'X', 'features': 'vmx'})

    def test_host_model_round_trips_through_cpu_info(self):
        hm = xmlcpu.host_model(xmlcpu.parse_xml(DOMCAPS))
        info = {'arch': 'x86_64', 'model': 'kvm64',
                xmlcpu.CPU_INFO_HOST_MODEL_KEY: xmlcpu.host_model_to_info(hm)}
        self.assertEqual(hm, xmlcpu.host_model_from_info(info))
        self.assertIsNone(xmlcpu.host_model_from_info({'model': 'kvm64'}))

    def test_vcpu_model(self):
        class Feature(object):
            def __init__(self, name, policy):
                self.name, self.policy = name, policy

        class VCPUModel(object):
            mode = 'host-model'
            model = None
            arch = 'x86_64'
            features = [Feature('pcid', 'require'), Feature('hle', 'disable')]

        cpu = xmlcpu.from_vcpu_model(VCPUModel())
        self.assertEqual((xmlcpu.HOST_MODEL, None), (cpu.mode, cpu.model))
        self.assertEqual({'pcid'}, cpu.required)
        self.assertEqual({'hle'}, cpu.disabled)


class IncompatibilityTextTest(testing.TestCase):

    def test_missing_features(self):
        missing, forbidden, detail = xmlcpu.parse_incompatibility(
            INCOMPATIBLE)
        self.assertEqual(['vme', 'pcid', 'x2apic', 'tsc-deadline', 'sse4.2'],
                         missing)
        self.assertEqual([], forbidden)
        self.assertTrue(detail.startswith('Host CPU does not provide'))

    def test_forbidden_features(self):
        missing, forbidden, _ = xmlcpu.parse_incompatibility(
            'the CPU is incompatible with host CPU: Host CPU provides '
            'forbidden features: svm, npt')
        self.assertEqual(([], ['svm', 'npt']), (missing, forbidden))

    def test_other_reasons_are_kept_as_text(self):
        missing, forbidden, detail = xmlcpu.parse_incompatibility(
            'the CPU is incompatible with host CPU: host CPU vendor does '
            'not match required CPU vendor Intel')
        self.assertEqual(([], []), (missing, forbidden))
        self.assertEqual('host CPU vendor does not match required CPU '
                         'vendor Intel', detail)
