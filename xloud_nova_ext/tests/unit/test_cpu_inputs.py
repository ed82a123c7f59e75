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

"""What the baseline tool reads: XML and JSON host descriptions."""

import json
import os

import fixtures
from nova.tests.fixtures import libvirt as fakelibvirt

from xloud_harness import fake_cpu
from xloud_harness import testing

from xloud_nova_ext.cpu import inputs
from xloud_nova_ext.cpu import xmlcpu
from xloud_nova_ext import exception
from xloud_nova_ext.tests.fixtures import cpu_defs
from xloud_nova_ext.tests.unit import test_cpu_xmlcpu as samples

CPU_INFO = {'arch': 'x86_64', 'model': 'Skylake-Client', 'vendor': 'Intel',
            'topology': {'sockets': 1, 'cores': 4, 'threads': 2},
            'features': ['vmx', 'pcid']}


class FilesTest(testing.TestCase):

    def setUp(self):
        super().setUp()
        self.dir = self.useFixture(fixtures.TempDir()).path
        self.reader = inputs.FileReader()

    def write(self, name, data):
        path = os.path.join(self.dir, name)
        with open(path, 'w') as f:
            f.write(data if isinstance(data, str) else json.dumps(data))
        return path

    def read(self, name, data):
        return self.reader.read(self.write(name, data))

    def assertInputError(self, source, detail, name, data):
        e = self.assertRaises(exception.BaselineInputError, self.read, name,
                              data)
        self.assertEqual('xloud.cpu.baseline_input', e.code)
        self.assertTrue(e.cause.startswith(source), e.cause)
        self.assertIn(detail, e.cause)
        self.assertNotIn('\n', e.cause)

    def test_domcapabilities(self):
        [host] = self.read('cmp1.xml', samples.DOMCAPS)
        self.assertEqual(('cmp1', 'EPYC', 'x86_64', 'qemu'),
                         (host.name, host.cpu.model, host.arch,
                          host.virt_type))
        self.assertEqual({'vme', 'nrip-save'}, host.cpu.disabled)
        self.assertFalse(host.usable['Skylake-Client'])

    def test_capabilities_and_bare_cpu(self):
        [host] = self.read('cmp2.xml', samples.CAPS_CPU)
        self.assertEqual(('cmp2', 'kvm64', {'vme', 'avx512f'}),
                         (host.name, host.cpu.model, host.cpu.required))
        [host] = self.read('cmp3.xml', "<cpu><model>Nehalem</model></cpu>")
        self.assertEqual(('Nehalem', None), (host.cpu.model, host.arch))

    def test_hypervisor_show_json_with_cpu_info_string(self):
        [host] = self.read('h.json', {'hypervisor_hostname': 'cmp4',
                                      'cpu_info': json.dumps(CPU_INFO)})
        self.assertEqual(('cmp4', 'Skylake-Client', {'vmx', 'pcid'}),
                         (host.name, host.cpu.model, host.cpu.required))

    def test_os_hypervisors_api_prefers_our_host_model(self):
        info = dict(CPU_INFO, xloud_host_model={
            'model': 'Skylake-Client', 'vendor': 'Intel',
            'features': ['vmx'], 'disabled': ['mpx']})
        doc = {'hypervisors': [
            {'hypervisor_hostname': 'a', 'cpu_info': CPU_INFO},
            {'hypervisor_hostname': 'b', 'cpu_info': info}]}
        a, b = self.read('list.json', doc)
        self.assertEqual(xmlcpu.HOST_MODEL, b.cpu.mode)
        self.assertEqual({'mpx'}, b.cpu.disabled)
        self.assertEqual(set(), a.cpu.disabled)
        self.assertTrue(b.source.endswith('list.json[1]'), b.source)
        [c] = self.read('show.json', {'hypervisor': {
            'hypervisor_hostname': 'c', 'cpu_info': CPU_INFO}})
        self.assertEqual('c', c.name)

    def test_identical_files_are_parsed_once(self):
        paths = [self.write('n%d.xml' % i, samples.DOMCAPS)
                 for i in range(3)]
        parse = inputs.parse_bytes
        calls = []
        self.useFixture(fixtures.MonkeyPatch(
            'xloud_nova_ext.cpu.inputs.parse_bytes',
            lambda data, source: calls.append(source) or parse(data,
                                                               source)))
        hosts = [h for p in paths for h in self.reader.read(p)]
        self.assertEqual(['n0', 'n1', 'n2'], [h.name for h in hosts])
        self.assertEqual(1, len(calls))

    def test_bad_inputs_name_the_input_on_one_line(self):
        missing = os.path.join(self.dir, 'nope.xml')
        e = self.assertRaises(exception.BaselineInputError,
                              self.reader.read, missing)
        self.assertEqual('%s: cannot read: No such file or directory'
                         % missing, e.cause)
        self.assertInputError(os.path.join(self.dir, 'bad.xml'),
                              'malformed XML', 'bad.xml', '<cpu><model>')
        self.assertInputError(os.path.join(self.dir, 'text.txt'),
                              'neither XML nor JSON', 'text.txt', 'hello')
        self.assertInputError(os.path.join(self.dir, 'dom.xml'),
                              'is not a capabilities', 'dom.xml',
                              '<domain/>')
        self.assertInputError(os.path.join(self.dir, 'nocpu.xml'),
                              'no CPU model', 'nocpu.xml',
                              '<capabilities><host/></capabilities>')
        self.assertInputError(os.path.join(self.dir, 'bad.json'),
                              'malformed JSON', 'bad.json', '{"a": ')
        self.assertInputError(
            os.path.join(self.dir, 'new.json[1]'),
            'hypervisor b has no cpu_info (compute API microversion 2.88',
            'new.json', [{'hypervisor_hostname': 'a', 'cpu_info': CPU_INFO},
                         {'hypervisor_hostname': 'b'}])
        self.assertInputError(
            os.path.join(self.dir, 'odd.json'), 'unusable cpu_info',
            'odd.json', {'hypervisor_hostname': 'a', 'cpu_info': '{"x": 1}'})


