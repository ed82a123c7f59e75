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

"""The CPU pre-check and the baseline tool against two real libvirt hosts.

The oracle is a real live migration. Host B is made to lack a CPU feature
for real (``host.lack_cpu_features``, xloud_harness.lacking_qemu): every
QEMU it starts runs its ``-cpu`` with ``popcnt=off``, and its libvirt knows
it. A guest whose CPU has popcnt (Nehalem, A's host-model) then really fails
to migrate to B, in QEMU; one without it (Penryn, qemu64) still moves. Our
check, run as in nova-compute on the real connections (A records the CPU its
running guest really has, the migratable ``<cpu>``; B checks it), must
refuse exactly the migrations that fail, naming the missing feature and the
fix.

A model B's QEMU does not have at all is made by editing B's capability
cache (``host.edit_qemu_caps``): libvirt then refuses the real migration
("CPU model ... is not supported by hypervisor"), which compareHypervisorCPU
alone would have let through; our check refuses exactly these.
"""

import io
import json
import os
import re
import subprocess
import sys
from xml.etree import ElementTree as ET

import fixtures
from nova import conf as nova_conf
from nova import objects
from oslo_config import fixture as config_fixture

from xloud_harness import guests
from xloud_harness import nova_host
from xloud_harness import testing

from xloud_nova_ext.cmd import cpu_baseline
from xloud_nova_ext.cpu import compare
from xloud_nova_ext.cpu import guard
from xloud_nova_ext.cpu import inputs
from xloud_nova_ext.cpu import xmlcpu
from xloud_nova_ext import exception
from xloud_nova_ext.tests.integration import base
from xloud_nova_ext.tests import requirements

try:
    import libvirt
except ImportError:  # base.IntegrationTestCase reports it
    libvirt = None

CONF = nova_conf.CONF
WESTMERE = ('Westmere', 'Westmere-v1', 'Westmere-v2', 'Westmere-IBRS')


def without_models(models):
    """An edit of a cached QEMU capabilities file: no ``models`` at all.

    For Host.edit_qemu_caps. A QEMU lacking features is the harness's
    lacking_qemu (``host.lack_cpu_features``).
    """
    def edit(xml):
        for model in models:
            xml = re.sub(r"<cpu type='tcg' name='%s' [^>]*/>\n?"
                         % re.escape(model), '', xml)
            xml = re.sub(r"<cpu type='tcg' name='%s' [^>]*[^/]>.*?</cpu>\n?"
                         % re.escape(model), '', xml, flags=re.S)
        return xml
    return edit


