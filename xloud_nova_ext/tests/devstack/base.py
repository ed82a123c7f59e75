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

"""Run the DevStack plugin's phases under bash, DevStack stubbed.

devstack/tests/run-phase.sh sources devstack/settings and plugin.sh as
stack.sh does, with devstack/tests/stubs.sh standing in for DevStack's
functions: devstack-tools' ``dsconf`` edits the ini files, package and pip
calls are recorded in a log. The tests read the nova.conf and tempest.conf
the phases leave behind.
"""

import configparser
import os
import shutil
import subprocess
import sys

import fixtures

from xloud_harness import testing

from xloud_nova_ext.tests import requirements

TOP = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__)))))
DEVSTACK = os.path.join(TOP, 'devstack')
RUN_PHASE = os.path.join(DEVSTACK, 'tests', 'run-phase.sh')

# What lib/nova and lib/nova_plugins/hypervisor-libvirt write before the
# plugin's post-config phase, on a host without /dev/kvm.
DEVSTACK_NOVA_CONF = """\
[DEFAULT]
compute_driver = libvirt.LibvirtDriver
[libvirt]
virt_type = qemu
cpu_mode = custom
cpu_models = Nehalem
[key_manager]
backend = nova.keymgr.conf_key_mgr.ConfKeyManager
"""

# What lib/tempest writes before the plugin's test-config phase.
DEVSTACK_TEMPEST_CONF = """\
[compute-feature-enabled]
live_migration = False
block_migration_for_live_migration = False
"""


def read_ini(path):
    # DEFAULT as a plain section: its options must not show in the others.
    parser = configparser.RawConfigParser(strict=False,
                                          default_section='(none)')
    parser.optionxform = str
    if not parser.read(path):
        raise AssertionError('%s was not written' % path)
    return parser


def section(path, name):
    """The options of one section of an ini file, as a dict."""
    parser = read_ini(path)
    if not parser.has_section(name):
        return {}
    return dict(parser.items(name))


class PluginTestCase(testing.TestCase):
    """A scratch DEST with DevStack's nova.conf and tempest.conf."""

    #: Seconds run-phase.sh may take (the install phase runs pip).
    phase_timeout = 60

    def setUp(self):
        super().setUp()
        bindir = os.path.dirname(sys.executable)
        path = bindir + os.pathsep + os.environ.get('PATH', '')
        missing = [c for c in ('bash', 'dsconf')
                   if not shutil.which(c, path=path)]
        requirements.require(
            self, not missing,
            'missing %s (pip install devstack-tools)' % ', '.join(missing))
        self.dest = self.useFixture(fixtures.TempDir()).path
        self.nova_conf = os.path.join(self.dest, 'nova.conf')
        self.nova_cpu_conf = os.path.join(self.dest, 'nova-cpu.conf')
        self.tempest_conf = os.path.join(self.dest, 'tempest.conf')
        self.log = os.path.join(self.dest, 'calls.log')
        self.local_conf = os.path.join(self.dest, 'local.conf')
        with open(self.nova_conf, 'w') as f:
            f.write(DEVSTACK_NOVA_CONF)
        with open(self.tempest_conf, 'w') as f:
            f.write(DEVSTACK_TEMPEST_CONF)
        # Nothing from the caller's environment: a developer's XLOUD_*
        # variables must not change what the tests see.
        self.env = {
            'PATH': path,
            'HOME': self.dest,
            'LANG': 'C.UTF-8',
            'DEST': self.dest,
            'TOP_DIR': self.dest,
            'XLOUD_DIR': TOP,
            'NOVA_CONF': self.nova_conf,
            'NOVA_CPU_CONF': self.nova_cpu_conf,
            'NOVA_INSTANCES_PATH': os.path.join(self.dest, 'instances'),
            'TEMPEST_CONFIG': self.tempest_conf,
            'TEMPEST_PLUGINS': '0',
            'VIRT_DRIVER': 'libvirt',
            'KEYSTONE_SERVICE_URI': 'http://192.0.2.10/identity',
            'ENABLED_SERVICES': 'n-cpu,tempest',
            'XLOUD_TEST_LOG': self.log,
            'XLOUD_TEST_PYTHON': sys.executable,
            'XLOUD_TEST_COMPUTES': 'controller compute1',
        }

    def write_local_conf(self, text):
        """DevStack's local.conf, as the user (or a zuul job) wrote it."""
        with open(self.local_conf, 'w') as f:
            f.write(text)

    def run_phases(self, *phases, expect_rc=0, **settings):
        """Run run-phase.sh; return its stdout. settings go to its env."""
        env = dict(self.env, **settings)
        proc = subprocess.run(['bash', RUN_PHASE] + list(phases), env=env,
                              capture_output=True, text=True,
                              timeout=self.phase_timeout)
        if proc.returncode != expect_rc:
            self.fail('run-phase.sh %s exited %d, not %d\nstdout:\n%s\n'
                      'stderr:\n%s' % (' '.join(phases), proc.returncode,
                                       expect_rc, proc.stdout, proc.stderr))
        self.stderr = proc.stderr
        return proc.stdout

    def variables(self, *names, **settings):
        """Values of shell variables after devstack/settings is sourced."""
        out = self.run_phases(XLOUD_TEST_PRINT=' '.join(names), **settings)
        found = {}
        for line in out.splitlines():
            if line.startswith('var: '):
                name, _, value = line[len('var: '):].partition('=')
                found[name] = value
        return found

    def calls(self):
        """The package and pip calls the phases made, one string each."""
        if not os.path.exists(self.log):
            return []
        with open(self.log) as f:
            return f.read().splitlines()
