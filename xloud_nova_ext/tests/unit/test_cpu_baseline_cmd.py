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

"""xloud-cpu-baseline end to end: inputs, libvirt, what it prints."""

import io
import json
import os
import re
import subprocess
import sys

import fixtures

from xloud_harness import fake_cpu
from xloud_harness import testing

from xloud_nova_ext.cmd import cpu_baseline
from xloud_nova_ext.cpu import compare
from xloud_nova_ext.cpu import inputs
from xloud_nova_ext.cpu import xmlcpu
from xloud_nova_ext.tests.fixtures import embedded_libvirt
from xloud_nova_ext.tests.unit import test_cpu_compare

SKY = ("<cpu><arch>x86_64</arch><model>Skylake-Client</model>"
       "<vendor>Intel</vendor><feature name='vmx'/></cpu>")
CASCADE = SKY.replace('Skylake-Client', 'Cascadelake-Server')


class ToolTestCase(testing.TestCase):

    def setUp(self):
        super().setUp()
        self.dir = self.useFixture(fixtures.TempDir()).path
        # The tool keeps libvirt's probed QEMU capabilities in the user's
        # cache: here, in this test's own.
        self.cache = os.path.join(self.dir, 'cache')
        self.useFixture(fixtures.EnvironmentVariable('XDG_CACHE_HOME',
                                                     self.cache))

    def write(self, name, data):
        path = os.path.join(self.dir, name)
        with open(path, 'w') as f:
            f.write(data if isinstance(data, str) else json.dumps(data))
        return path

    def run_tool(self, *argv):
        out, err = io.StringIO(), io.StringIO()
        rc = cpu_baseline.main(list(argv), stdout=out, stderr=err)
        return rc, out.getvalue(), err.getvalue()