class CPUCheckTest(base.IntegrationTestCase):

    def setUp(self):
        super().setUp()
        objects.register_all()
        conf = self.useFixture(config_fixture.Config(CONF))
        conf.config(virt_type='qemu', group='libvirt')
        conf.config(cpu_precheck=True, group='xloud')

    def start(self, host, name, cpu_xml=None, model=None):
        """A running TCG guest on ``host`` and its nova Instance."""
        xml = guests.domain_xml(name, cpu_model=model)
        if cpu_xml:
            xml = xml.replace('<on_poweroff>', cpu_xml + '<on_poweroff>')
        dom = guests.start_guest(self.open(host), xml)
        instance = objects.Instance(uuid=dom.UUIDString(), host=host.name,
                                    image_ref='', vcpu_model=None,
                                    system_metadata={})
        # What our driver does after every start: record the real CPU.
        guard.CPUGuard(nova_host.LibvirtHost(
            self.open(host))).guest_started(instance)
        return dom, instance

    def our_verdict(self, instance, dest):
        """None if our pre-check on ``dest`` accepts, else its refusal."""
        checker = guard.CPUGuard(nova_host.LibvirtHost(self.open(dest)))
        try:
            checker.check_can_live_migrate_destination(
                instance, {'cpu_info': '{}'})
        except exception.CPUIncompatible as e:
            return e
        return None

    def libvirt_verdict(self, dom, dest):
        """libvirt's own verdict: missing features, or None if it runs.

        compareHypervisorCPU on ``dest`` of the CPU exactly as a migration
        sends it (the migratable <cpu>, vendor and all).
        """
        xml = dom.XMLDesc(libvirt.VIR_DOMAIN_XML_MIGRATABLE)
        cpu = xml[xml.index('<cpu'):xml.index('</cpu>') + len('</cpu>')]
        try:
            self.open(dest).compareHypervisorCPU(
                None, 'x86_64', None, 'qemu', cpu,
                compare.VIR_CONNECT_COMPARE_CPU_FAIL_INCOMPATIBLE)
        except libvirt.libvirtError as e:
            self.assertEqual(compare.VIR_ERR_CPU_INCOMPATIBLE,
                             e.get_error_code(), e)
            return xmlcpu.parse_incompatibility(str(e))[0]
        return None

    def migrate(self, dom, dest):
        """None if a real live migration works, else libvirt's error."""
        try:
            guests.live_migrate(dom, dest, timeout=60)
        except libvirt.libvirtError as e:
            return e
        return None

    def test_model_the_destination_lacks(self):
        """B's QEMU has no Westmere: the real migration fails, we refuse."""
        self.b.edit_qemu_caps(without_models(WESTMERE))
        westmere, westmere_inst = self.start(self.a, 'cpu-westmere',
                                             model='Westmere')
        nehalem, nehalem_inst = self.start(self.a, 'cpu-nehalem',
                                           model='Nehalem')
        # compareHypervisorCPU alone would let the doomed migration go.
        self.assertIsNone(self.libvirt_verdict(westmere, self.b))

        refusal = self.our_verdict(westmere_inst, self.b)
        self.assertIsNotNone(refusal)
        self.assertIn('does not support CPU model Westmere', str(refusal))
        error = self.migrate(westmere, self.b)
        self.assertIsNotNone(error)
        self.assertIn('CPU model Westmere is not supported', str(error))
        self.assertEqual(['cpu-nehalem', 'cpu-westmere'], sorted(
            d.name() for d in self.open(self.a).listAllDomains(
                libvirt.VIR_CONNECT_LIST_DOMAINS_ACTIVE)))

        self.assertIsNone(self.our_verdict(nehalem_inst, self.b))
        self.assertIsNone(self.migrate(nehalem, self.b))

    def qemu_cpu_arg(self, host, name):
        """The -cpu argument the running QEMU of guest ``name`` got."""
        with open('/proc/%d/cmdline' % host.qemu_pid(name), 'rb') as f:
            argv = f.read().decode().split('\0')
        return argv[argv.index('-cpu') + 1]

    def test_feature_the_destination_really_lacks(self):
        """B's QEMU lacks popcnt: what fails for real, we refuse."""
        self.b.lack_cpu_features(['popcnt'])
        cases = [self.start(self.a, 'cpu-host-model',
                            cpu_xml="<cpu mode='host-model'/>"),
                 self.start(self.a, 'cpu-nehalem', model='Nehalem'),
                 self.start(self.a, 'cpu-penryn', model='Penryn'),
                 self.start(self.a, 'cpu-qemu64', model='qemu64')]
        outcome = {}
        for dom, instance in cases:
            ours = self.our_verdict(instance, self.b)
            # Without our check: the real migration.
            error = self.migrate(dom, self.b)
            outcome[dom.name()] = (ours is not None, error is not None)
            if error is None:
                self.assertIsNone(ours, dom.name())
                self.assertTrue(self.open(self.b).lookupByName(
                    dom.name()).isActive())
                # It runs there on the QEMU that lacks popcnt.
                self.assertTrue(self.qemu_cpu_arg(self.b, dom.name())
                                .endswith(',popcnt=off'))
                continue
            # libvirt compared the CPU B's QEMU really gave the incoming
            # guest with the one it must have (an edited cache alone lets
            # this migration through); the guest still runs on A.
            self.assertIn("guest CPU doesn't match specification: missing "
                          "features: popcnt", str(error))
            self.assertTrue(dom.isActive(), dom.name())
            # We refuse it before anything moves, with cause and fix.
            self.assertIsNotNone(ours, dom.name())
            self.assertIn('cannot run guest CPU', str(ours))
            self.assertIn('missing popcnt.', str(ours))
            self.assertEqual(exception.CPUIncompatible.fix_fmt, ours.fix)
        # (refused by us, failed for real)
        self.assertEqual({'cpu-host-model': (True, True),
                          'cpu-nehalem': (True, True),
                          'cpu-penryn': (False, False),
                          'cpu-qemu64': (False, False)}, outcome)
        # The other way: a guest started on B runs B's smaller host-model
        # CPU; A accepts it, and so does a real migration.
        dom, instance = self.start(self.b, 'cpu-from-b',
                                   cpu_xml="<cpu mode='host-model'/>")
        self.assertIsNone(self.our_verdict(instance, self.a))
        self.assertIsNone(self.migrate(dom, self.a))

    def test_libvirt_of_the_lacking_host_agrees(self):
        """B's libvirt knows what its QEMU lacks (as our check relies on)."""
        self.b.lack_cpu_features(['popcnt'])
        dom, _instance = self.start(self.a, 'cpu-nehalem', model='Nehalem')
        self.assertEqual(['popcnt'], self.libvirt_verdict(dom, self.b))
        models = {m.text: m.get('usable') for m in ET.fromstring(
            self.open(self.b).getDomainCapabilities(
                None, 'x86_64', None, 'qemu')).iter('model')
            if m.get('usable')}
        self.assertEqual(('no', 'yes', 'yes'), (
            models['Nehalem'], models['Penryn'], models['qemu64']))
        # A's QEMU is untouched.
        self.assertIsNone(self.libvirt_verdict(dom, self.a))

    def test_startup_check_of_configured_models(self):
        self.b.lack_cpu_features(['popcnt'])
        conf = self.useFixture(config_fixture.Config(CONF))
        conf.config(cpu_mode='custom', cpu_models=['Penryn', 'Nehalem'],
                    group='libvirt')
        on_a = guard.CPUGuard(nova_host.LibvirtHost(self.open(self.a)))
        on_b = guard.CPUGuard(nova_host.LibvirtHost(self.open(self.b)))
        on_a.init_host()
        e = self.assertRaises(exception.CPUModelsUnusable,
                              on_b.init_host)
        self.assertIn('Nehalem: missing popcnt', str(e))
        self.assertNotIn('Penryn:', str(e))


