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


"""The base test case of every tier: a test past its time fails by name.

``OS_TEST_TIMEOUT`` (seconds; tox.ini sets it for every tier) bounds each
test. Past it the test fails with ``fixtures.TimeoutException`` under its
own id, and the run goes on, instead of hanging the whole tier. A class
whose tests legitimately take longer (booting a TCG guest, starting a
database server) raises its ``TIMEOUT_SCALING_FACTOR``, as nova's own
TestCase lets it: it is still bounded.

:func:`run` runs one test outside a test runner, for tools built on a
test case of the harness (the benchmarks in nova's functional harness).
"""

import os

import fixtures
import testtools


def test_timeout():
    """``OS_TEST_TIMEOUT`` in seconds; 0 (no limit) when unset or invalid."""
    try:
        return max(0, int(float(os.environ.get('OS_TEST_TIMEOUT', 0))))
    except ValueError:
        return 0


class TestCase(testtools.TestCase):
    """testtools' TestCase bounded by ``OS_TEST_TIMEOUT``."""

    #: The bound is ``OS_TEST_TIMEOUT`` times this.
    TIMEOUT_SCALING_FACTOR = 1

    def setUp(self):
        super().setUp()
        timeout = test_timeout() * self.TIMEOUT_SCALING_FACTOR
        if timeout:
            self.useFixture(fixtures.Timeout(timeout, gentle=True))


class TestDidNotPass(Exception):
    """A test that :func:`run` ran failed, errored or was skipped."""


def run(case):
    """Run one test as a runner would: set-up, the test, clean-ups, timeout.

    ``case`` is a test case instance (``Class('test_name')``). Returns
    nothing; raises :class:`TestDidNotPass` naming the test and its
    tracebacks, or why it was skipped.
    """
    result = testtools.TestResult()
    case.run(result)
    problems = [text for _test, text in result.errors + result.failures]
    problems += ['skipped: %s' % reason for reason in result.skip_reasons]
    problems += ['unexpected success' for _ in result.unexpectedSuccesses]
    if problems:
        raise TestDidNotPass('%s did not pass:\n%s'
                             % (case.id(), '\n'.join(problems)))
