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

"""The guides' blocks that run on a compute host, on host A of the pair.

Each block is read from its .rst (xloud_nova_ext.tests.admin_guide.
shell_blocks) and run by bash: ``virsh`` inside host A's namespaces, as an
operator runs it logged in on a compute host; ``xloud-cpu-baseline`` with
``qemu+ssh://root@compute1/system`` from the test process, where libvirt's
own ssh transport runs ``ssh`` as it always does. No sshd runs here: the
``ssh`` on PATH is a stand-in that runs the remote command (libvirt's
``virt-ssh-helper``) inside host A, as sshd would on compute1; everything
past it (libvirt's remote protocol over that pipe, A's libvirtd) is real.
"""

import json
import os
import re
import shlex
import shutil
import tempfile
import types

from nova.virt.libvirt import driver as nova_driver

from xloud_harness import namespaces
from xloud_harness import nova_host

from xloud_nova_ext.tests.admin_guide import shell_blocks
from xloud_nova_ext.tests.integration import base

PREREQUISITES = 'admin/prerequisites.rst'
CPU_BASELINE = 'admin/cpu-baseline-tool.rst'

#: ssh as libvirt's ssh transport calls it: ``ssh [options] -- HOST
#: COMMAND``; runs COMMAND inside the host named HOST, with sh as sshd
#: runs a remote command.
SSH = '''#!/bin/sh
# Stand-in for ssh (xloud_nova_ext.tests.integration.test_guide_blocks).
while [ $# -gt 0 ] && [ "$1" != "--" ]; do shift; done
shift
host=$1
shift
case $host in
%s
*) echo "ssh: Could not resolve hostname $host" >&2; exit 255 ;;
esac
'''


class GuideBlocksOnAHostTest(base.IntegrationTestCase):

    def run_in(self, host, page, start):
        """Run a block inside ``host``, as a shell logged in there does."""
        script = '\n'.join(shell_blocks.block(page, start).commands)
        return host.run(['bash', '-euo', 'pipefail', '-c', script],
                        check=False)

    def ssh_to(self, **hosts):
        """An environment whose ``ssh`` reaches ``hosts`` (name=Host)."""
        bindir = tempfile.mkdtemp(prefix='xloud-guide-ssh-')
        self.addCleanup(shutil.rmtree, bindir, ignore_errors=True)
        cases = '\n'.join(
            '%s) exec %s sh -c "$*" ;;' % (
                name, ' '.join(shlex.quote(a) for a in
                               namespaces.enter_argv(host.name)))
            for name, host in hosts.items())
        ssh = os.path.join(bindir, 'ssh')
        with open(ssh, 'w') as f:
            f.write(SSH % cases)
        os.chmod(ssh, 0o755)
        return dict(os.environ, PATH=bindir + os.pathsep + os.environ['PATH'])

    def test_prerequisites_hypervisor_versions(self):
        proc = self.run_in(self.a, PREREQUISITES, 'virsh version')
        self.assertEqual(0, proc.returncode, proc.stdout + proc.stderr)
        self.assertRegex(proc.stdout, r'Using library: libvirt \d+\.\d+')
        self.assertRegex(proc.stdout, r'Running hypervisor: QEMU \d+\.\d+')
        # grep -A3 '<machine>': the default machine type and what follows.
        self.assertRegex(proc.stdout, r'<machine>pc-[\w.-]+</machine>')

    def test_cpu_baseline_of_one_host_over_ssh(self):
        b = shell_blocks.block(CPU_BASELINE,
                               'xloud-cpu-baseline --uri qemu+ssh://')
        proc = shell_blocks.bash('\n'.join(b.commands), tempfile.gettempdir(),
                                 env=self.ssh_to(compute1=self.a))
        self.assertEqual(0, proc.returncode, proc.stdout + proc.stderr)
        # The page's output, but for this host's CPU and name (the tool
        # names a host by its libvirt's hostname): its first line, headings
        # ("What they lack" only when a host lacks something).
        real = proc.stdout.splitlines()
        # (kvm where this machine has /dev/kvm, else qemu).
        self.assertRegex(real[0], '^%s$' % re.escape(b.output[0]).replace(
            'virt\\ type\\ kvm', 'virt\\ type\\ (kvm|qemu)'))
        headings = [line for line in b.output if line.endswith(':') and
                    not line.startswith(' ')]
        self.assertEqual(headings[:3], [line for line in real
                                        if line in headings][:3])
        self.assertIn('cpu_mode = custom', [line.strip() for line in real])
        [at] = [n for n, line in enumerate(real)
                if line.split()[:1] == ['HOSTS']]
        header, row = real[at].split(), real[at + 1].split()
        self.assertEqual(['HOSTS', 'baseline'], header[:2])
        self.assertIn('Nehalem', header)
        self.assertEqual(['CHECKED', 'BY'], header[-2:])
        self.assertEqual([self.a.name, 'yes'], row[:2], row)
        self.assertEqual('libvirt', row[-1], row)

    def test_cpu_baseline_of_the_hypervisors_file_over_ssh(self):
        # hypervisors.json as the page's previous block writes it (the
        # admin-guide tier runs that block against the embedded cloud):
        # one JSON list of ``hypervisor show`` documents, here with the
        # cpu_info that nova's libvirt driver reports for A and B.
        tmp = tempfile.mkdtemp(prefix='xloud-guide-')
        self.addCleanup(shutil.rmtree, tmp, ignore_errors=True)
        hypervisors = []
        for host in self.pair.hosts:
            driver = types.SimpleNamespace(
                _host=nova_host.LibvirtHost(self.open(host)))
            cpu_info = nova_driver.LibvirtDriver._get_cpu_info(driver)
            cpu_info['features'] = sorted(cpu_info['features'])
            hypervisors.append({'hypervisor_hostname': host.name,
                                'service_host': host.name,
                                'hypervisor_type': 'QEMU',
                                'cpu_info': cpu_info})
        with open(os.path.join(tmp, 'hypervisors.json'), 'w') as f:
            json.dump(hypervisors, f)

        b = shell_blocks.block(CPU_BASELINE,
                               'xloud-cpu-baseline --connect qemu+ssh://')
        proc = shell_blocks.bash('\n'.join(b.commands), tmp,
                                 env=self.ssh_to(compute1=self.a))
        self.assertEqual(0, proc.returncode, proc.stdout + proc.stderr)
        out = proc.stdout.splitlines()
        self.assertTrue(out[0].startswith('CPU baseline of 2 hosts'), out[0])
        self.assertTrue(out[0].endswith(
            'computed by libvirt at qemu+ssh://root@compute1/system:'),
            out[0])
        # One row for the two identical CPUs: both hosts run the baseline.
        self.assertIn('  %s  yes ' % ', '.join(
            h.name for h in self.pair.hosts), proc.stdout)
