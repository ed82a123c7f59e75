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


"""Run Tempest with a live progress line per test; report what happened.

The subunit v2 stream of ``tempest run --subunit`` is saved (for
``subunit2html`` and for later reading) and parsed as it arrives. Each
migration scenario attaches its verification report (JSON details named
``xloud-migration-<id>``); the table printed at the end shows, per
scenario, where the server went, the final migration status, how long it
took and the refusal code where a safeguard refused.
"""

import dataclasses
import json
import os
import re
import shutil
import subprocess
import sys

from xloud_harness import results


@dataclasses.dataclass
class TestOutcome(results.TestOutcome):
    reports: list = dataclasses.field(default_factory=list)
    reason: str = ''

    @property
    def name(self):
        short = self.test_id.split('[')[0]
        return short.replace('xloud_tempest_plugin.api.compute.', '')


class _Collector(results.Collector):
    """Keeps per-test outcomes and reports; prints each finished test."""

    outcome_class = TestOutcome

    def __init__(self, out):
        super().__init__()
        self.out = out

    def finished(self, test):
        print('%-4s %7.1fs %s' % (test.status, test.seconds, test.name),
              file=self.out, flush=True)

    def attached(self, test, file_name, data):
        text = data.decode('utf-8', 'replace')
        if file_name.startswith('xloud-migration-'):
            try:
                test.reports.append(json.loads(text))
            except ValueError:
                pass
        elif file_name in ('reason', 'traceback') and not test.reason:
            test.reason = _headline(text)


_EXCEPTION_LINE = re.compile(r'^[\w.]*(Error|Exception|Failed|Failure|'
                             r'Timeout)\w*: ')


def _headline(text):
    """The line that says what went wrong: the exception's own message.

    A traceback ends with its exception line, but a failed verification
    appends evidence (migration records, events) after its message.
    """
    lines = [ln for ln in text.strip().splitlines() if ln.strip()]
    for line in reversed(lines):
        if _EXCEPTION_LINE.match(line):
            return line
    return lines[-1] if lines else ''


def run_tempest(argv, cwd, env, stream_path, out=sys.stderr):
    """Run ``argv`` (a ``tempest run --subunit`` command); parse its stream.

    Returns (exit code, outcomes in the order the tests started).
    """
    collector = _Collector(out)
    with open(stream_path, 'wb') as saved:
        proc = subprocess.Popen(argv, cwd=cwd, env=env,
                                stdout=subprocess.PIPE)
        results.read(_Tee(proc.stdout, saved), collector,
                     non_subunit_name='stdout')
        rc = proc.wait()
    rows = _scenarios(collector.tests.values())
    # tempest run --subunit exits 0 whatever the tests did: the stream says.
    if any(row.status == 'FAIL' for row in rows):
        rc = rc or 1
    return rc, rows


def _scenarios(outcomes):
    """The rows of the report: tests, and class fixtures that skipped/failed.

    The tests of a class whose setUpClass skipped never start; the class's
    own row says why. A test that started but never finished failed.
    """
    skipped_classes = {t.test_id for t in outcomes
                       if t.test_id.startswith('setUpClass') and
                       t.status == 'skip'}
    rows = []
    for t in outcomes:
        if t.test_id.startswith(('setUpClass', 'tearDownClass')):
            if t.status != 'pass':
                rows.append(t)
            continue
        if t.status == 'running':
            cls = t.test_id.split('[')[0].rsplit('.', 1)[0]
            if 'setUpClass (%s)' % cls in skipped_classes:
                continue
            t.status, t.reason = 'FAIL', 'started but never finished'
        rows.append(t)
    return rows


class _Tee:
    """A readable stream that copies what it reads into ``copy``."""

    def __init__(self, source, copy):
        self.source = source
        self.copy = copy

    def read(self, n=-1):
        data = self.source.read(n)
        self.copy.write(data)
        return data

    def readline(self, *args):
        data = self.source.readline(*args)
        self.copy.write(data)
        return data


def table(tests):
    """The per-scenario verification table."""
    lines = []
    head = '%-4s %7s  %-62s %s' % ('', 'seconds', 'scenario', 'verified')
    lines += [head, '-' * 110]
    for t in tests:
        lines.append('%-4s %7.1f  %-62s' % (t.status, t.seconds, t.name))
        for r in t.reports:
            mig = r.get('migration') or {}
            refusal = r.get('refusal')
            # A refused move went nowhere: show where it was asked to go.
            dest = (r.get('requested_host') if refusal else
                    mig.get('dest_compute')) or r.get('host')
            what = '%s %s: %s -> %s, record %s %s' % (
                r.get('type', '?'), mig.get('id', '?'),
                r.get('source_host'), dest, mig.get('status'),
                'in %.2f s' % r['seconds'] if r.get('seconds') else '')
            if refusal:
                what += ', refused with %s' % refusal.get('code')
            lines.append('%14s%s' % ('', what))
        if t.status in ('FAIL', 'skip') and t.reason:
            lines.append('%14s%s' % ('', t.reason[:200]))
    counts = {s: sum(t.status == s for t in tests)
              for s in ('pass', 'FAIL', 'skip')}
    lines.append('%d passed, %d failed, %d skipped' % (
        counts['pass'], counts['FAIL'], counts['skip']))
    return '\n'.join(lines)


def write_html(stream_path, html_path):
    """subunit2html (os-testr) renders the saved stream, durations included.

    Returns the path, or None when subunit2html is not installed.
    """
    tool = os.path.join(os.path.dirname(sys.executable), 'subunit2html')
    if not os.path.exists(tool):
        tool = shutil.which('subunit2html')
    if not tool:
        return None
    subprocess.run([tool, stream_path, html_path], check=True,
                   capture_output=True)
    return html_path
