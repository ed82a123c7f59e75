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

"""Print the id of every scenario of the installed plugin, one per line.

Found by importing the plugin's test directory, not through tempest, so
that check-tempest-plugin.sh can tell whether tempest lists them all.
"""

import importlib
import inspect
import os
import pkgutil
import unittest

from xloud_tempest_plugin import plugin


def scenario_ids():
    test_dir, top_dir = plugin.XloudTempestPlugin().load_tests()
    package = os.path.relpath(test_dir, top_dir).replace(os.sep, '.')
    for info in pkgutil.walk_packages([test_dir], package + '.'):
        if not info.name.rsplit('.', 1)[-1].startswith('test_'):
            continue
        module = importlib.import_module(info.name)
        for name, cls in inspect.getmembers(module, inspect.isclass):
            if not issubclass(cls, unittest.TestCase):
                continue
            for test in unittest.TestLoader().getTestCaseNames(cls):
                yield '%s.%s.%s' % (module.__name__, name, test)


if __name__ == '__main__':
    for test_id in sorted(set(scenario_ids())):
        print(test_id)
