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


"""Print what every tier of a CI run did, then one closing line.

Reads the tier list written by tools/run-tests.sh (``name exit-code
seconds``). A tier with a stestr repository (``.stestr-<name>``), or a
subunit v2 stream beside the list (``<name>.subunit``, the main job's
Tempest run), is counted test by test; any other tier counts as one check.
The last line reads ``N passed, N failed, N skipped``.
"""

import os
import sys

import subunit
import testtools

REPO_DIR = '.stestr-%s'


def _last_run(tier):
    repo = os.path.join(REPO_DIR % tier, '.stestr')
    try:
        with open(os.path.join(repo, 'next-stream')) as f:
            last = int(f.read()) - 1
    except (OSError, ValueError):
        return None
    path = os.path.join(repo, str(last))
    return path if os.path.exists(path) else None


class _Outcomes(testtools.TestResult):
    """The last outcome of every test id in a (subunit v1) stream."""

    def __init__(self):
        super().__init__()
        self.outcomes = {}

    def _set(self, test, outcome):
        self.outcomes[test.id()] = outcome

    def addSuccess(self, test, details=None):
        self._set(test, 'passed')

    def addExpectedFailure(self, test, err=None, details=None):
        self._set(test, 'passed')

    def addSkip(self, test, reason=None, details=None):
        self._set(test, 'skipped')

    def addFailure(self, test, err=None, details=None):
        self._set(test, 'failed')

    addError = addFailure
    addUnexpectedSuccess = addFailure


def count_tests(stream_path, version=1):
    """Return {passed, failed, skipped} counts of one subunit stream.

    stestr keeps each run as a subunit v1 stream; ``tempest run --subunit``
    writes v2.
    """
    result = _Outcomes()
    with open(stream_path, 'rb') as f:
        if version == 1:
            subunit.ProtocolTestCase(f).run(result)
        else:
            stream = testtools.StreamToExtendedDecorator(result)
            stream.startTestRun()
            subunit.ByteStreamToStreamResult(f).run(stream)
            stream.stopTestRun()
    counts = {'passed': 0, 'failed': 0, 'skipped': 0}
    for test_id, outcome in result.outcomes.items():
        # A class fixture that worked is not a test of its own.
        if outcome == 'passed' and test_id.endswith(
                ('setUpClass', 'tearDownClass')):
            continue
        counts[outcome] += 1
    return counts


def main(tiers_file):
    total = {'passed': 0, 'failed': 0, 'skipped': 0}
    print('%-16s %6s %6s %6s %6s %5s'
          % ('tier', 'exit', 'passed', 'failed', 'skip', 'secs'))
    with open(tiers_file) as f:
        rows = [line.split() for line in f if line.strip()]
    for name, rc, secs in rows:
        rc = int(rc)
        stream, version = _last_run(name), 1
        v2_stream = os.path.join(os.path.dirname(tiers_file),
                                 name + '.subunit')
        if os.path.exists(v2_stream):
            stream, version = v2_stream, 2
        if stream:
            counts = count_tests(stream, version)
            # A tier that failed without a failing test (an import error,
            # a crash) still counts as a failure.
            if rc and not counts['failed']:
                counts['failed'] += 1
        else:
            counts = {'passed': int(rc == 0), 'failed': int(rc != 0),
                      'skipped': 0}
        for key in total:
            total[key] += counts[key]
        print('%-16s %6d %6d %6d %6d %5s' % (
            name, rc, counts['passed'], counts['failed'], counts['skipped'],
            secs))
    print('%d passed, %d failed, %d skipped'
          % (total['passed'], total['failed'], total['skipped']))
    return 1 if total['failed'] else 0


if __name__ == '__main__':
    sys.exit(main(sys.argv[1]))
