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


import datetime
import io
import json
import os
import sys

import fixtures
from subunit import v2

from xloud_harness import results
from xloud_harness import testing

from xloud_migration_cloud import report

T0 = datetime.datetime(2026, 11, 27, 9, 0, 0,
                       tzinfo=datetime.timezone.utc)
LIVE = ('xloud_tempest_plugin.api.compute.test_live_migration.'
        'LiveMigrationTest.test_live_migration_to_requested_host'
        '[id-0c007fe7,multinode]')


def stream(events):
    out = io.BytesIO()
    writer = v2.StreamResultToBytes(out)
    for event in events:
        writer.status(**event)
    out.seek(0)
    return out


def test_events(test_id, status, seconds, attachments=()):
    events = [{'test_id': test_id, 'test_status': 'inprogress',
               'timestamp': T0}]
    for name, data in attachments:
        events.append({'test_id': test_id, 'file_name': name,
                       'file_bytes': data, 'eof': True,
                       'mime_type': 'application/json'})
    events.append({'test_id': test_id, 'test_status': status,
                   'timestamp': T0 + datetime.timedelta(seconds=seconds)})
    return events


def parse(events):
    collector = results.read(stream(events), report._Collector(io.StringIO()))
    return report._scenarios(collector.outcomes())


class ReportTest(testing.TestCase):

    def test_scenario_row_shows_the_verification_report(self):
        verified = {'type': 'live-migration', 'source_host': 'cmp1',
                    'host': 'cmp2', 'seconds': 1.5,
                    'migration': {'id': 7, 'status': 'completed',
                                  'dest_compute': 'cmp2'}}
        [row] = parse(test_events(LIVE, 'success', 4.25, [
            ('xloud-migration-7', json.dumps(verified).encode())]))
        self.assertEqual('pass', row.status)
        self.assertEqual(4.25, row.seconds)
        text = report.table([row])
        self.assertIn('test_live_migration.LiveMigrationTest.'
                      'test_live_migration_to_requested_host', text)
        self.assertIn('live-migration 7: cmp1 -> cmp2, record completed '
                      'in 1.50 s', text)
        self.assertTrue(text.endswith('1 passed, 0 failed, 0 skipped'))

    def test_refusal_shows_the_requested_host_and_code(self):
        refused = {'type': 'live-migration', 'source_host': 'cmp1',
                   'requested_host': 'cmp3', 'host': 'cmp1',
                   'refusal': {'code': 'xloud.disk.insufficient'},
                   'migration': {'id': 9, 'status': 'error',
                                 'dest_compute': None}}
        rows = parse(test_events('x.DiskFullTest.test_refused', 'success', 2,
                                 [('xloud-migration-9',
                                   json.dumps(refused).encode())]))
        self.assertIn('cmp1 -> cmp3, record error', report.table(rows))
        self.assertIn('refused with xloud.disk.insufficient',
                      report.table(rows))

    def test_failure_shows_its_last_traceback_line(self):
        rows = parse(test_events(LIVE, 'fail', 1, [
            ('traceback', b'Traceback...\nVerificationFailed: Server s1 is '
                          b'on host cmp1, expected cmp2.\n')]))
        text = report.table(rows)
        self.assertIn('FAIL', text)
        self.assertIn('Server s1 is on host cmp1, expected cmp2.', text)
        self.assertTrue(text.endswith('0 passed, 1 failed, 0 skipped'))

    def test_failure_headline_is_the_message_not_the_evidence(self):
        rows = parse(test_events(LIVE, 'fail', 1, [
            ('traceback', b'Traceback (most recent call last):\n  File x\n'
                          b'xloud_tempest_plugin.common.exceptions.'
                          b'VerificationFailed: Migration 3 of server s1 is '
                          b'completed, expected error.\n'
                          b'Migrations of s1:\n  3 live-migration cmp1 -> '
                          b'cmp4 completed\n')]))
        self.assertIn('VerificationFailed: Migration 3 of server s1 is '
                      'completed, expected error.', report.table(rows))

    def test_tests_of_a_skipped_class_collapse_into_its_row(self):
        cls = 'x.api.compute.test_neg.CPUTest'
        events = test_events('setUpClass (%s)' % cls, 'skip', 0, [
            ('reason', b'cpu_incompatible_dest_host is not set.')])
        events.append({'test_id': cls + '.test_refused[id-1]',
                       'test_status': 'inprogress', 'timestamp': T0})
        rows = parse(events)
        self.assertEqual(['setUpClass (%s)' % cls], [r.test_id for r in rows])
        self.assertIn('cpu_incompatible_dest_host is not set.',
                      report.table(rows))

    def test_a_test_that_never_finished_failed(self):
        rows = parse([{'test_id': LIVE, 'test_status': 'inprogress',
                       'timestamp': T0}])
        self.assertEqual('FAIL', rows[0].status)
        self.assertIn('never finished', report.table(rows))

    def _run(self, events, exit_code=0):
        work = self.useFixture(fixtures.TempDir()).path
        stream_file = os.path.join(work, 'in.subunit')
        with open(stream_file, 'wb') as f:
            f.write(stream(events).getvalue())
        # Like tempest run --subunit: the stream on stdout, exit code 0.
        argv = [sys.executable, '-c',
                'import shutil, sys; shutil.copyfileobj(open(sys.argv[1], '
                '"rb"), sys.stdout.buffer); sys.exit(int(sys.argv[2]))',
                stream_file, str(exit_code)]
        return report.run_tempest(argv, work, dict(os.environ),
                                  os.path.join(work, 'out.subunit'),
                                  out=io.StringIO())

    def test_a_failed_scenario_fails_the_run_although_tempest_exits_0(self):
        rc, rows = self._run(test_events(LIVE, 'fail', 1.0))
        self.assertEqual(['FAIL'], [r.status for r in rows])
        self.assertEqual(1, rc)

    def test_passed_scenarios_keep_tempests_exit_code(self):
        self.assertEqual(0, self._run(test_events(LIVE, 'success', 1.0))[0])
        self.assertEqual(3, self._run(test_events(LIVE, 'success', 1.0),
                                      exit_code=3)[0])


