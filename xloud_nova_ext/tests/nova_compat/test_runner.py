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

"""The runner's own checks: nova's harness really starts our driver."""

import io
import json
import os
import subprocess
import sys
import time
import unittest

import fixtures
from nova.tests.fixtures import libvirt as fakelibvirt
from nova.tests.functional.libvirt import base as libvirt_base
from nova.virt.libvirt import driver as libvirt_driver
import subunit
import testtools

from xloud_harness import testing

from xloud_nova_ext.tests.nova_compat import by_design
from xloud_nova_ext.tests.nova_compat import completed_job
from xloud_nova_ext.tests.nova_compat import driver_swap
from xloud_nova_ext.tests.nova_compat import reference
from xloud_nova_ext.tests.nova_compat import run
from xloud_nova_ext.tests.nova_compat import selection
from xloud_nova_ext.tests.nova_compat import watchdog
from xloud_nova_ext.virt.libvirt import driver as xloud_driver
from xloud_nova_ext.virt.libvirt import migration_stats


class DriverSwapTest(libvirt_base.ServersTestBase):
    """A compute started by nova's harness, as nova's tests start them."""

    def test_compute_runs_the_driver_under_test(self):
        self.start_compute('compute1')
        driver = self.computes['compute1'].driver
        if driver_swap.installed():
            self.assertIs(xloud_driver.XloudLibvirtDriver, type(driver))
        else:  # --stock: the reference run
            self.assertIs(libvirt_driver.LibvirtDriver, type(driver))


class CompletedJobTest(testing.TestCase):
    """nova's fakelibvirt sends the completed-job event, as libvirt does."""

    def setUp(self):
        super().setUp()
        self.conn = fakelibvirt.Connection('qemu:///system')
        self.domain = self.conn.createXML(
            '<domain type="kvm"><name>vm</name>'
            '<uuid>6b2fd7e6-5c93-4b1c-9c6a-1f1a3b0e4a10</uuid></domain>', 0)

    def test_installed_for_every_run(self):
        self.assertIs(completed_job.complete_job,
                      fakelibvirt.Domain.complete_job)

    def test_job_completed_calls_whoever_registered(self):
        events = []
        self.conn.domainEventRegisterAny(
            None, migration_stats.EVENT_ID_JOB_COMPLETED,
            lambda conn, dom, params, opaque: events.append(
                (dom.UUIDString(), params, opaque)), 'opaque')
        self.domain.complete_job()
        self.assertEqual(fakelibvirt.VIR_DOMAIN_JOB_COMPLETED,
                         self.domain.jobStats()['type'])
        self.assertEqual(
            [('6b2fd7e6-5c93-4b1c-9c6a-1f1a3b0e4a10',
              {'operation': migration_stats.OPERATION_MIGRATION_OUT},
              'opaque')], events)

    def test_nobody_registered(self):
        # nova's own driver registers for no completed-job event.
        self.domain.complete_job()
        self.assertEqual(fakelibvirt.VIR_DOMAIN_JOB_COMPLETED,
                         self.domain.jobStats()['type'])


class ByDesignTest(testing.TestCase):
    """A listed test is an expected failure, and fails the run if it passes."""

    def run_marked(self, body):
        class Listed(testing.TestCase):
            def test_it(self):
                body(self)

        suite = unittest.TestSuite([Listed('test_it')])
        by_design.mark(suite, {Listed('test_it').id(): 'our refusal'})
        result = testtools.TestResult()
        suite.run(result)
        return result

    def test_failing_listed_test_is_an_expected_failure(self):
        result = self.run_marked(lambda test: test.fail('refused'))
        self.assertEqual(1, len(result.expectedFailures))
        self.assertTrue(result.wasSuccessful())

    def test_passing_listed_test_fails_the_run(self):
        result = self.run_marked(lambda test: None)
        self.assertEqual(1, len(result.unexpectedSuccesses))
        self.assertFalse(result.wasSuccessful())

    def test_every_listed_test_is_in_the_package(self):
        import xloud_nova_ext.tests.nova_compat as package
        names = package.nova_test_modules()
        for test_id in by_design.EXPECTED_FAILURES:
            self.assertIn(test_id.rsplit('.', 2)[0], names, test_id)


