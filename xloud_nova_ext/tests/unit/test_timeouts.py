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


"""Every test of every tier is bounded by OS_TEST_TIMEOUT.

A test class must derive from a base that applies the timeout
(``xloud_harness.testing.TestCase``, oslotest's, nova's, the Tempest
plugin's own base), never from testtools' or unittest's TestCase directly:
a hung test then fails by name instead of hanging its tier. The harness's
own tests prove that such a test fails by name
(``xloud_harness.tests.test_testing``).
"""

import ast
import os

import fixtures

from xloud_harness import testing

TOP = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__)))))
TEST_DIRS = ('xloud_nova_ext/tests', 'cloud/xloud_migration_cloud/tests',
             'harness/xloud_harness/tests',
             'tempest_plugin/xloud_tempest_plugin/tests')
UNBOUNDED = {'testtools.TestCase', 'unittest.TestCase'}
# The bases that apply a timeout themselves. The install matrix's (a
# virtualenv without the harness) allows an hour: building nova's
# environments takes minutes, twenty on a machine shared by many builds.
TIMEOUT_BASES = {
    'harness/xloud_harness/testing.py',
    'tempest_plugin/xloud_tempest_plugin/tests/unit/base.py',
    'xloud_nova_ext/tests/install/base.py',
}


def _unbounded_classes(path):
    with open(path) as f:
        tree = ast.parse(f.read(), path)
    for node in ast.walk(tree):
        if not isinstance(node, ast.ClassDef):
            continue
        for base in node.bases:
            if ast.unparse(base) in UNBOUNDED:
                yield node.name


class TimeoutsTest(testing.TestCase):

    def test_no_test_class_bypasses_the_timeout(self):
        found = []
        for test_dir in TEST_DIRS:
            for dirpath, _dirs, files in os.walk(os.path.join(TOP, test_dir)):
                for name in files:
                    path = os.path.join(dirpath, name)
                    rel = os.path.relpath(path, TOP)
                    if not name.endswith('.py') or rel in TIMEOUT_BASES:
                        continue
                    found += ['%s: %s' % (rel, cls)
                              for cls in _unbounded_classes(path)]
        self.assertEqual([], found, 'derive from xloud_harness.testing.'
                         'TestCase (or the tier\'s base) instead')

    def test_the_check_sees_a_bypass(self):
        path = os.path.join(self.useFixture(fixtures.TempDir()).path,
                            'test_x.py')
        with open(path, 'w') as f:
            f.write('import testtools\n\n\nclass T(testtools.TestCase):\n'
                    '    pass\n')
        self.assertEqual(['T'], list(_unbounded_classes(path)))
