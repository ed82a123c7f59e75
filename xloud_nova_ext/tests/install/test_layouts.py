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

"""nova from PyPI's wheel, and our wheel, in the layouts installers make.

* a virtualenv holding both (XDeploy, kolla), then uninstalled;
* nova in one site directory, ours in another, in either order (Debian:
  python3-nova in /usr/lib/python3/dist-packages, pip's in
  /usr/local/lib/python3.X/dist-packages);
* ours where Python reads no .pth (PYTHONPATH, pip --target): a layout
  that cannot work, which ``xloud-nova-ext check`` must name.

The first two are installed, and the first uninstalled, by the install
page's own blocks (doc/source/install/index.rst), read from the page.
"""

import os
import re
import shutil
import zipfile

from xloud_nova_ext.tests.admin_guide import shell_blocks
from xloud_nova_ext.tests.install import base

PAGE = 'install/index.rst'
#: The install page's blocks, as the tests below run them.
VENV_INSTALL = (PAGE, '/opt/nova/venv/bin/pip install')
UNINSTALL = (PAGE, '/opt/nova/venv/bin/pip uninstall')
DISTRO_INSTALL = (PAGE, 'pip3 freeze > distribution-constraints.txt')


class WheelLayoutsTest(base.InstallTestCase):

    def run_guide_block(self, key, wheel, venv=None, path=None, input=None,
                        **env):
        """Run one block of the install page, as an operator runs it.

        In a directory that holds what the page assumes: ``dist/`` with the
        wheel (its ``<version>`` is the wheel's) and nova's constraints file
        ``upper-constraints.txt``; ``venv`` stands for the page's
        ``/opt/nova/venv``, ``path`` goes first on PATH, ``input`` answers
        the command's questions, ``env`` adds to the environment.
        """
        block = shell_blocks.block(*key)
        cwd = os.path.join(self.tmp, 'operator')
        if not os.path.isdir(cwd):
            os.makedirs(os.path.join(cwd, 'dist'))
            shutil.copy(wheel, os.path.join(cwd, 'dist'))
            shutil.copy(base.CONSTRAINTS, cwd)
        version = re.match(r'xloud_nova_ext-(.+)-py3-none-any\.whl$',
                           os.path.basename(wheel)).group(1)
        script = '\n'.join(block.commands).replace('<version>', version)
        if venv:
            script = script.replace('/opt/nova/venv', venv)
        self.assertNotIn('/opt/nova', script)
        env.update((k, v) for k, v in os.environ.items()
                   if k != 'PBR_VERSION')
        if path:
            env['PATH'] = path + os.pathsep + env['PATH']
        return self.run_cmd('bash', '-euo', 'pipefail', '-c', script,
                            cwd=cwd, env=env, input=input)

    def _check_wheel(self, wheel):
        with zipfile.ZipFile(wheel) as zf:
            names = zf.namelist()
        # Nothing under nova/: beside an editable nova, a nova/ directory in
        # site-packages hides nova's own package.
        self.assertEqual([], [n for n in names if n.startswith('nova/')])
        self.assertIn('xloud-nova-ext.pth', names)

    def _split_python(self, distro, local, order):
        """A Python whose site directories are distro and local, in order.

        Python's site module reads .pth files in site directories only, as
        Debian's reads /usr/local/lib/python3.X/dist-packages and
        /usr/lib/python3/dist-packages: addsitedir does the same here.
        """
        venv = self.venv('split-%s' % '-'.join(order))
        python = os.path.join(venv, 'bin', 'python')
        site = self.run_cmd(python, '-c', 'import sysconfig; '
                            'print(sysconfig.get_path("purelib"))')
        dirs = {'distro': distro, 'local': local}
        with open(os.path.join(site.stdout.strip(), 'layout.pth'), 'w') as f:
            f.write('import site; %s\n' % '; '.join(
                'site.addsitedir(%r)' % dirs[name] for name in order))
        return python

    def test_virtualenv_uninstall_and_split_site_dirs(self):
        # One test: the later layouts reuse the virtualenv's nova, whose
        # install takes most of the time.
        wheel = self.wheel()
        self._check_wheel(wheel)

        # nova and the driver in one virtualenv.
        venv = self.venv('venv')
        python = os.path.join(venv, 'bin', 'python')
        self.pip_install(python, 'nova', 'libvirt-python')
        site = os.path.dirname(os.path.dirname(
            self.probe(python, 'libvirt.LibvirtDriver')['nova']))
        before = self.site_files(site)
        self.run_guide_block(VENV_INSTALL, wheel, venv=venv)
        found = self.assertNovaLoadsXloud(python)
        self.assertTrue(found['driver_file'].startswith(site),
                        found['driver_file'])
        self.assertEqual(set(), {f for f in self.site_files(site) - before
                                 if f.startswith('nova/')})
        # The console script, as an operator runs it.
        self.run_cmd(os.path.join(venv, 'bin', 'xloud-nova-ext'), 'check')

        # Uninstalled as the page says (pip asks; the operator says yes):
        # the site directory is as nova left it.
        proc = self.run_guide_block(UNINSTALL, wheel, venv=venv, input='y\n')
        self.assertIn('Successfully uninstalled xloud-nova-ext', proc.stdout)
        self.assertEqual(before, self.site_files(site))
        stock = self.probe(python, 'libvirt.LibvirtDriver')
        self.assertIn('nova.virt.libvirt.driver.LibvirtDriver',
                      stock['driver'])
        gone = self.probe(python)
        self.assertEqual(1, gone['exit'])
        self.assertIn("No module named 'nova.virt.xloud'", gone['stderr'])

        # nova in one site directory (that virtualenv's, now nova's alone,
        # as Debian's /usr/lib/python3/dist-packages), ours installed by the
        # page's distribution block into another. Debian's pip3 installs
        # into /usr/local: here the pip3 of a Python that reads both
        # directories (local first, as Debian's), told to install under a
        # prefix whose site directory is "local".
        prefix = os.path.join(self.tmp, 'usr-local')
        local = os.path.join(prefix, 'lib', 'python%s' % self.run_cmd(
            python, '-c', 'import sys; print("%d.%d" % sys.version_info[:2])'
        ).stdout.strip(), 'site-packages')
        os.makedirs(local)
        orders = {order: self._split_python(site, local, order)
                  for order in (('distro', 'local'), ('local', 'distro'))}
        self.run_guide_block(
            DISTRO_INSTALL, wheel, PIP_PREFIX=prefix,
            path=os.path.dirname(orders['local', 'distro']))
        # pip replaced none of the distribution's packages.
        self.assertEqual(before, self.site_files(site))
        with open(os.path.join(self.tmp, 'operator',
                               'distribution-constraints.txt')) as f:
            self.assertRegex(f.read(), r'(?m)^nova==34\.')
        for split in orders.values():
            found = self.assertNovaLoadsXloud(split)
            self.assertTrue(found['nova'].startswith(site), found['nova'])
            self.assertTrue(found['driver_file'].startswith(local),
                            found['driver_file'])

        # Ours on PYTHONPATH: importable, but no site directory, so Python
        # never reads our .pth and nova cannot load the driver. The check
        # says so, and how to install instead.
        split = self._split_python(site, local, ('distro',))
        env = dict(os.environ, PYTHONPATH=local)
        found = self.probe(split, env=env)
        self.assertEqual(1, found['exit'])
        check = self.run_cmd(split, '-c', base.XLOUD_NOVA_EXT, 'check',
                             env=env, expect_rc=1)
        self.assertIn('ERROR driver module: nova cannot import '
                      'nova.virt.xloud: this Python did not read '
                      'xloud-nova-ext.pth', check.stdout)
        self.assertIn('Fix: Install xloud-nova-ext with pip into the '
                      'environment that runs nova-compute, not with --target '
                      'or PYTHONPATH.', check.stdout)