class RealLibvirtToolTest(ToolTestCase):
    """The tool against an embedded real libvirt (libvirt's CPU maps)."""

    def setUp(self):
        super().setUp()
        self.libvirt = self.useFixture(embedded_libvirt.EmbeddedLibvirt(self))
        self.connect = ('--connect', self.libvirt.uri, '--virt-type', 'qemu')
        self.quiet = self.connect + ('--quiet',)

    def test_text_report(self):
        rc, out, err = self.run_tool(
            self.write('sky.xml', SKY), self.write('cascade.xml', CASCADE),
            *self.quiet)
        self.assertEqual((0, ''), (rc, err), out)
        # A named model both hosts run as it is (no -flag), plus the flags
        # they share; the snippet names the same model.
        model = re.search(r'\n  model: +(\S+)\n  extra flags: (.*)\n',
                          out)
        self.assertIsNotNone(model, out)
        self.assertNotIn('-', ''.join(
            f[0] for f in model.group(2).split(', ')))
        self.assertIn('  cpu_models = %s\n' % model.group(1), out)
        self.assertIn('  sky      yes       yes ', out)
        self.assertIn('  cascade  yes       yes ', out)
        self.assertIn('is not one of these hosts', out)
        self.assertIn('CPU baseline of 2 hosts (2 distinct CPUs, x86_64, '
                      'virt type qemu from --virt-type)', out)
        self.assertIn('\n  [libvirt]\n  cpu_mode = custom\n  cpu_models = ',
                      out)
        self.assertIn('HOSTS', out)
        self.assertIn('sky cannot run Cascadelake-Server: avx512bw', out)

    def test_json_report_and_its_baseline_runs_on_the_hypervisor(self):
        domcaps = self.libvirt.conn.getDomainCapabilities(
            None, 'x86_64', None, 'qemu', 0)
        rc, out, err = self.run_tool(
            self.write('sky.xml', SKY), self.write('tcg.xml', domcaps),
            '--uri', self.libvirt.uri, '--format', 'json',
            '--candidate', 'Nehalem', *self.quiet)
        self.assertEqual((0, ''), (rc, err))
        report = json.loads(out)
        self.assertEqual(3, report['hosts'])
        self.assertEqual(('qemu', '--virt-type'),
                         (report['virt_type'], report['virt_type_from']))
        # Intel Skylake and this AMD EPYC TCG host: vendor left out.
        self.assertTrue(report['vendor_dropped'])
        conf = report['nova_conf']
        self.assertEqual([report['baseline']['model']], conf['cpu_models'])
        self.assertIn('cpu_models = %s\n' % conf['cpu_models'][0],
                      report['nova_conf_snippet'])
        self.assertEqual(['baseline'], report['candidates'][:1])
        self.assertIn('Nehalem', report['candidates'])
        by_host = {row['source']: row for row in report['matrix']}
        live = by_host[self.libvirt.uri]['models']
        self.assertEqual('libvirt', live['baseline']['checked_by'])
        self.assertTrue(all(row['models']['baseline']['runs']
                            for row in report['matrix']))
        # What the report says is what libvirt accepts.
        cpu = xmlcpu.CPUDef.make(conf['cpu_models'][0], {
            f.lstrip('-'): 'disable' if f.startswith('-') else 'require'
            for f in conf['cpu_model_extra_flags']})
        self.assertTrue(compare.compare(self.libvirt.conn, cpu, 'qemu',
                                        'x86_64').compatible)

    def test_probed_qemu_kept_for_the_next_root(self):
        caps = os.path.join(self.libvirt.root, inputs.EMBED_CAPABILITIES)
        kept = inputs.capabilities_cache_dir()
        # A file the next root lacks comes from the user's cache (libvirt
        # names its files by emulator: this name is none of them).
        os.makedirs(kept)
        with open(os.path.join(kept, 'other-emulator.xml'), 'w') as f:
            f.write('<qemuCaps/>')
        self.addCleanup(os.remove, os.path.join(caps, 'other-emulator.xml'))
        rc, out, err = self.run_tool(self.write('sky.xml', SKY),
                                     *self.quiet)
        self.assertEqual((0, ''), (rc, err), out)
        self.assertTrue(os.path.exists(os.path.join(caps,
                                                    'other-emulator.xml')))
        # What libvirt probed in this root is kept for the next one.
        probed = sorted(n for n in os.listdir(caps) if n.endswith('.xml'))
        self.assertIn('other-emulator.xml', probed)
        self.assertGreater(len(probed), 1)
        self.assertEqual(probed, sorted(os.listdir(kept)))
        for name in probed:
            with open(os.path.join(caps, name), 'rb') as a, \
                    open(os.path.join(kept, name), 'rb') as b:
                self.assertEqual(a.read(), b.read(), name)

    def test_bad_inputs_one_line_naming_the_input(self):
        sky = self.write('sky.xml', SKY)
        cases = [
            ((os.path.join(self.dir, 'gone.xml'),),
             '%s: cannot read' % os.path.join(self.dir, 'gone.xml')),
            ((self.write('broken.xml', '<cpu><model>'),),
             '%s: malformed XML' % os.path.join(self.dir, 'broken.xml')),
            ((self.write('odd.xml', SKY.replace('Skylake-Client', 'Z80')),),
             "%s: unknown CPU model 'Z80'" % os.path.join(self.dir,
                                                          'odd.xml')),
            ((self.write('arm.xml', SKY.replace('x86_64', 'aarch64')),),
             '%s: architecture aarch64 differs from x86_64 of %s'
             % (os.path.join(self.dir, 'arm.xml'), sky)),
            (('--uri', 'qemu+unix:///system?socket=/nonexistent'),
             'qemu+unix:///system?socket=/nonexistent: cannot connect: '),
            (('--candidate', 'Z80'), '--candidate Z80: unknown CPU model'),
        ]
        for argv, start in cases:
            rc, out, err = self.run_tool(sky, *(argv + self.quiet))
            self.assertEqual(2, rc, (argv, err))
            self.assertEqual('', out)
            self.assertEqual(1, err.count('\n'), err)
            self.assertTrue(err.startswith('xloud-cpu-baseline: error: ' +
                                           start), err)

    def test_progress_on_stderr_for_many_hosts(self):
        self.useFixture(fixtures.MonkeyPatch(
            'xloud_nova_ext.cmd.cpu_baseline.PROGRESS_INTERVAL', 0))
        info = {'arch': 'x86_64', 'model': 'Haswell', 'vendor': 'Intel',
                'features': []}
        doc = {'hypervisors': [
            {'hypervisor_hostname': 'cmp%03d' % i,
             'cpu_info': dict(info, features=[
                 ('pdpe1gb', 'ssbd', 'md-clear')[i % 3], 'vmx'])}
            for i in range(300)]}
        rc, out, err = self.run_tool(self.write('all.json', doc),
                                     '--chunk-size', '2', *self.connect)
        self.assertEqual(0, rc, err)
        self.assertIn('xloud-cpu-baseline: read 1 of 1 files (300 hosts)',
                      err)
        self.assertIn('baseline: 3 CPUs, chunk 2 of 2', err)
        rc, out, quiet = self.run_tool(self.write('all.json', doc),
                                       *self.quiet)
        self.assertEqual((0, ''), (rc, quiet))
        self.assertIn('cmp000, cmp003, cmp006 (+97 more)', out)