class SelectionTest(testing.TestCase):

    def test_selected_modules_exist(self):
        import xloud_nova_ext.tests.nova_compat as package
        names = package.nova_test_modules()
        for module in selection.MODULES:
            self.assertIn('%s.%s' % (selection.PACKAGE, module), names)


NOVA = 'nova.tests.functional.libvirt.test_evacuate.T.'
CHECK = 'xloud_nova_ext.tests.nova_compat.test_runner.SelectionTest.test_x'


class ReferenceTest(testing.TestCase):
    """Ours beside the recorded stock outcomes, test by test."""

    def setUp(self):
        super().setUp()
        self.path = os.path.join(self.useFixture(fixtures.TempDir()).path,
                                 'stock.json')
        # Stock: a passes, b fails, c is skipped by nova itself.
        reference.record('selection', {NOVA + 'a': 'success',
                                       NOVA + 'b': 'fail',
                                       NOVA + 'c': 'skip',
                                       CHECK: 'success'}, self.path)

    def compare(self, found, expected=()):
        out = io.StringIO()
        rc = reference.compare('selection', found, out, self.path,
                               {t: 'our refusal' for t in expected})
        return rc, out.getvalue()

    def stock_outcomes(self, **changes):
        found = {NOVA + 'a': 'success', NOVA + 'b': 'fail',
                 NOVA + 'c': 'skip', CHECK: 'success'}
        found.update({NOVA + k: v for k, v in changes.items()})
        return found

    def test_same_outcomes_as_stock_pass_and_print_both_counts(self):
        rc, out = self.compare(self.stock_outcomes())
        self.assertEqual(0, rc, out)
        stock, ours = out.splitlines()[1:3]
        self.assertTrue(stock.startswith('stock LibvirtDriver (nova 34.'),
                        stock)
        self.assertEqual(['1', '1', '1', '0', '0'], stock.split()[-5:])
        self.assertEqual(['1', '1', '1', '0', '0'], ours.split()[-5:])

    def test_reference_keeps_nova_tests_only(self):
        with open(self.path) as f:
            recorded = json.load(f)['selection']
        self.assertEqual({NOVA + 'a': 'success', NOVA + 'b': 'fail',
                          NOVA + 'c': 'skip'}, recorded['outcomes'])

    def test_failing_what_stock_passes_fails_the_run(self):
        rc, out = self.compare(self.stock_outcomes(a='fail'))
        self.assertEqual(1, rc)
        self.assertIn('does not pass 1 test(s) that stock nova passes:\n'
                      '  %sa (fail)' % NOVA, out)

    def test_skipping_what_stock_passes_fails_the_run(self):
        rc, out = self.compare(self.stock_outcomes(a='skip'))
        self.assertEqual(1, rc)
        self.assertIn('  %sa (skip)' % NOVA, out)

    def test_failing_what_stock_skips_fails_the_run(self):
        rc, out = self.compare(self.stock_outcomes(c='fail'))
        self.assertEqual(1, rc)
        self.assertIn('  %sc (fail)' % NOVA, out)

    def test_listed_by_design_is_not_counted_against_us(self):
        found = self.stock_outcomes(a='xfail')
        self.assertEqual(0, self.compare(found, [NOVA + 'a'])[0])
        found[NOVA + 'a'] = 'uxsuccess'
        self.assertEqual(1, self.compare(found, [NOVA + 'a'])[0])

    def test_tests_that_did_not_run_fail_the_run(self):
        rc, out = self.compare({NOVA + 'a': 'success', CHECK: 'success'})
        self.assertEqual(1, rc)
        self.assertIn('FAILED: 2 test(s) of the stock reference did not '
                      'run:\n  %sb\n  %sc\n' % (NOVA, NOVA), out)

    def test_test_the_reference_does_not_know_fails_the_run(self):
        # Even a passing one: the reference no longer describes the
        # selection (a module added, nova changed).
        rc, out = self.compare(self.stock_outcomes(d='success'))
        self.assertEqual(1, rc)
        self.assertIn('FAILED: 1 test(s) ran that the stock reference does '
                      'not know (the selection or nova changed): record it '
                      'again (tox -e nova-compat -- --stock --record):\n'
                      '  %sd\n' % NOVA, out)

    def test_missing_reference_fails_the_run(self):
        out = io.StringIO()
        rc = reference.compare('all', self.stock_outcomes(), out, self.path)
        self.assertEqual(1, rc)
        ours, failed = out.getvalue().splitlines()[1:]
        self.assertEqual(['1', '1', '1', '0', '0'], ours.split()[-5:])
        self.assertEqual(
            'FAILED: no stock reference for "all" in %s: record it (tox -e '
            'nova-compat -- --stock --record all).' % self.path, failed)

    def test_reference_of_another_nova_version_fails_the_run(self):
        with open(self.path) as f:
            recorded = json.load(f)
        recorded['selection']['nova'] = '33.0.0'
        with open(self.path, 'w') as f:
            json.dump(recorded, f)
        rc, out = self.compare(self.stock_outcomes())
        self.assertEqual(1, rc)
        self.assertIn('FAILED: the stock reference for "selection" was '
                      'measured with nova 33.0.0, nova %s is installed: '
                      'record it again' % reference.nova_version(), out)

    def test_failed_runner_check_fails_the_run(self):
        found = self.stock_outcomes()
        found[CHECK] = 'fail'
        rc, out = self.compare(found)
        self.assertEqual(1, rc)
        self.assertIn("FAILED: the runner's own checks did not pass: "
                      "%s (fail).\n" % CHECK, out)

    def test_no_nova_test_ran_fails_the_run(self):
        rc, out = self.compare({CHECK: 'success'})
        self.assertEqual(1, rc)
        self.assertIn('FAILED: no test of nova.tests.functional.libvirt '
                      'ran', out)

    def test_stock_run_records_only_when_sound(self):
        self.useFixture(fixtures.MonkeyPatch(
            'xloud_nova_ext.tests.nova_compat.reference.PATH', self.path))
        found = self.stock_outcomes(a='fail')
        found[CHECK] = 'fail'
        out = io.StringIO()
        self.assertEqual(1, run.stock('selection', found, True, out))
        self.assertIn('Nothing recorded.', out.getvalue())
        self.assertEqual('success', reference.load(self.path)['selection'][
            'outcomes'][NOVA + 'a'])

        found[CHECK] = 'success'
        self.assertEqual(0, run.stock('selection', found, True, out))
        self.assertEqual('fail', reference.load(self.path)['selection'][
            'outcomes'][NOVA + 'a'])

    def test_reads_stestr_subunit_output(self):
        stream = io.BytesIO()
        writer = subunit.StreamResultToBytes(stream)
        for test_id, status in ((NOVA + 'a', 'success'),
                                (NOVA + 'b', 'fail'),
                                (CHECK, 'success')):
            writer.status(test_id=test_id, test_status='inprogress')
            writer.status(test_id=test_id, test_status=status)
        found = reference.parse(stream.getvalue())
        self.assertEqual({NOVA + 'a': 'success', NOVA + 'b': 'fail',
                          CHECK: 'success'}, found)
        self.assertEqual({NOVA + 'a': 'success', NOVA + 'b': 'fail'},
                         reference.nova_tests(found))


