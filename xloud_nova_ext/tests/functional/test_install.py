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


"""The package as an operator installs it: a wheel beside nova, no source.

nova-compute loads ``[DEFAULT] compute_driver = xloud.XloudLibvirtDriver`` by
importing ``nova.virt.xloud``. This builds our wheel, installs it (not
editable) into a fresh virtualenv with nova 34 from the constraints file, and
asks nova's own ``load_compute_driver`` for the driver there.
"""

import base64
import hashlib
import os
import shutil
import subprocess
import sys
import zipfile

import fixtures

from xloud_harness import testing

from xloud_nova_ext.tests import requirements

TOP = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__)))))

LOAD_DRIVER = '''
import nova.conf
from nova.virt import driver
CONF = nova.conf.CONF
CONF([], project='nova')
CONF.set_override('compute_driver', 'xloud.XloudLibvirtDriver')
drv = driver.load_compute_driver(None)
cls = type(drv)
print(cls.__module__, cls.__name__,
      [c.__module__ + '.' + c.__name__ for c in cls.__mro__[1:3]])
import xloud_nova_ext
print(xloud_nova_ext.__file__)
'''


def _record_hash(path):
    with open(path, 'rb') as f:
        digest = hashlib.sha256(f.read()).digest()
    return 'sha256=' + base64.urlsafe_b64encode(digest).rstrip(b'=').decode()


class InstalledDriverTest(testing.TestCase):

    def setUp(self):
        super().setUp()
        requirements.require(self, shutil.which('git'),
                             'building the wheel (pbr) needs git')
        self.tmp = self.useFixture(fixtures.TempDir()).path

    def _run(self, *argv, **kwargs):
        proc = subprocess.run(argv, capture_output=True, text=True,
                              **kwargs)
        self.assertEqual(0, proc.returncode,
                         '%s failed:\n%s\n%s' % (argv, proc.stdout,
                                                 proc.stderr))
        return proc.stdout

    def _build_wheel(self):
        wheels = os.path.join(self.tmp, 'wheels')
        self._run(sys.executable, '-m', 'pip', 'wheel', '--no-deps',
                  '--quiet', '-w', wheels, TOP)
        [wheel] = [os.path.join(wheels, w) for w in os.listdir(wheels)]
        return wheel

    def test_nova_loads_the_driver_from_an_installed_wheel(self):
        # One test, one wheel build: pip builds in the source tree, so two
        # builds at once would race on its build/ directory.
        wheel = self._build_wheel()
        with zipfile.ZipFile(wheel) as zf:
            under_nova = sorted(n for n in zf.namelist()
                                if n.startswith('nova/'))
        # Never nova/__init__.py or nova/virt/__init__.py: installing those
        # would overwrite nova's own.
        self.assertEqual(['nova/virt/xloud/__init__.py'], under_nova)

        venv = os.path.join(self.tmp, 'venv')
        self._run(sys.executable, '-m', 'venv', venv)
        pip = [os.path.join(venv, 'bin', 'python'), '-m', 'pip', 'install',
               '--quiet', '-c', os.path.join(TOP, 'upper-constraints.txt')]
        self._run(*pip, 'nova', 'libvirt-python')
        site = self._run(os.path.join(venv, 'bin', 'python'), '-c',
                         'import nova, os; '
                         'print(os.path.dirname(nova.__file__))').strip()
        before = {n: _record_hash(os.path.join(site, n))
                  for n in ('__init__.py', 'virt/__init__.py')}
        self._run(*pip, wheel)

        # Run outside the source tree so that only installed code is found.
        out = self._run(os.path.join(venv, 'bin', 'python'), '-c',
                        LOAD_DRIVER, cwd=self.tmp)
        first, where = out.strip().splitlines()[-2:]
        self.assertEqual(
            "xloud_nova_ext.virt.libvirt.driver XloudLibvirtDriver "
            "['nova.virt.libvirt.driver.LibvirtDriver', "
            "'nova.virt.driver.ComputeDriver']", first)
        self.assertTrue(where.startswith(venv), where)
        after = {n: _record_hash(os.path.join(site, n)) for n in before}
        self.assertEqual(before, after, "nova's own package files changed")
