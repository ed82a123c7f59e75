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
seconds``). A tier with a subunit v2 stream beside the list
(``<name>.subunit``: what ``stestr last --subunit`` printed after the tier,
or the main job's Tempest run) is counted test by test; any other tier
counts as one check. The last line reads ``N passed, N failed, N skipped``.
"""

import os
import re
import sys

# The harness's subunit reader needs only python-subunit and testtools,
# which the tools virtualenv has: use it from the tree.
sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))), 'harness'))
from xloud_harness import results  # noqa: E402


#: The line naming what a test raised ("...MismatchError: !=:"); the
#: traceback's last line may be the assertion message's last line instead.
EXCEPTION_LINE = re.compile(
    r'^[A-Za-z_][\w.]*(Error|Exception|Failure|Timeout|Exit)\b.*:')


def read_tests(stream_path):
    """({passed, failed, skipped}, [(status, test id, last line)]).

    The list names every test that did not pass, with the last line of its
    traceback or skip reason, so that the tail of a CI log says which.
    """
    with open(stream_path, 'rb') as f:
        outcomes = results.read(f).outcomes()
    bad = []
    for verdict, t in results.verdicts(outcomes):
        if verdict == 'passed':
            continue
        status = 'skip' if verdict == 'skipped' else 'FAIL'
        text = b''.join(data for _, data in t.attachments)
        lines = [ln.strip() for ln in text.decode('utf-8', 'replace')
                 .splitlines() if ln.strip()]
        raised = [ln for ln in lines if EXCEPTION_LINE.match(ln)]
        last = (raised or lines or [''])[-1]
        bad.append((status, t.test_id, last[:300]))
    return results.counts(outcomes), bad


def main(tiers_file):
    total = {'passed': 0, 'failed': 0, 'skipped': 0}
    not_passed = []
    print('%-16s %6s %6s %6s %6s %5s'
          % ('tier', 'exit', 'passed', 'failed', 'skip', 'secs'))
    with open(tiers_file) as f:
        rows = [line.split() for line in f if line.strip()]
    for name, rc, secs in rows:
        rc = int(rc)
        stream = os.path.join(os.path.dirname(tiers_file), name + '.subunit')
        if os.path.exists(stream) and os.path.getsize(stream):
            counts, bad = read_tests(stream)
            not_passed += [(name,) + b for b in bad]
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
    for tier, status, test_id, last in not_passed:
        print('%s %s %s: %s' % (status, tier, test_id, last))
    print('%d passed, %d failed, %d skipped'
          % (total['passed'], total['failed'], total['skipped']))
    return 1 if total['failed'] else 0


if __name__ == '__main__':
    sys.exit(main(sys.argv[1]))
