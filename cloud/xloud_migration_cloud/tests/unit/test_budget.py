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

"""The real main job's budget record, without a cloud."""

import json
import os
import subprocess
import sys
import time

import fixtures

from xloud_harness import poll
from xloud_harness import testing

from xloud_migration_cloud.real import budget


class BudgetTest(testing.TestCase):

    def setUp(self):
        super().setUp()
        self.tmp = self.useFixture(fixtures.TempDir()).path
        self.caches = {name: os.path.join(self.tmp, name)
                       for name in ('guest', 'QEMU capabilities')}
        os.makedirs(self.caches['guest'])
        self.useFixture(fixtures.MonkeyPatch(
            'xloud_migration_cloud.real.budget.cache_dirs',
            lambda: self.caches))

    def test_pss_of_a_live_process_and_of_a_gone_one(self):
        child = subprocess.Popen(
            [sys.executable, '-c',
             'import sys; b = bytearray(64 << 20); sys.stdin.read()'],
            stdin=subprocess.PIPE)
        self.addCleanup(child.wait)
        self.addCleanup(child.stdin.close)
        # Its 64 MiB, touched, count in full: it shares none of them.
        poll.wait_until(lambda: budget.pss_bytes(child.pid) > 64 << 20,
                        10, 0.05, what='the child\'s 64 MiB')
        child.stdin.close()
        child.wait()
        self.assertEqual(0, budget.pss_bytes(child.pid))

    def test_peak_of_the_samples_and_the_phases(self):
        samples = iter([[], [os.getpid()], []])
        recorder = budget.Recorder(lambda: next(samples))
        for _ in range(3):
            recorder.sample()
        recorder.mark('start')
        recorder.mark('scenarios')
        recorder.mark('stop')
        data = recorder.data()
        self.assertEqual(3, data['memory']['samples'])
        # The one sample with a process (this Python, tens of MiB).
        self.assertGreater(data['memory']['peak_pss_bytes'], 10 << 20)
        self.assertEqual(1, data['memory']['processes_at_peak'])
        self.assertEqual({'start', 'scenarios', 'stop', 'env', 'total'},
                         set(data['wall_s']))

    def test_tox_found_above_a_shell(self):
        # As tox -e real-cloud runs it: tox, the guide's block runner, bash,
        # then the cloud. A shell script named tox stands in for tox; each
        # shell runs a command after its child so as not to exec it.
        tox = os.path.join(self.tmp, 'tox')
        with open(tox, 'w') as f:
            f.write('#!/bin/sh\n'
                    'sh -c \'"$0" -c "$1"; true\' "$@"\n'
                    'true\n')
        os.chmod(tox, 0o755)
        before = time.time()
        out = subprocess.run(
            [tox, sys.executable,
             'from xloud_migration_cloud.real import budget; '
             'print(budget._tox_start())'],
            capture_output=True, text=True, check=True).stdout
        started = float(out)
        # /proc's start times count clock ticks since boot.
        self.assertLess(abs(started - before), 2, out)

    def test_warm_when_no_cache_was_built(self):
        recorder = budget.Recorder(list)
        data = recorder.data()
        self.assertFalse(data['fresh'])
        self.assertNotIn('guest', data['built'])

    def test_fresh_when_a_cache_was_built_in_the_run(self):
        recorder = budget.Recorder(list)
        os.makedirs(os.path.join(self.caches['guest'], 'key1'))
        path = recorder.write(self.tmp)
        with open(path) as f:
            data = json.load(f)
        self.assertTrue(data['fresh'])
        self.assertIn('guest', data['built'])
        self.assertEqual(budget.FILE_NAME, os.path.basename(path))
