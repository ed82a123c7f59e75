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


import os
import subprocess
import sys
import textwrap

import fixtures

from xloud_harness import results
from xloud_harness import testing

SLOW = textwrap.dedent('''
    import time

    from xloud_harness import testing


    class SlowTest(testing.TestCase):

        def test_sleeps_past_the_timeout(self):
            time.sleep(30)

        def test_quick(self):
            pass


    class ScaledTest(testing.TestCase):
        TIMEOUT_SCALING_FACTOR = 3

        def test_sleeps_within_its_scaled_timeout(self):
            time.sleep(1.5)
''')


class TimeoutTest(testing.TestCase):

    def test_a_slow_test_fails_by_name_and_the_run_goes_on(self):
        tmp = self.useFixture(fixtures.TempDir()).path
        with open(os.path.join(tmp, 'test_slow.py'), 'w') as f:
            f.write(SLOW)
        env = dict(os.environ, OS_TEST_TIMEOUT='1', PYTHONPATH=tmp)
        proc = subprocess.run(
            [sys.executable, '-m', 'subunit.run', 'test_slow'],
            cwd=tmp, env=env, capture_output=True, timeout=60)
        with open(os.path.join(tmp, 'out.subunit'), 'wb') as f:
            f.write(proc.stdout)
        with open(os.path.join(tmp, 'out.subunit'), 'rb') as f:
            outcomes = {t.test_id: t for t in results.read(f).outcomes()}
        slow = outcomes['test_slow.SlowTest.test_sleeps_past_the_timeout']
        self.assertEqual('FAIL', slow.status)
        self.assertLess(slow.seconds, 10)
        traceback = b''.join(data for name, data in slow.attachments
                             if name == 'traceback')
        self.assertIn(b'TimeoutException', traceback)
        self.assertEqual('pass',
                         outcomes['test_slow.SlowTest.test_quick'].status)
        # 1.5 s is past OS_TEST_TIMEOUT, within 3 times it.
        self.assertEqual('pass', outcomes[
            'test_slow.ScaledTest.test_sleeps_within_its_scaled_timeout']
            .status)

    def test_timeout_from_the_environment(self):
        for value, expected in (('240', 240), ('2.5', 2), ('', 0),
                                ('x', 0), ('-3', 0)):
            self.useFixture(fixtures.EnvironmentVariable(
                'OS_TEST_TIMEOUT', value))
            self.assertEqual(expected, testing.test_timeout(), value)


class RunTest(testing.TestCase):
    """testing.run: one test outside a runner, as a runner runs it."""

    def case(self, body, events):
        class Case(testing.TestCase):
            def setUp(case):
                super().setUp()
                events.append('setUp')
                case.addCleanup(events.append, 'clean-up')

            def test_it(case):
                body(case)
        return Case('test_it')

    def test_a_passing_test_runs_between_set_up_and_clean_ups(self):
        events = []
        testing.run(self.case(lambda case: events.append('test'), events))
        self.assertEqual(['setUp', 'test', 'clean-up'], events)

    def test_a_failing_test_raises_with_its_traceback_after_clean_ups(self):
        events = []

        def fail(case):
            case.fail('the figure is missing')
        case = self.case(fail, events)
        e = self.assertRaises(testing.TestDidNotPass, testing.run, case)
        self.assertIn(case.id() + ' did not pass', str(e))
        self.assertIn('the figure is missing', str(e))
        self.assertEqual(['setUp', 'clean-up'], events)

    def test_an_error_raises_with_its_traceback(self):
        def error(case):
            raise OSError('qemu-img is missing')
        e = self.assertRaises(testing.TestDidNotPass, testing.run,
                              self.case(error, []))
        self.assertIn('OSError: qemu-img is missing', str(e))

    def test_a_skipped_test_raises_with_its_reason(self):
        def skip(case):
            case.skipTest('no Barbican here')
        e = self.assertRaises(testing.TestDidNotPass, testing.run,
                              self.case(skip, []))
        self.assertIn('skipped: no Barbican here', str(e))