class ConnectTest(ToolTestCase):

    def test_unreachable_connect_says_what_to_do(self):
        rc, out, err = self.run_tool(
            self.write('sky.xml', SKY), '--connect',
            'qemu+unix:///system?socket=/nonexistent')
        self.assertEqual(2, rc)
        self.assertTrue(err.startswith(
            'xloud-cpu-baseline: error: qemu+unix:///system?socket='
            '/nonexistent: '), err)
        self.assertIn('pass --connect URI', err)
        self.assertIn('qemu:///embed?root=', err)

    def test_no_input(self):
        rc, out, err = self.run_tool('--connect', 'test:///default')
        self.assertEqual(2, rc)
        self.assertIn('no input', err)


class UnverifiedTest(test_cpu_compare.FakeLibvirtTestCase, ToolTestCase):
    """A host whose own libvirt refuses the common baseline: exit 3."""

    def test_host_refusing_the_baseline(self):
        conns = {'qemu:///a': self.connection(fake_cpu.SKYLAKE),
                 'qemu:///b': self.connection(fake_cpu.NEHALEM_HOST)}
        self.useFixture(fixtures.MonkeyPatch(
            'xloud_nova_ext.cpu.inputs.open_connection',
            lambda uri: conns[uri]))
        # b's domain capabilities claim a host-model CPU it cannot run.
        self.useFixture(fixtures.MockPatch(
            'xloud_harness.fake_cpu.FakeCPU.host_model',
            return_value=fake_cpu.SKYLAKE.host_model()))
        rc, out, err = self.run_tool('--uri', 'qemu:///a', '--uri',
                                     'qemu:///b', '--quiet')
        self.assertEqual(3, rc, err)
        self.assertIn('warning: h1 (qemu:///b) cannot run the baseline: ',
                      err)
        self.assertIn('avx2', err)
        self.assertIn('cpu_models = Skylake-Client', out)


class Counting(object):
    """A connection that notes every question asked of it."""

    def __init__(self, conn):
        self.conn = conn
        self.asked = []

    def __getattr__(self, name):
        method = getattr(self.conn, name)
        if not callable(method):
            return method

        def ask(*args):
            self.asked.append('%s%r' % (name, args))
            return method(*args)
        return ask


class OneCallPerQuestionTest(test_cpu_compare.FakeLibvirtTestCase,
                             ToolTestCase):
    """Each distinct question goes to a host's libvirt once.

    A libvirtd that re-probes QEMU at every call takes seconds per call.
    """

    def test_each_question_once_per_host(self):
        conns = {'qemu:///a': Counting(self.connection(fake_cpu.SKYLAKE)),
                 'qemu:///b': Counting(self.connection(fake_cpu.CASCADELAKE))}
        self.useFixture(fixtures.MonkeyPatch(
            'xloud_nova_ext.cpu.inputs.open_connection',
            lambda uri: conns[uri]))
        rc, out, err = self.run_tool('--uri', 'qemu:///a', '--uri',
                                     'qemu:///b', '--quiet')
        self.assertEqual(0, rc, err)
        for uri, conn in conns.items():
            self.assertIn('compareHypervisorCPU', ' '.join(conn.asked))
            repeated = sorted({q[:60] for q in conn.asked
                               if conn.asked.count(q) > 1})
            self.assertEqual([], repeated, uri)


class StartupTest(testing.TestCase):

    def test_the_tool_does_not_import_nova(self):
        # It runs on an operator's workstation: start-up must stay fast and
        # need no nova.
        out = subprocess.run(
            [sys.executable, '-c',
             'import sys; import xloud_nova_ext.cmd.cpu_baseline; '
             'print(sorted(m for m in sys.modules if m == "nova" or '
             'm.startswith("nova.")))'],
            check=True, capture_output=True, text=True).stdout
        self.assertEqual('[]\n', out)
