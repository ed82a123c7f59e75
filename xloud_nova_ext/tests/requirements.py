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

"""What a test needs from the machine, and what to do when it is absent.

A test that needs something this machine may lack (root, libvirtd, a
Barbican server) calls :func:`require`. Outside CI it then skips with the
reason; with ``XLOUD_TEST_REQUIRE_ALL=1`` (set by ``tools/run-tests.sh``, so
by CI) the same absence fails the test, so that no tier can pass by skipping.
"""

import os
import shutil

REQUIRE_ALL_ENV = 'XLOUD_TEST_REQUIRE_ALL'


def require_all():
    return os.environ.get(REQUIRE_ALL_ENV, '') not in ('', '0')


def require(test, condition, reason):
    """Skip ``test`` (a TestCase) with ``reason`` unless ``condition`` holds.

    Under ``XLOUD_TEST_REQUIRE_ALL`` a missing requirement is a failure.
    """
    if condition:
        return
    if require_all():
        test.fail('%s (and %s is set, so this cannot be skipped)'
                  % (reason, REQUIRE_ALL_ENV))
    test.skipTest(reason)


def is_root():
    return os.geteuid() == 0


def missing_commands(*names):
    """The subset of ``names`` missing from PATH (empty when all exist)."""
    return [n for n in names if shutil.which(n) is None]