HUNG_TEST = '''
import time
import unittest
from xloud_nova_ext.tests.nova_compat import watchdog
import eventlet

class Hung(unittest.TestCase):
    def test_sleeps_forever(self):
        # As in the hang seen in CI: the test waits on a green thread.
        eventlet.spawn(time.sleep, 60).wait()

test = Hung('test_sleeps_forever')
watchdog.watch([test], seconds=1)
test.run(unittest.TestResult())
print('worker went on')
'''


class WatchdogTest(testing.TestCase):
    """A test that hangs ends its worker, with every thread's stack."""

    def test_hung_test_is_dumped_and_its_worker_ended(self):
        # Its own hung file: inheriting this run's would make the runner
        # "run again" a test that is not in the suite.
        hung = os.path.join(self.useFixture(fixtures.TempDir()).path, 'hung')
        env = dict(os.environ, **{watchdog.HUNG_FILE: hung})
        proc = subprocess.run([sys.executable, '-c', HUNG_TEST], env=env,
                              capture_output=True, text=True, timeout=50)
        self.assertNotEqual(0, proc.returncode)
        self.assertEqual(['__main__.Hung.test_sleeps_forever'],
                         run.read_lines(hung))
        self.assertNotIn('worker went on', proc.stdout)
        self.assertIn('Hung.test_sleeps_forever still running after 1 s',
                      proc.stderr)
        # The stuck green thread's own stack, not only the hub's.
        self.assertIn('in test_sleeps_forever', proc.stderr)

    def test_armed_only_while_a_test_runs(self):
        class Quick(testing.TestCase):
            def test_quick(self):
                pass
        test = Quick('test_quick')
        watchdog.watch([test], seconds=1)
        result = unittest.TestResult()
        test.run(result)
        self.assertTrue(result.wasSuccessful())
        # Disarmed after the test: nothing fires while we wait past it.
        time.sleep(1.5)


