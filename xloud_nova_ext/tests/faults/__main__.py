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


"""Run the fault cases one by one and print one row per case.

    python -m xloud_nova_ext.tests.faults [REGEX]

The last line is ``N cases, N held, N failed``; the exit status is 1 when
a case failed (or none ran), else 0.
"""

import os
import re
import signal
import sys
import time
import unittest

from xloud_nova_ext.tests.faults import case as case_mod

HERE = os.path.dirname(os.path.abspath(__file__))
TOP = os.path.dirname(os.path.dirname(os.path.dirname(HERE)))


def cases(pattern=None):
    """Every fault case of this package whose id matches ``pattern``."""
    suite = unittest.TestLoader().discover(HERE, top_level_dir=TOP)
    found = []

    def walk(test):
        if isinstance(test, unittest.TestSuite):
            for t in test:
                walk(t)
        elif pattern is None or re.search(pattern, test.id()):
            found.append(test)
    walk(suite)
    return found


def run_one(test):
    """(held, row, problem): run ``test`` and read its row."""
    result = unittest.TestResult()
    test.run(result)
    problems = result.errors + result.failures
    if not problems and not result.testsRun:
        problems = [(test, 'did not run')]
    for _test, reason in result.skipped:
        problems.append((test, 'skipped: %s' % reason))
    row = case_mod.ROWS.get(test.id())
    if row is None:
        row = case_mod.Row(test.id(), '-', '-', {'-': 'no row recorded'})
    problem = problems[0][1].strip().splitlines()[-1] if problems else ''
    return not problems, row, problem


def _terminate(signum, frame):
    # Stopped like Ctrl-C: what the cases started is stopped too.
    raise KeyboardInterrupt


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    signal.signal(signal.SIGTERM, _terminate)
    # Cases that share something costly (the real cloud) run last, so
    # that it is stopped as soon as they are done.
    selected = sorted(cases(argv[0] if argv else None),
                      key=lambda t: getattr(t, 'RUN_LAST', False))
    try:
        return _run(selected)
    finally:
        case_mod.run_at_end()


def _run(selected):
    held = failed = 0
    print('%-4s | %-48s | %-24s | %-22s | %s'
          % ('', 'fault', 'server ended', 'record', 'leftovers'))
    for test in selected:
        start = time.monotonic()
        ok, row, problem = run_one(test)
        held, failed = held + ok, failed + (not ok)
        leftovers = '; '.join('%s: %s' % item
                              for item in sorted(row.leftovers.items()))
        print('%-4s | %-48s | %-24s | %-22s | %s  (%.0f s)'
              % ('held' if ok else 'FAIL', row.fault, row.ended, row.status,
                 leftovers, time.monotonic() - start))
        if problem:
            print('     %s: %s' % (test.id(), problem))
        sys.stdout.flush()
    print('%d cases, %d held, %d failed' % (len(selected), held, failed))
    return 0 if selected and not failed else 1


if __name__ == '__main__':
    sys.exit(main())
