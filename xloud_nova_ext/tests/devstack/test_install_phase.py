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

"""The plugin's install and clean phases, against a real editable nova.

As on a DevStack compute node: nova 34's source tree (its sdist from PyPI)
installed editable by ``setup_develop`` into DevStack's global virtualenv,
then the plugin's phases run by run-phase.sh, whose ``setup_install``,
``setup_develop``, ``pip_install`` and ``pip_uninstall`` do to pip what
DevStack's inc/python does (devstack/tests/inc-python.sh says what and how).
Only distribution packages (``install_package``) are recorded, not
installed.
"""

import os
import shutil

from xloud_nova_ext.tests.devstack import base
from xloud_nova_ext.tests.install import base as install_base

NOVA_VERSION = ('import importlib.metadata as m; '
                'print(m.version("nova"))')


class DevStackInstallPhaseTest(install_base.InstallTestCase,
                               base.PluginTestCase):

    phase_timeout = 600

    def setUp(self):
        super().setUp()
        self.venv_dir = self.venv('venv')
        self.python = os.path.join(self.venv_dir, 'bin', 'python')
        requirements_dir = os.path.join(self.tmp, 'requirements')
        os.mkdir(requirements_dir)
        shutil.copy(install_base.CONSTRAINTS, requirements_dir)
        self.env.update(
            # setup_devstack_virtualenv: the global virtualenv, first on
            # PATH.
            GLOBAL_VENV='True', DEVSTACK_VENV=self.venv_dir,
            PATH=os.path.join(self.venv_dir, 'bin') + os.pathsep
            + self.env['PATH'],
            REQUIREMENTS_DIR=requirements_dir,
            # pip's configuration and cache, as DevStack's pip finds them.
            HOME=os.path.expanduser('~'),
            PIP_NO_COMPILE='1',
            **{k: v for k, v in os.environ.items()
               if k.startswith('PIP_') or k in ('http_proxy', 'https_proxy',
                                                'no_proxy')})
        self.site = self.run_cmd(
            self.python, '-c', 'import sysconfig; '
            'print(sysconfig.get_path("purelib"))').stdout.strip()

    def devstack(self, *argv, expect_rc=0, **settings):
        """Run one of DevStack's functions (stubs.sh) with its arguments."""
        return self.run_cmd(
            'bash', '-c', 'set -eu; source "$0"; "$@"',
            os.path.join(base.DEVSTACK, 'tests', 'stubs.sh'), *argv,
            env=dict(self.env, **settings), expect_rc=expect_rc)

    def install_nova(self, tree, **settings):
        """lib/nova's install_nova, and the libvirt bindings it installs."""
        self.devstack('setup_develop', tree, **settings)
        self.devstack('pip_install', 'libvirt-python')

    def test_install_refusals_and_clean(self):
        # One test: installing nova takes most of the time.
        nova_tree = self.nova_sdist()
        self.install_nova(nova_tree)

        self.run_phases('stack:pre-install', 'stack:install',
                        XLOUD_VTPM_ENABLED='True')
        self.assertEqual(['setup_develop %s' % nova_tree,
                          'setup_install %s' % base.TOP,
                          'install_package swtpm swtpm-tools'],
                         self.calls())
        # Nothing in site-packages that could hide the editable nova.
        self.assertFalse(os.path.exists(os.path.join(self.site, 'nova')),
                         'the install phase left nova/ in site-packages, '
                         'which hides the editable nova')
        found = self.assertNovaLoadsXloud(self.python)
        self.assertTrue(found['nova'].startswith(nova_tree), found['nova'])
        self.assertTrue(found['driver_file'].startswith(self.site),
                        found['driver_file'])

        # What uninstalling a package that shipped nova/virt/xloud leaves:
        # empty directories that make nova a namespace package.
        leftover = os.path.join(self.site, 'nova')
        os.makedirs(os.path.join(leftover, 'virt'))
        broken = self.run_cmd(self.python, '-c', 'import nova.virt.libvirt',
                              expect_rc=1)
        self.assertIn("No module named 'nova.virt.libvirt'", broken.stderr)
        check = self.run_cmd(os.path.join(self.venv_dir, 'bin',
                                          'xloud-nova-ext'), 'check',
                             expect_rc=1)
        self.assertIn('ERROR nova package: nova is a namespace package in '
                      'this Python: %s hold no __init__.py' % leftover,
                      check.stdout)
        self.assertIn('Fix: Remove these directories (they hold nothing of '
                      'nova), e.g. rm -r %s.' % leftover, check.stdout)
        shutil.rmtree(leftover)

        # nova master moves to the next release: installing the plugin
        # leaves it alone, stops stack.sh, and the driver refuses to load.
        self.install_nova(nova_tree, PBR_VERSION='35.0.0')
        out = self.run_phases('stack:install', expect_rc=1)
        self.assertIn('ERROR nova version: [xloud.install.nova_unsupported] '
                      'This xloud-nova-ext extends the libvirt driver of '
                      'nova 34; this host runs nova 35.0.0. Fix: Install the '
                      'xloud-nova-ext release made for nova 35', out)
        self.assertIn('nova cannot load the Xloud driver', self.stderr)
        version = self.run_cmd(self.python, '-c', NOVA_VERSION)
        self.assertEqual('35.0.0', version.stdout.strip())
        found = self.probe(self.python)
        self.assertTrue(found['nova'].startswith(nova_tree), found['nova'])
        # nova-compute's start: nova logs the refusal and exits.
        self.assertEqual(1, found['exit'])
        self.assertIn('Unable to load the virtualization driver',
                      found['stderr'])
        self.assertIn('[xloud.install.nova_unsupported]', found['stderr'])

        # clean.sh: the package goes, and nothing of it stays.
        self.run_phases('unstack', 'clean')
        self.assertEqual('pip_uninstall xloud-nova-ext', self.calls()[-1])
        self.assertEqual([], [n for n in os.listdir(self.site)
                              if 'xloud' in n or n == 'nova'])
        stock = self.probe(self.python, 'libvirt.LibvirtDriver')
        self.assertIn('nova.virt.libvirt.driver.LibvirtDriver',
                      stock['driver'])