class URITest(testing.TestCase):

    def test_unreachable_uri_is_a_one_line_input_error(self):
        e = self.assertRaises(exception.BaselineInputError, inputs.read_uri,
                              'qemu+unix:///system?socket=/nonexistent/sock')
        self.assertTrue(e.cause.startswith(
            'qemu+unix:///system?socket=/nonexistent/sock: cannot connect: '),
            e.cause)
        self.assertNotIn('\n', e.cause)

    def test_kvm_only_where_offered_and_usable(self):
        caps = xmlcpu.parse_xml(
            "<capabilities><guest><arch name='x86_64'><domain type='qemu'/>"
            "<domain type='kvm'/></arch></guest><guest><arch name='aarch64'>"
            "<domain type='qemu'/></arch></guest></capabilities>")
        self.useFixture(cpu_defs.FakeLibvirt())
        conn = fake_cpu.CPUConnection('qemu:///system', cpu=fake_cpu.SKYLAKE)
        virt_type, domcaps = inputs.choose_virt_type(conn, caps, 'x86_64')
        self.assertEqual('kvm', virt_type)
        self.assertEqual('Skylake-Client', xmlcpu.host_model(domcaps).model)
        self.assertEqual(('qemu', None),
                         inputs.choose_virt_type(conn, caps, 'aarch64'))
        # Offered, but this libvirt cannot use it (its QEMU user cannot
        # open /dev/kvm): qemu, not kvm unasked.
        self.useFixture(fixtures.MockPatchObject(
            conn, 'getDomainCapabilities', side_effect=fake_cpu.error(
                "unsupported configuration: KVM is not supported by "
                "'/usr/bin/qemu-system-x86_64' on this host",
                fakelibvirt.VIR_ERR_CONFIG_UNSUPPORTED)))
        self.assertEqual(('qemu', None),
                         inputs.choose_virt_type(conn, caps, 'x86_64'))

    def test_embed_root_of_a_uri(self):
        self.assertEqual('/r', inputs.embed_root('qemu:///embed?root=/r'))
        for uri in ('qemu:///system', 'qemu:///embed', None):
            self.assertIsNone(inputs.embed_root(uri), uri)

    def test_capabilities_cache_in_the_users_cache_dir(self):
        self.useFixture(fixtures.EnvironmentVariable('XDG_CACHE_HOME', '/c'))
        self.assertEqual('/c/xloud-cpu-baseline/qemu-capabilities',
                         inputs.capabilities_cache_dir())

    def test_copy_capabilities(self):
        tmp = self.useFixture(fixtures.TempDir()).path
        src, dst = os.path.join(tmp, 'src'), os.path.join(tmp, 'a', 'dst')
        # Nothing to copy yet: no error, nothing created.
        inputs.copy_capabilities(src, dst)
        self.assertFalse(os.path.exists(dst))
        os.mkdir(src)
        for name, text in (('a.xml', 'new a'), ('b.xml', 'new b'),
                           ('notes.txt', 'not libvirt\'s')):
            with open(os.path.join(src, name), 'w') as f:
                f.write(text)
        os.makedirs(dst)
        with open(os.path.join(dst, 'a.xml'), 'w') as f:
            f.write('own a')

        def files():
            return {n: open(os.path.join(dst, n)).read()
                    for n in os.listdir(dst)}

        inputs.copy_capabilities(src, dst, replace=False)
        self.assertEqual({'a.xml': 'own a', 'b.xml': 'new b'}, files())
        self.assertEqual(0o600, os.stat(os.path.join(dst, 'b.xml')).st_mode
                         & 0o777)
        inputs.copy_capabilities(src, dst)
        self.assertEqual({'a.xml': 'new a', 'b.xml': 'new b'}, files())

    def test_embedded_root_gets_a_qemu_conf_that_runs_qemu_as_root(self):
        root = self.useFixture(fixtures.TempDir()).path
        uri = 'qemu:///embed?root=%s' % root
        conf = os.path.join(root, 'etc', 'qemu.conf')
        self.useFixture(fixtures.MockPatch('os.geteuid', return_value=1000))
        inputs.prepare_embed_root(uri)
        self.assertFalse(os.path.exists(conf))
        self.useFixture(fixtures.MockPatch('os.geteuid', return_value=0))
        inputs.prepare_embed_root(uri)
        with open(conf) as f:
            self.assertEqual('user = "root"\ngroup = "root"\n', f.read())
        # An operator's own qemu.conf is kept.
        with open(conf, 'w') as f:
            f.write('user = "qemu"\n')
        inputs.prepare_embed_root(uri)
        with open(conf) as f:
            self.assertEqual('user = "qemu"\n', f.read())
