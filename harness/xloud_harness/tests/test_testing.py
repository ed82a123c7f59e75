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
