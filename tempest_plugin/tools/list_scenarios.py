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

"""The one lister of the Tempest plugin's scenarios, read from the source.

``python list_scenarios.py`` prints the id of every scenario, one per line,
so that check-tempest-plugin.sh can tell whether tempest lists them all;
tools/check_zuul.py uses :func:`scenario_ids` to check the jobs' regexes.
Nothing is imported: it runs with or without tempest and the plugin
installed. A class inherits the tests of the classes it names as bases in
its own module, as the block-migration variants do.
"""

import ast
import os
import sys

SCENARIO_PACKAGE = 'xloud_tempest_plugin.api'
REPOSITORY = os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))))


def scenario_ids(root=REPOSITORY):
    """Test ids of the plugin's scenarios in the repository at ``root``."""
    top = os.path.join(root, 'tempest_plugin')
    package_dir = os.path.join(top, *SCENARIO_PACKAGE.split('.'))
    ids = []
    for dirpath, dirs, files in os.walk(package_dir):
        dirs.sort()
        for name in sorted(files):
            if not (name.startswith('test_') and name.endswith('.py')):
                continue
            path = os.path.join(dirpath, name)
            module = os.path.relpath(path, top)[:-3].replace(os.sep, '.')
            with open(path) as f:
                tree = ast.parse(f.read(), path)
            classes = {n.name: n for n in tree.body
                       if isinstance(n, ast.ClassDef)}
            for cls in classes.values():
                for test in sorted(_tests(cls, classes)):
                    ids.append('%s.%s.%s' % (module, cls.name, test))
    return ids


def _tests(cls, classes, seen=()):
    names = {n.name for n in cls.body if isinstance(n, ast.FunctionDef) and
             n.name.startswith('test_')}
    for b in cls.bases:
        if isinstance(b, ast.Name) and b.id in classes and b.id not in seen:
            names |= _tests(classes[b.id], classes, seen + (cls.name,))
    return names


if __name__ == '__main__':
    for test_id in sorted(set(scenario_ids(*sys.argv[1:2]))):
        print(test_id)
