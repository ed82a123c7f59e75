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


import itertools
import time


from xloud_harness import poll
from xloud_harness import testing


class WaitUntilTest(testing.TestCase):

    def test_returns_the_first_true_value(self):
        values = iter([None, 0, 'ready', 'later'])
        self.assertEqual('ready', poll.wait_until(
            lambda: next(values), 5, interval=0.001))

    def test_timeout_names_what_and_the_last_value(self):
        counter = itertools.count()
        started = time.monotonic()
        err = self.assertRaises(
            poll.WaitTimeout, poll.wait_until,
            lambda: next(counter) and [], 0.2, 0.01, what='the widget')
        self.assertGreaterEqual(time.monotonic() - started, 0.2)
        self.assertIn('the widget did not happen within 0.2 s', str(err))
        self.assertIn('last seen: []', str(err))

    def test_called_once_even_without_time(self):
        self.assertTrue(poll.wait_until(lambda: True, 0))

    def test_an_exception_of_the_predicate_ends_the_wait(self):
        def exited():
            raise RuntimeError('child exited')
        started = time.monotonic()
        self.assertRaises(RuntimeError, poll.wait_until, exited, 30)
        self.assertLess(time.monotonic() - started, 5)
