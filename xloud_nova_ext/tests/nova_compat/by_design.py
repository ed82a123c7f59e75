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

"""The one list of nova's tests that cannot pass with our driver, and why.

A test listed here fails because our refusal is the point of the product,
not because of a bug. It still runs: it is reported as an expected failure,
and if it ever passes the run fails (unexpected success), so that the list
never outlives its reason. Keep it short; anything else that fails with our
driver and passes with nova's is a bug of ours.
"""

import functools
import sys

from testtools import testcase

#: nova test id -> why it cannot pass with XloudLibvirtDriver.
EXPECTED_FAILURES = {
}


def _expect_failure(test_method, reason):
    @functools.wraps(test_method)
    def wrapper(*args, **kwargs):
        try:
            test_method(*args, **kwargs)
        except Exception:
            raise testcase._ExpectedFailure(sys.exc_info())
        raise testcase._UnexpectedSuccess(reason)
    return wrapper


def tests(suite):
    """Every test case of ``suite``, however nested."""
    for test in suite:
        if hasattr(test, '__iter__'):
            yield from tests(test)
        else:
            yield test


def mark(suite, expected=None):
    """Turn the listed tests of ``suite`` into expected failures."""
    expected = EXPECTED_FAILURES if expected is None else expected
    for test in tests(suite):
        reason = expected.get(test.id())
        if reason:
            method = getattr(test, test._testMethodName)
            setattr(test, test._testMethodName,
                    _expect_failure(method, reason))
