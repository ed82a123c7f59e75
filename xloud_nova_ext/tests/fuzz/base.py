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

"""The fuzz targets' harness: run a check on many generated inputs, count.

:meth:`FuzzTestCase.fuzz` runs hypothesis with :data:`CASES` examples (no
deadline: the cores are shared; no example database: nothing written to
the tree), counts the inputs the check saw, fails unless there were at
least :data:`CASES`, and records the count in the directory named by
``XLOUD_FUZZ_COUNTS`` (set by ``tox -e fuzz``) for :mod:`.report`.
"""

import os

import hypothesis

from xloud_harness import testing

#: Inputs per target; ``XLOUD_FUZZ_CASES`` raises it for a longer run.
CASES = max(1000, int(os.environ.get('XLOUD_FUZZ_CASES', '1000')))
COUNTS_ENV = 'XLOUD_FUZZ_COUNTS'


class FuzzTestCase(testing.TestCase):
    """A fuzz target, bounded by OS_TEST_TIMEOUT as every test is."""

    def fuzz(self, strategy, check):
        """Call ``check(value)`` on at least CASES values of ``strategy``."""
        seen = []

        @hypothesis.settings(
            max_examples=CASES, deadline=None, database=None,
            suppress_health_check=list(hypothesis.HealthCheck))
        @hypothesis.given(strategy)
        def run(value):
            seen.append(1)
            check(value)

        run()
        record(self.id(), len(seen))
        self.assertGreaterEqual(len(seen), CASES,
                                'hypothesis ran fewer cases than asked')


def record(test_id, count):
    directory = os.environ.get(COUNTS_ENV)
    if not directory:
        return
    os.makedirs(directory, exist_ok=True)
    with open(os.path.join(directory, test_id), 'w') as f:
        f.write('%d\n' % count)