class RerunTest(testing.TestCase):
    """A test the watchdog ended runs again, with those its worker left.

    stestr itself is replaced here (running nova's tests twice would take
    minutes); the watchdog's own behaviour is WatchdogTest's.
    """

    def setUp(self):
        super().setUp()
        self.calls = []
        self.runs = [{'n.a': 'success', 'n.hung': 'fail'},
                     {'n.hung': 'success', 'n.left': 'success'}]
        self.useFixture(fixtures.MockPatchObject(
            run.subprocess, 'call', side_effect=self.stestr_run))
        self.useFixture(fixtures.MockPatchObject(
            run.reference, 'outcomes',
            side_effect=lambda repo: self.runs.pop(0)))
        self.useFixture(fixtures.MockPatchObject(
            run, 'list_tests', return_value=['n.a', 'n.hung', 'n.left']))
        self.seen = {}
        self.useFixture(fixtures.MockPatchObject(
            run, 'stock', side_effect=lambda name, found, record, out: (
                self.seen.update(found) or 0)))

    def stestr_run(self, cmd, env):
        self.calls.append(cmd)
        if len(self.calls) == 1:
            with open(env[watchdog.HUNG_FILE], 'a') as f:
                f.write('n.hung\n')
        else:
            with open(cmd[-1]) as f:
                self.again = f.read().split()
        return 1

    def test_hung_and_never_run_tests_run_again_once(self):
        out = io.StringIO()
        self.assertEqual(0, run.main(['--stock'], out=out))
        self.assertEqual(2, len(self.calls))
        self.assertEqual(['n.hung', 'n.left'], self.again)
        self.assertEqual({'n.a': 'success', 'n.hung': 'success',
                          'n.left': 'success'}, self.seen)
        self.assertIn('Running 2 test(s) again: 1 hung', out.getvalue())

    def test_a_test_that_never_runs_fails_the_run(self):
        self.runs[1] = {'n.hung': 'success'}
        out = io.StringIO()
        self.assertEqual(1, run.main(['--stock'], out=out))
        self.assertIn('FAILED: 1 test(s) never ran', out.getvalue())
