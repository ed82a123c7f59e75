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

from xloud_harness import results
from xloud_harness import testing

CLS = 'plugin.api.test_vtpm.VTPMTest'


def outcome(test_id, status):
    t = results.TestOutcome(test_id)
    t.status = status
    return t


class CountsTest(testing.TestCase):

    def test_tests_of_a_skipped_class_count_once_as_its_skip(self):
        got = results.counts([
            outcome('setUpClass (%s)' % CLS, 'skip'),
            # Announced by tempest, never run.
            outcome(CLS + '.test_moves[id-1,multinode]', 'running'),
            outcome('plugin.api.test_live.LiveTest.test_a[id-2]', 'pass')])
        self.assertEqual({'passed': 1, 'failed': 0, 'skipped': 1}, got)

    def test_a_test_that_never_finished_otherwise_failed(self):
        got = results.counts([
            outcome('setUpClass (plugin.api.test_live.LiveTest)', 'pass'),
            outcome('plugin.api.test_live.LiveTest.test_a[id-2]', 'running'),
            outcome(CLS + '.test_moves[id-1]', 'running')])
        self.assertEqual({'passed': 0, 'failed': 2, 'skipped': 0}, got)
