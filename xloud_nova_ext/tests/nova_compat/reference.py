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

"""Our driver's results beside stock nova's, test by test.

Running nova's selection twice would double the tier's time, so stock
nova's outcomes are measured on demand (``tox -e nova-compat -- --stock
--record``) and kept in ``stock_reference.json``: its counts and the tests
that do not pass with nova's own LibvirtDriver. Each run with our driver
prints both counts side by side and fails if our driver fails a test that
stock nova passes, unless :mod:`.by_design` lists it.

Outcomes are read from stestr's public output (``stestr last --subunit``)
with python-subunit.
"""

import datetime
import importlib.metadata
import io
import json
import os
import subprocess

import subunit
import testtools

from xloud_nova_ext.tests.nova_compat import by_design

PATH = os.path.join(os.path.dirname(os.path.abspath(__file__)),
                    'stock_reference.json')
#: nova's tests: the runner's own checks are not compared.
NOVA_TESTS = 'nova.tests.functional.libvirt.'
PASSED = ('success', 'xfail')
COLUMNS = ('success', 'fail', 'skip', 'xfail', 'uxsuccess')
HEADINGS = ('passed', 'failed', 'skipped', 'expected failures',
            'unexpected successes')


def outcomes(repo_url):
    """{test id: status} of the last run in a stestr repository."""
    stream = subprocess.run(
        ['stestr', '--repo-url', repo_url, 'last', '--subunit'],
        check=True, capture_output=True).stdout
    return parse(stream)


def parse(stream):
    """{test id: status} of nova's tests in a subunit v2 stream."""
    found = {}

    def done(test):
        if test['id'].startswith(NOVA_TESTS) and test['status'] != 'exists':
            found[test['id']] = test['status']

    result = testtools.StreamToDict(done)
    result.startTestRun()
    try:
        subunit.ByteStreamToStreamResult(
            io.BytesIO(stream), non_subunit_name='stdout').run(result)
    finally:
        result.stopTestRun()
    return found


def counts(found):
    return {status: sum(1 for s in found.values() if s == status)
            for status in COLUMNS}


def load(path=PATH):
    try:
        with open(path) as f:
            return json.load(f)
    except FileNotFoundError:
        return {}


def record(name, found, path=PATH):
    """Keep a stock run's outcomes as the reference of selection ``name``."""
    references = load(path)
    references[name] = {
        'nova': importlib.metadata.version('nova'),
        'measured': datetime.date.today().isoformat(),
        'counts': counts(found),
        'not_passing': {test_id: status for test_id, status in
                        sorted(found.items()) if status not in PASSED},
    }
    with open(path, 'w') as f:
        json.dump(references, f, indent=1, sort_keys=True)
        f.write('\n')


def table(rows):
    """Aligned lines: a heading, then (label, counts) rows."""
    lines = [[''] + list(HEADINGS)]
    lines += [[label] + [str(c[s]) for s in COLUMNS] for label, c in rows]
    widths = [max(len(line[i]) for line in lines)
              for i in range(len(lines[0]))]
    return ['  '.join([line[0].ljust(widths[0])] +
                      [v.rjust(w) for v, w in zip(line[1:], widths[1:])])
            for line in lines]


def compare(name, found, out, path=PATH, expected=None):
    """Print ours beside stock's; 0 unless ours fails what stock passes.

    ``expected``: the by-design list (test id -> reason).
    """
    expected = by_design.EXPECTED_FAILURES if expected is None else expected
    reference = load(path).get(name)
    if reference is None:
        out.write('No recorded stock figures for "%s" (tox -e nova-compat '
                  '-- --stock --record): comparison skipped.\n' % name)
        return 0
    stock_label = 'stock LibvirtDriver (nova %s, measured %s)' % (
        reference['nova'], reference['measured'])
    for line in table([(stock_label, reference['counts']),
                       ('XloudLibvirtDriver (this run)', counts(found))]):
        out.write(line + '\n')
    stock_failed = reference['not_passing']
    worse = sorted(test_id for test_id, status in found.items()
                   if status == 'uxsuccess' or (
                       status not in PASSED and
                       test_id not in stock_failed and
                       test_id not in expected))
    ran, stock_ran = len(found), sum(reference['counts'].values())
    if ran < stock_ran:
        out.write('FAILED: %d of nova\'s tests ran, %d in the stock run.\n'
                  % (ran, stock_ran))
        return 1
    if ran > stock_ran:
        out.write('Note: %d of nova\'s tests ran, %d in the stock run: '
                  'record the stock figures again.\n' % (ran, stock_ran))
    if worse:
        out.write('FAILED: our driver does not pass %d test(s) that stock '
                  'nova passes:\n' % len(worse))
        out.writelines('  %s (%s)\n' % (t, found[t]) for t in worse)
        return 1
    out.write('Our driver passes every test that stock nova passes%s.\n' % (
        ' (by design: %d, see by_design.py)' % len(expected)
        if expected else ''))
    return 0
