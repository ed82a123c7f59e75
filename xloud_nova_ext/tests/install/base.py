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

"""Python environments holding nova 34 from PyPI, laid out as installers do.

Each test builds its environments for real: ``python -m venv``, pip with
our constraints (nova 34.0.0) and pip's cache, nova from its wheel or its
sdist, our package from a wheel built from this tree (the tox env builds
one into ``XLOUD_TEST_WHEELHOUSE``; without it the test builds its own).
Then it asks that Python what nova-compute and nova-manage would: see
:data:`PROBE`.
"""

import glob
import json
import os
import re
import shutil
import subprocess
import sys
import tarfile

import fixtures
import testtools

from xloud_nova_ext.tests import requirements

TOP = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__)))))
CONSTRAINTS = os.path.join(TOP, 'upper-constraints.txt')
DRIVER = 'xloud.XloudLibvirtDriver'
XLOUD_CLASS = 'xloud_nova_ext.virt.libvirt.driver.XloudLibvirtDriver'

# nova-compute's start, as far as this layout matters: nova's own imports,
# then load_compute_driver for the driver named in argv[1] (it logs and
# exits 1 when it cannot load it). Prints what it found as JSON.
PROBE = '''
import json
import sys

import nova
import nova.virt.libvirt
import nova.conf
from nova.virt import driver

found = {'nova': nova.__file__}
nova.conf.CONF([], project='nova')
try:
    drv = driver.load_compute_driver(None, sys.argv[1])
except SystemExit as e:
    found['exit'] = e.code
else:
    cls = type(drv)
    found['driver'] = [c.__module__ + '.' + c.__name__ for c in cls.__mro__]
    found['driver_file'] = sys.modules[cls.__module__].__file__
print(json.dumps(found))
'''

# What the console scripts nova-manage and xloud-nova-ext run.
NOVA_MANAGE = ('import sys; from nova.cmd.manage import main; '
               'sys.argv[0] = "nova-manage"; sys.exit(main())')
XLOUD_NOVA_EXT = ('import sys; from xloud_nova_ext.cmd.nova_ext import main; '
                  'sys.exit(main())')


class InstallTestCase(testtools.TestCase):
    """A scratch directory, and helpers that run pip and Python in it."""

    def setUp(self):
        super().setUp()
        requirements.require(self, shutil.which('git'),
                             'building our wheel (pbr) needs git')
        self.tmp = self.useFixture(fixtures.TempDir()).path
        # OS_TEST_TIMEOUT is meant for unit tests: installing nova takes
        # about a minute on an idle machine, twenty on a machine shared by
        # many builds.
        self.useFixture(fixtures.Timeout(3600, gentle=True))

    def run_cmd(self, *argv, expect_rc=0, **kwargs):
        """Run argv; fail unless it exits expect_rc; return the process."""
        kwargs.setdefault('cwd', self.tmp)
        if kwargs.get('env') is None:
            # tox sets PBR_VERSION for our packages; pbr would give nova's
            # builds that version too.
            kwargs['env'] = {k: v for k, v in os.environ.items()
                             if k != 'PBR_VERSION'}
        proc = subprocess.run(argv, capture_output=True, text=True,
                              **kwargs)
        if expect_rc is not None and proc.returncode != expect_rc:
            self.fail('%s exited %d, not %d:\n%s\n%s'
                      % (' '.join(argv), proc.returncode, expect_rc,
                         proc.stdout[-4000:], proc.stderr[-4000:]))
        return proc

    def venv(self, name):
        path = os.path.join(self.tmp, name)
        self.run_cmd(sys.executable, '-m', 'venv', path)
        return path

    def pip_install(self, python, *args):
        """pip install, constrained like every tox env (nova 34.0.0).

        Without byte-compiling: Python compiles what it imports anyway, and
        compiling all of nova's dependencies costs a minute on a busy host.
        """
        self.run_cmd(python, '-m', 'pip', 'install', '--quiet', '--no-compile',
                     '-c', CONSTRAINTS, *args)

    def wheel(self):
        """Our wheel: the tox env's, or one built now."""
        house = os.environ.get('XLOUD_TEST_WHEELHOUSE')
        if not house:
            house = os.path.join(self.tmp, 'wheelhouse')
            self.run_cmd(sys.executable, '-m', 'pip', 'wheel', '--no-deps',
                         '--quiet', '-w', house, TOP)
        [wheel] = glob.glob(os.path.join(house, 'xloud_nova_ext-*.whl'))
        return wheel

    def nova_sdist(self):
        """nova 34's source tree, from its sdist on PyPI, unpacked.

        The sdist is kept in ~/.cache/xloud/sdist between runs.
        """
        with open(CONSTRAINTS) as f:
            [version] = re.findall(r'^nova===?([^\s;]+)', f.read(), re.M)
        cache = os.path.join(os.path.expanduser('~'), '.cache', 'xloud',
                             'sdist')
        sdist = os.path.join(cache, 'nova-%s.tar.gz' % version)
        if not os.path.exists(sdist):
            self.run_cmd(sys.executable, '-m', 'pip', 'download', '--quiet',
                         '--no-deps', '--no-binary', 'nova', '-d', cache,
                         'nova==%s' % version)
        dist = os.path.join(self.tmp, 'sdist')
        with tarfile.open(sdist) as tar:
            tar.extractall(dist, filter='data')
        return os.path.join(dist, 'nova-%s' % version)

    def probe(self, python, driver=DRIVER, env=None):
        """What nova-compute's start finds (see PROBE), as a dict."""
        proc = self.run_cmd(python, '-c', PROBE, driver, env=env)
        found = json.loads(proc.stdout.strip().splitlines()[-1])
        found['stderr'] = proc.stderr
        return found

    def assertNovaLoadsXloud(self, python, env=None):
        """nova, nova-manage and nova-compute's driver loading all work."""
        found = self.probe(python, env=env)
        self.assertNotIn('exit', found, found['stderr'][-3000:])
        self.assertEqual(XLOUD_CLASS, found['driver'][0])
        self.assertIn('nova.virt.libvirt.driver.LibvirtDriver',
                      found['driver'])
        # nova-manage and xloud-nova-ext as their console scripts run them.
        proc = self.run_cmd(python, '-c', NOVA_MANAGE, '--version', env=env)
        self.assertTrue(proc.stdout.strip().startswith('34.'), proc.stdout)
        check = self.run_cmd(python, '-c', XLOUD_NOVA_EXT, 'check', env=env)
        self.assertNotIn('ERROR', check.stdout)
        return found

    def site_files(self, site):
        """Every file under a site directory (bytecode caches aside)."""
        files = set()
        for root, dirs, names in os.walk(site):
            dirs[:] = [d for d in dirs if d != '__pycache__']
            files.update(os.path.relpath(os.path.join(root, n), site)
                         for n in names)
        return files
