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
--record``) and kept in ``stock_reference.json``: per selection, the nova
version measured and every nova test's outcome with nova's own
LibvirtDriver. Each run with our driver prints both counts side by side and
fails, naming the cause, when:

* the runner's own checks (this package's tests) did not pass;
* there is no reference, or it was measured with another nova version;
* a test ran that the reference does not know, or a test of the reference
  did not run (the selection or nova changed: record again);
* our driver fails a test that stock nova passes, unless :mod:`.by_design`
  lists it.

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
#: nova's tests, compared with the reference.
NOVA_TESTS = 'nova.tests.functional.libvirt.'
#: The runner's own checks: they must pass, with either driver.
RUNNER_CHECKS = __name__.rpartition('.')[0] + '.'
PASSED = ('success', 'xfail')
COLUMNS = ('success', 'fail', 'skip', 'xfail', 'uxsuccess')
HEADINGS = ('passed', 'failed', 'skipped', 'expected failures',
            'unexpected successes')
RECORD = 'tox -e nova-compat -- --stock --record'
#: At most this many test ids are printed per problem.
LISTED = 20


def outcomes(repo_url):
    """{test id: status} of the last run in a stestr repository."""
    stream = subprocess.run(
        ['stestr', '--repo-url', repo_url, 'last', '--subunit'],
        check=True, capture_output=True).stdout
    return parse(stream)


def parse(stream):
    """{test id: status} of every test in a subunit v2 stream."""
    found = {}

    def done(test):
        if test['id'] and test['status'] != 'exists':
            found[test['id']] = test['status']

    result = testtools.StreamToDict(done)
    result.startTestRun()
    try:
        subunit.ByteStreamToStreamResult(
            io.BytesIO(stream), non_subunit_name='stdout').run(result)
    finally:
        result.stopTestRun()
    return found


def nova_tests(found):
    return {t: s for t, s in found.items() if t.startswith(NOVA_TESTS)}


def counts(found):
    return {status: sum(1 for s in found.values() if s == status)
            for status in COLUMNS}


def nova_version():
    return importlib.metadata.version('nova')


def load(path=None):
    try:
        with open(path or PATH) as f:
            return json.load(f)
    except FileNotFoundError:
        return {}


def runner_problems(found):
    """Lines naming what is wrong with the run itself, if anything."""
    failed = sorted(t for t, s in found.items()
                    if t.startswith(RUNNER_CHECKS) and s not in PASSED)
    problems = []
    if failed:
        problems.append('the runner\'s own checks did not pass: %s'
                        % ', '.join('%s (%s)' % (t, found[t]) for t in failed))
    if not nova_tests(found):
        problems.append('no test of %s ran (see the errors above)'
                        % NOVA_TESTS.rstrip('.'))
    return problems


def record(name, found, path=None):
    """Keep a stock run's outcomes as the reference of selection ``name``."""
    path = path or PATH
    references = load(path)
    references[name] = {
        'nova': nova_version(),
        'measured': datetime.date.today().isoformat(),
        'outcomes': dict(sorted(nova_tests(found).items())),
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


def _rank(status):
    """Passed, skipped, failed: a higher rank than stock's is worse."""
    return 0 if status in PASSED else 1 if status == 'skip' else 2


def _listed(test_ids, found=None):
    lines = ['  %s%s\n' % (t, ' (%s)' % found[t] if found else '')
             for t in test_ids[:LISTED]]
    if len(test_ids) > LISTED:
        lines.append('  ... and %d more\n' % (len(test_ids) - LISTED))
    return lines


def compare(name, found, out, path=None, expected=None):
    """Print ours beside stock's; 0 when ours passes what stock passes.

    ``found``: every test's outcome, the runner's checks included;
    ``expected``: the by-design list (test id -> reason). Every problem is
    printed on a line that starts with FAILED, with what to do.
    """
    expected = by_design.EXPECTED_FAILURES if expected is None else expected
    path = path or PATH
    problems = runner_problems(found)
    ours = nova_tests(found)
    reference = load(path).get(name)
    if reference is None:
        problems.append('no stock reference for "%s" in %s: record it (%s%s)'
                        % (name, path, RECORD,
                           ' all' if name == 'all' else ''))
    elif reference['nova'] != nova_version():
        problems.append(
            'the stock reference for "%s" was measured with nova %s, nova '
            '%s is installed: record it again (%s%s)' % (
                name, reference['nova'], nova_version(), RECORD,
                ' all' if name == 'all' else ''))
    rows = [('XloudLibvirtDriver (this run)', counts(ours))]
    if problems:
        out.writelines(line + '\n' for line in table(rows))
        out.writelines('FAILED: %s.\n' % p for p in problems)
        return 1

    stock = reference['outcomes']
    stock_label = 'stock LibvirtDriver (nova %s, measured %s)' % (
        reference['nova'], reference['measured'])
    out.writelines(line + '\n' for line in table(
        [(stock_label, counts(stock))] + rows))
    rc = 0
    unknown = sorted(set(ours) - set(stock))
    if unknown:
        out.write('FAILED: %d test(s) ran that the stock reference does not '
                  'know (the selection or nova changed): record it again '
                  '(%s):\n' % (len(unknown), RECORD))
        out.writelines(_listed(unknown))
        rc = 1
    missing = sorted(set(stock) - set(ours))
    if missing:
        out.write('FAILED: %d test(s) of the stock reference did not run:\n'
                  % len(missing))
        out.writelines(_listed(missing))
        rc = 1
    worse = sorted(t for t, status in ours.items()
                   if t in stock and (status == 'uxsuccess' or (
                       t not in expected and
                       _rank(status) > _rank(stock[t]))))
    if worse:
        out.write('FAILED: our driver does not pass %d test(s) that stock '
                  'nova passes:\n' % len(worse))
        out.writelines(_listed(worse, ours))
        rc = 1
    if not rc:
        out.write('Our driver passes every test that stock nova passes%s.\n'
                  % (' (by design: %d, see by_design.py)' % len(expected)
                     if expected else ''))
    return rc