class BaselineToolTest(base.IntegrationTestCase):

    def test_baseline_of_both_hosts_runs_on_both(self):
        self.b.lack_cpu_features(['popcnt'])
        out, err = io.StringIO(), io.StringIO()
        rc = cpu_baseline.main(
            ['--uri', self.a.uri, '--uri', self.b.uri, '--virt-type', 'qemu',
             '--candidate', 'Nehalem', '--format', 'json', '--quiet'],
            stdout=out, stderr=err)
        self.assertEqual((0, ''), (rc, err.getvalue()))
        report = json.loads(out.getvalue())
        conf = report['nova_conf']
        self.assertEqual(2, report['hosts'])
        self.assertEqual(self.a.uri, report['computed_by'])
        flags = conf['cpu_model_extra_flags']
        self.assertNotIn('popcnt', flags)
        rows = {row['source']: row['models'] for row in report['matrix']}
        # Each host's own libvirt answered for it.
        self.assertEqual({'runs': False, 'lacks': ['popcnt'],
                          'checked_by': 'libvirt'},
                         rows[self.b.uri]['Nehalem'])
        self.assertTrue(rows[self.a.uri]['Nehalem']['runs'])
        for models in rows.values():
            self.assertTrue(models['baseline']['runs'])

        # The snippet, as nova would turn it into a guest CPU, is accepted
        # by both libvirts, starts on both and migrates from A to B.
        cpu = xmlcpu.CPUDef.make(conf['cpu_models'][0], {
            f.lstrip('-'): 'disable' if f.startswith('-') else 'require'
            for f in flags})
        for host in (self.a, self.b):
            self.assertTrue(compare.compare(self.open(host), cpu, 'qemu',
                                            'x86_64').compatible, host)
        guest_cpu = xmlcpu.to_guest_xml(cpu)
        doms = {}
        for host in (self.a, self.b):
            xml = guests.domain_xml('cpu-baseline-%s' % host.name)
            doms[host.name] = guests.start_guest(
                self.open(host), xml.replace('<on_poweroff>',
                                             guest_cpu + '<on_poweroff>'))
        doms[self.b.name].destroy()
        doms[self.b.name].undefine()
        guests.live_migrate(doms[self.a.name], self.b)
        self.assertTrue(self.open(self.b).lookupByName(
            'cpu-baseline-%s' % self.a.name).isActive())


class ProbedQemuKeptTest(testing.TestCase):
    """xloud-cpu-baseline keeps libvirt's probed QEMU for the next root."""

    def _run(self, root):
        subprocess.run(
            [sys.executable, '-m', 'xloud_nova_ext.cmd.cpu_baseline',
             '--uri', 'qemu:///embed?root=%s' % root, '--virt-type', 'qemu',
             '--format', 'json', '--quiet'],
            env=self.env, check=True, capture_output=True, timeout=180)

    def test_a_copy_that_qemu_outdated_is_probed_again(self):
        requirements.require(self, os.geteuid() == 0, 'needs root')
        requirements.require(
            self, not requirements.missing_commands('qemu-system-x86_64'),
            'QEMU is not installed: run tools/install-debian-deps.sh')
        tmp = self.useFixture(fixtures.TempDir()).path
        self.env = dict(os.environ, XDG_CACHE_HOME=os.path.join(tmp, 'c'))
        self._run(os.path.join(tmp, 'first'))
        kept = os.path.join(tmp, 'c', 'xloud-cpu-baseline',
                            'qemu-capabilities')
        x86 = [os.path.join(kept, n) for n in os.listdir(kept)
               if '<emulator>/usr/bin/qemu-system-x86_64</emulator>'
               in open(os.path.join(kept, n)).read()]
        self.assertEqual(1, len(x86), os.listdir(kept))
        with open(x86[0]) as f:
            text = f.read()
        ctime = re.search(r'<qemuctime>\d+</qemuctime>', text).group(0)
        # As if QEMU had been upgraded since the copy was made.
        with open(x86[0], 'w') as f:
            f.write(text.replace(ctime, '<qemuctime>1</qemuctime>'))

        second = os.path.join(tmp, 'second')
        self._run(second)
        # libvirt found the copy stale and probed QEMU again: the new root
        # and the kept copy carry QEMU's real time stamp.
        probed = os.path.join(second, inputs.EMBED_CAPABILITIES,
                              os.path.basename(x86[0]))
        for path in (probed, x86[0]):
            with open(path) as f:
                self.assertIn(ctime, f.read(), path)
