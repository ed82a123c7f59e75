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

"""requirements.txt: each floor is at least the version the code needs.

FEATURES names, per library, what the product code uses and the first
release that has it (read from each release's wheel). The test checks the
floor against it and that the installed library really has the feature, so
a new use of a newer API shows up here when its entry is added.
"""

import inspect
import os

from barbicanclient.v1 import acls
from castellan.key_manager import barbican_key_manager
from packaging import requirements as pkg_requirements
from packaging import version

from xloud_harness import testing

REQUIREMENTS = os.path.join(os.path.dirname(__file__), '..', '..', '..',
                            'requirements.txt')


def _has_ref_type():
    return 'ref_type' in inspect.signature(acls.ACLManager.get).parameters


def _has_service_user_token():
    return any(opt.name == 'send_service_user_token'
               for opt in barbican_key_manager._barbican_opts)


# library -> (first version with it, what we use, check on the installed one)
FEATURES = {
    'python-barbicanclient': (
        '7.5.0', 'ACLManager.get(entity_ref, ref_type=) (not in 7.3, 7.4)',
        _has_ref_type),
    'castellan': (
        '3.9.0', '[barbican] send_service_user_token and '
        '[barbican_service_user] (not in 3.8)', _has_service_user_token),
    # Session(timeout=), ServiceTokenAuthWrapper: much older; nova 34's
    # own floor is the binding one.
    'keystoneauth1': ('5.16.0', "nova 34's floor", lambda: True),
}


def floors():
    found = {}
    with open(REQUIREMENTS) as f:
        for line in f:
            line = line.split('#', 1)[0].strip()
            if not line:
                continue
            req = pkg_requirements.Requirement(line)
            for spec in req.specifier:
                if spec.operator == '>=':
                    found[req.name] = version.Version(spec.version)
    return found


class FloorTest(testing.TestCase):

    def test_floors_are_what_the_code_needs(self):
        found = floors()
        for name, (first, what, _check) in FEATURES.items():
            self.assertIn(name, found)
            self.assertGreaterEqual(found[name], version.Version(first),
                                    '%s: we use %s' % (name, what))

    def test_installed_libraries_have_the_features(self):
        for name, (_first, what, check) in FEATURES.items():
            self.assertTrue(check(), '%s lacks %s' % (name, what))
