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

"""The troubleshooting page's table of refusals follows exception.py.

The rendered page is checked by tox -e admin-guide; this checks its
source, fast, on every unit run.
"""

import ast
import os

from xloud_harness import testing

from xloud_nova_ext.tests.admin_guide import refusals

TOP = refusals.TOP
ADMIN = os.path.join(TOP, 'doc', 'source', 'admin')

# Codes of the base classes, which are never raised themselves.
BASE_CODES = {'xloud.error', 'xloud.migration.refused'}


def codes_in_source():
    """Every code assigned in a class body of exception.py, read as text."""
    path = os.path.join(TOP, 'xloud_nova_ext', 'exception.py')
    with open(path) as f:
        tree = ast.parse(f.read())
    codes = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ClassDef):
            for stmt in node.body:
                if (isinstance(stmt, ast.Assign) and
                        [t.id for t in stmt.targets
                         if isinstance(t, ast.Name)] == ['code']):
                    codes.add(ast.literal_eval(stmt.value))
    return codes - BASE_CODES


class RefusalsIncludeTest(testing.TestCase):

    def test_include_is_fresh(self):
        with open(refusals.INCLUDE) as f:
            current = f.read()
        self.assertEqual(
            refusals.render(), current,
            'doc/source/admin/refusals.inc no longer matches '
            'xloud_nova_ext/exception.py; regenerate it with "python -m '
            'xloud_nova_ext.tests.admin_guide.refusals" and commit it.')

    def test_every_code_of_the_source_has_a_row(self):
        rendered = refusals.render()
        missing = [c for c in sorted(codes_in_source())
                   if '``%s``' % c not in rendered]
        self.assertEqual([], missing)
        self.assertNotEqual(set(), codes_in_source())

    def test_troubleshooting_page_includes_the_table(self):
        with open(os.path.join(ADMIN, 'troubleshooting.rst')) as f:
            self.assertIn('\n.. include:: refusals.inc\n', f.read())

    def test_dynamic_fixes_are_explained(self):
        # A refusal whose fix is computed must be explained by hand.
        with open(os.path.join(ADMIN, 'troubleshooting.rst')) as f:
            page = f.read()
        for cls in refusals.refusals():
            if cls.fix_fmt.strip() == '%(remedy)s':
                self.assertIn('\n``%s``\n' % cls.code, page)

    def test_text_is_shown_as_it_is(self):
        self.assertEqual(r'cpu\_models = \*\`x\`\|\\',
                         refusals._rst('cpu_models = *`x`|\\'))
