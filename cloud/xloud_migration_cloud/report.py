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

The subunit v2 stream of ``tempest run --subunit`` is saved (for later
reading) and parsed as it arrives. Each migration scenario attaches its
verification report (JSON details named ``xloud-migration-<id>``): the
move (kind, source, destination, seconds, guest pause) and each check the
verifier made (name, ok, evidence). The table printed at the end shows, per
scenario, where the server went, the final migration status, how long it
took and the refusal code where a safeguard refused;
``xloud-migration-report.json`` and the HTML page show every scenario with
its checks and figures.
"""

import dataclasses
import html
import json
import os
import re
import subprocess
import sys

from xloud_harness import process
from xloud_harness import results


@dataclasses.dataclass
class TestOutcome(results.TestOutcome):
    reports: list = dataclasses.field(default_factory=list)
    reason: str = ''
    # Which run of the scenarios, when there are several (another
    # tempest.conf: e.g. other hosts).
    label: str = ''

    @property
    def name(self):
        short = self.test_id.split('[')[0]
        short = short.replace('xloud_tempest_plugin.api.compute.', '')
        return '%s (%s)' % (short, self.label) if self.label else short


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


def run_tempest(argv, cwd, env, stream_path, out=sys.stderr, label=''):
    """Run ``argv`` (a ``tempest run --subunit`` command); parse its stream.

    Returns (exit code, outcomes in the order the tests started), each
    outcome labelled ``label``.
    """
    collector = _Collector(out)
    collector.label = label
    with open(stream_path, 'wb') as saved:
        # A session of its own: an interrupted run stops tempest's workers
        # too.
        proc = subprocess.Popen(argv, cwd=cwd, env=env,
                                stdout=subprocess.PIPE,
                                start_new_session=True)
        try:
            results.read(_Tee(proc.stdout, saved), collector,
                         non_subunit_name='stdout')
            rc = proc.wait()
        finally:
            process.stop_session(proc)
            proc.stdout.close()
    rows = _scenarios(collector.tests.values())
    for row in rows:
        row.label = label
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


# The machine-readable report and the HTML page, from the same data. Generic:
# whatever cloud ran the scenarios says its hypervisor and computes; the
# scenarios come from the verifier's reports (subunit attachments
# ``xloud-migration-*``). A figure the cloud or the verifier did not give is
# None (null), never guessed.

def _first(reports, *keys):
    for r in reports:
        for key in keys:
            if r.get(key) is not None:
                return r[key]
    return None


def _destination(reports):
    for r in reports:
        if r.get('destination'):
            return r['destination']
        mig = r.get('migration') or {}
        # A refused move went nowhere: where it was asked to go.
        dest = (r.get('requested_host') if r.get('refusal') else
                mig.get('dest_compute')) or r.get('host')
        if dest:
            return dest
    return None


def scenario(test, figures=None):
    """One scenario of the JSON report, from a test's outcome.

    ``figures(report)`` may add what only the cloud knows about one move
    (``qemu_downtime_ms`` from the source compute's log on a real
    hypervisor, ``checks`` it made on its hosts); it returns a dict or
    None. A failed check of the cloud fails the scenario.
    """
    reports = test.reports
    extra, cloud_checks = {}, []
    for r in reports:
        found = dict((figures(r) or {}) if figures else {})
        cloud_checks += found.pop('checks', None) or []
        extra.update({k: v for k, v in found.items() if v is not None})
    checks = [{'name': c.get('name'), 'ok': c.get('ok'),
               'evidence': c.get('evidence')}
              for c in [c for r in reports for c in r.get('checks') or ()] +
              cloud_checks]
    status, reason = test.status, test.reason
    failed = [c for c in cloud_checks if c.get('ok') is False]
    if failed and status == 'pass':
        status = 'FAIL'
        reason = '%s: %s' % (failed[0].get('name'), failed[0].get('evidence'))
    if status == 'FAIL' and not any(c['ok'] is False for c in checks):
        # The scenario failed outside the verifier's checks (setup, a
        # timeout): that is a failed check of its own, with its reason.
        checks.append({'name': 'scenario', 'ok': False,
                       'evidence': test.reason or 'failed'})
    seconds = _first(reports, 'seconds')
    return {
        'name': test.name,
        'status': status,
        'kind': _first(reports, 'kind', 'type'),
        'source': _first(reports, 'source', 'source_host'),
        'destination': _destination(reports),
        'seconds': round(seconds if seconds is not None else test.seconds,
                         3),
        'qemu_downtime_ms': extra.get('qemu_downtime_ms',
                                      _first(reports, 'qemu_downtime_ms')),
        'guest_pause_ms': _first(reports, 'guest_pause_ms'),
        'checks': checks,
        'reason': reason or None,
    }


def report_data(hypervisor, computes, tests, figures=None):
    """The whole report: ``{"hypervisor", "computes", "scenarios"}``."""
    return {'hypervisor': hypervisor,
            'computes': [{'host': c['host'], 'driver': c['driver'],
                          'pid': c.get('pid')} for c in computes],
            'scenarios': [scenario(t, figures) for t in tests]}


def write_json(data, path):
    tmp = path + '.tmp'
    with open(tmp, 'w') as f:
        json.dump(data, f, indent=2, sort_keys=True)
        f.write('\n')
    os.rename(tmp, path)
    return path


_CHECK_WORD = {True: 'passed', False: 'failed', None: 'not verified'}
_CSS = '''
body { font-family: sans-serif; margin: 2em; }
table { border-collapse: collapse; margin-bottom: 1.5em; }
th, td { border: 1px solid #bbb; padding: .3em .6em; text-align: left;
         vertical-align: top; }
.pass, .passed { color: #176117; } .FAIL, .failed { color: #a31515; }
.skip, .not-verified { color: #7a5c00; }
td.checks { font-size: 90%; }
'''


def _cell(value, unit=''):
    if value is None:
        return '<td>&mdash;</td>'
    if isinstance(value, float):
        value = '%.1f' % value
    return '<td>%s%s</td>' % (html.escape(str(value)), unit)


def render_html(data):
    """The per-scenario report page."""
    esc = html.escape
    counts = {s: sum(sc['status'] == s for sc in data['scenarios'])
              for s in ('pass', 'FAIL', 'skip')}
    out = ['<!DOCTYPE html>', '<html><head><meta charset="utf-8">',
           '<title>Xloud migration report</title>',
           '<style>%s</style></head><body>' % _CSS,
           '<h1>Xloud migration report</h1>',
           '<p>Hypervisor: <b>%s</b>. %d passed, %d failed, %d skipped.</p>'
           % (esc(str(data['hypervisor'])), counts['pass'], counts['FAIL'],
              counts['skip']),
           '<h2>Computes</h2>',
           '<table><tr><th>host</th><th>driver</th><th>pid</th></tr>']
    for c in data['computes']:
        out.append('<tr>%s%s%s</tr>' % (
            _cell(c['host']), _cell(c['driver']), _cell(c['pid'])))
    out += ['</table>', '<h2>Scenarios</h2>',
            '<table><tr><th>scenario</th><th>source</th><th>destination</th>'
            '<th>kind</th><th>status</th><th>seconds</th>'
            '<th>QEMU downtime</th><th>guest pause</th><th>checks</th></tr>']
    for sc in data['scenarios']:
        checks = ''.join(
            '<li class="%s">%s: %s &mdash; %s</li>' % (
                _CHECK_WORD[c['ok']].replace(' ', '-'), esc(str(c['name'])),
                _CHECK_WORD[c['ok']], esc(str(c['evidence'] or '')))
            for c in sc['checks'])
        if not checks:
            checks = esc(sc['reason'] or 'no check reported')
        else:
            checks = '<ul>%s</ul>' % checks
        out.append(
            '<tr><td>%s</td>%s%s%s<td class="%s">%s</td>%s%s%s'
            '<td class="checks">%s</td></tr>' % (
                esc(sc['name']), _cell(sc['source']),
                _cell(sc['destination']), _cell(sc['kind']),
                esc(sc['status']), esc(sc['status']), _cell(sc['seconds']),
                _cell(sc['qemu_downtime_ms'], ' ms'),
                _cell(sc['guest_pause_ms'], ' ms'), checks))
    out += ['</table>', '</body></html>', '']
    return '\n'.join(out)


def write_html(data, path):
    with open(path, 'w') as f:
        f.write(render_html(data))
    return path
