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
"""

import os
import zipfile

from xloud_nova_ext.tests.install import base


class WheelLayoutsTest(base.InstallTestCase):

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
        self.pip_install(python, wheel)
        found = self.assertNovaLoadsXloud(python)
        self.assertTrue(found['driver_file'].startswith(site),
                        found['driver_file'])
        self.assertEqual(set(), {f for f in self.site_files(site) - before
                                 if f.startswith('nova/')})
        # The console script, as an operator runs it.
        self.run_cmd(os.path.join(venv, 'bin', 'xloud-nova-ext'), 'check')

        # Uninstalled: the site directory is as nova left it.
        self.run_cmd(python, '-m', 'pip', 'uninstall', '--quiet', '-y',
                     'xloud-nova-ext')
        self.assertEqual(before, self.site_files(site))
        stock = self.probe(python, 'libvirt.LibvirtDriver')
        self.assertIn('nova.virt.libvirt.driver.LibvirtDriver',
                      stock['driver'])
        gone = self.probe(python)
        self.assertEqual(1, gone['exit'])
        self.assertIn("No module named 'nova.virt.xloud'", gone['stderr'])

        # nova in one site directory (that virtualenv's, now nova's alone),
        # ours in another, in both orders.
        local = os.path.join(self.tmp, 'usr-local-dist-packages')
        self.pip_install(python, '--no-deps', '--target', local, wheel)
        for order in (('distro', 'local'), ('local', 'distro')):
            split = self._split_python(site, local, order)
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
