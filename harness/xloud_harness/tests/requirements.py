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

"""What a harness test needs from the machine, and what to do when it is
absent: skip with the reason, or fail under ``XLOUD_TEST_REQUIRE_ALL=1``
(CI), so that no tier passes by skipping. (The product's tests have the same
rule in their own module: the harness never imports the product.)
"""

import os
import shutil

REQUIRE_ALL_ENV = 'XLOUD_TEST_REQUIRE_ALL'


def require(test, condition, reason):
    """Skip ``test`` with ``reason`` unless ``condition`` holds."""
    if condition:
        return
    if os.environ.get(REQUIRE_ALL_ENV, '') not in ('', '0'):
        test.fail('%s (and %s is set, so this cannot be skipped)'
                  % (reason, REQUIRE_ALL_ENV))
    test.skipTest(reason)


def missing_commands(*names):
    """The subset of ``names`` found neither on PATH nor as a path."""
    return [n for n in names
            if shutil.which(n) is None and not os.path.exists(n)]