# What the plugin's verifier attaches (results.Verification.as_dict()).
VERIFIED = {
    'kind': 'live-migration', 'type': 'live-migration',
    'source': 'cmp1', 'source_host': 'cmp1', 'destination': 'cmp2',
    'host': 'cmp2', 'status': 'completed', 'seconds': 3.25,
    'guest_pause_ms': 140,
    'migration': {'id': 7, 'status': 'completed', 'dest_compute': 'cmp2'},
    'checks': [
        {'name': 'server-host', 'ok': True,
         'evidence': 'Server s1 is on host cmp2, expected cmp2.'},
        {'name': 'heartbeat', 'ok': None,
         'evidence': 'no heartbeat line: <CirrOS> cannot testify'}],
}


class JSONReportTest(testing.TestCase):

    def data(self, events, figures=None):
        computes = [{'host': 'cmp1', 'driver': 'xloud.XloudLibvirtDriver',
                     'pid': 42, 'ignored': 'x'}]
        return report.report_data('fake', computes, parse(events), figures)

    def test_scenario_carries_the_verifiers_move_figures_and_checks(self):
        data = self.data(test_events(LIVE, 'success', 9, [
            ('xloud-migration-7', json.dumps(VERIFIED).encode())]))
        self.assertEqual('fake', data['hypervisor'])
        self.assertEqual([{'host': 'cmp1', 'pid': 42,
                           'driver': 'xloud.XloudLibvirtDriver'}],
                         data['computes'])
        [sc] = data['scenarios']
        self.assertEqual(
            {'name': 'test_live_migration.LiveMigrationTest.'
                     'test_live_migration_to_requested_host',
             'status': 'pass', 'kind': 'live-migration', 'source': 'cmp1',
             'destination': 'cmp2', 'seconds': 3.25,
             'qemu_downtime_ms': None, 'guest_pause_ms': 140,
             'checks': VERIFIED['checks'], 'reason': None}, sc)

    def test_the_clouds_figures_fill_qemu_downtime(self):
        data = self.data(test_events(LIVE, 'success', 9, [
            ('xloud-migration-7', json.dumps(VERIFIED).encode())]),
            figures=lambda r: {'qemu_downtime_ms': 12}
            if r['migration']['id'] == 7 else None)
        self.assertEqual(12, data['scenarios'][0]['qemu_downtime_ms'])

    def test_a_failed_check_of_the_cloud_fails_the_scenario(self):
        refused = {'type': 'live-migration', 'source_host': 'cmp1',
                   'requested_host': 'cmp3', 'server': 's1',
                   'refusal': {'code': 'xloud.cpu.incompatible'},
                   'checks': [{'name': 'refusal-code', 'ok': True,
                               'evidence': 'carried'}]}
        events = test_events(LIVE, 'success', 2, [
            ('xloud-migration-9', json.dumps(refused).encode())])

        def looked(ok):
            return lambda r: {'checks': [{
                'name': 'nothing-left-on-destination', 'ok': ok,
                'evidence': 'cmp3 holds %s of %s' % (
                    'nothing' if ok else 'domain instance-1', r['server'])}]}

        [clean] = self.data(events, figures=looked(True))['scenarios']
        self.assertEqual('pass', clean['status'])
        self.assertEqual(['refusal-code', 'nothing-left-on-destination'],
                         [c['name'] for c in clean['checks']])
        [dirty] = self.data(events, figures=looked(False))['scenarios']
        self.assertEqual('FAIL', dirty['status'])
        self.assertEqual('nothing-left-on-destination: cmp3 holds domain '
                         'instance-1 of s1', dirty['reason'])
        self.assertEqual([True, False], [c['ok'] for c in dirty['checks']])

    def test_earlier_reports_still_give_source_and_destination(self):
        refused = {'type': 'live-migration', 'source_host': 'cmp1',
                   'requested_host': 'cmp3', 'host': 'cmp1',
                   'refusal': {'code': 'xloud.disk.insufficient'},
                   'migration': {'id': 9, 'status': 'error',
                                 'dest_compute': None}}
        [sc] = self.data(test_events(LIVE, 'success', 2, [
            ('xloud-migration-9', json.dumps(refused).encode())]))[
                'scenarios']
        self.assertEqual(('live-migration', 'cmp1', 'cmp3', 2.0),
                         (sc['kind'], sc['source'], sc['destination'],
                          sc['seconds']))
        self.assertIsNone(sc['guest_pause_ms'])

    def test_a_failure_outside_the_checks_is_a_failed_check(self):
        [sc] = self.data(test_events(LIVE, 'fail', 1, [
            ('traceback', b'Traceback...\nTimeoutException: server s1 '
                          b'did not become ACTIVE\n')]))['scenarios']
        self.assertEqual('FAIL', sc['status'])
        self.assertEqual([{'name': 'scenario', 'ok': False,
                           'evidence': 'TimeoutException: server s1 did '
                                       'not become ACTIVE'}], sc['checks'])

    def test_failed_checks_are_not_repeated(self):
        failed = dict(VERIFIED, checks=[
            {'name': 'server-host', 'ok': False, 'evidence': 'on cmp1'}])
        [sc] = self.data(test_events(LIVE, 'fail', 1, [
            ('xloud-migration-7', json.dumps(failed).encode()),
            ('traceback', b'VerificationFailed: server-host\n')]))[
                'scenarios']
        self.assertEqual(['server-host'], [c['name'] for c in sc['checks']])

    def test_json_file_round_trips(self):
        data = self.data(test_events(LIVE, 'success', 9, [
            ('xloud-migration-7', json.dumps(VERIFIED).encode())]))
        path = os.path.join(self.useFixture(fixtures.TempDir()).path,
                            'xloud-migration-report.json')
        report.write_json(data, path)
        with open(path) as f:
            self.assertEqual(data, json.load(f))

    def test_html_shows_each_scenario_with_its_checks(self):
        data = self.data(test_events(LIVE, 'success', 9, [
            ('xloud-migration-7', json.dumps(VERIFIED).encode())]))
        data['scenarios'][0]['checks'].append(
            {'name': 'console', 'ok': False, 'evidence': '<b>oops</b>'})
        page = report.render_html(data)
        for text in ('Hypervisor: <b>fake</b>', '<td>cmp1</td>',
                     '<td>cmp2</td>', '<td>live-migration</td>',
                     '<td class="pass">pass</td>', '<td>3.2</td>',
                     '<td>&mdash;</td>', '<td>140 ms</td>',
                     'server-host: passed &mdash; Server s1 is on host '
                     'cmp2, expected cmp2.',
                     'heartbeat: not verified &mdash; no heartbeat line: '
                     '&lt;CirrOS&gt; cannot testify',
                     'console: failed &mdash; &lt;b&gt;oops&lt;/b&gt;'):
            self.assertIn(text, page)
