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

"""``xloud-migration-demo`` run by a lifecycle test, and what watches it.

The embedded cloud's and the real cloud's lifecycle tests share this: the
demo in a fresh TMPDIR, its output read line by line, a watcher thread
recording the cloud's processes while it runs.
"""

import os
import subprocess
import sys
import tempfile
import threading

from xloud_harness import process


class Watcher(threading.Thread):
    """Calls :meth:`sample` every ``INTERVAL`` seconds until stopped."""

    INTERVAL = 0.1

    def __init__(self):
        super().__init__(daemon=True)
        #: {pid: start time} of every process seen: on a busy machine pids
        #: are reused within minutes.
        self.pids = {}
        self._done = threading.Event()

    def sample(self):
        raise NotImplementedError

    def run(self):
        while not self._done.is_set():
            self.sample()
            self._done.wait(self.INTERVAL)

    def stop(self):
        self._done.set()
        self.join()


class DemoRunMixin(object):
    """Mix into a TestCase: start the demo, read it, collect its end."""

    #: Arguments every run of this test class passes first.
    DEMO_ARGS = ()
    #: Seconds the demo gets to stop on SIGTERM at cleanup, and to exit.
    STOP_GRACE = 30
    EXIT_TIMEOUT = 120

    def watch(self, proc):
        """A :class:`Watcher` (not started) for the demo ``proc``."""
        raise NotImplementedError

    def start_demo(self, *args, env=None):
        """The demo in a fresh TMPDIR, its output read line by line."""
        tmp = tempfile.mkdtemp(prefix='xloud-lifecycle-')
        self.addCleanup(os.rmdir, tmp)
        self.tmp = tmp
        proc = subprocess.Popen(
            [sys.executable, '-m', 'xloud_migration_cloud.demo'] +
            list(self.DEMO_ARGS) + list(args),
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
            env=dict(os.environ, TMPDIR=tmp, **(env or {})),
            start_new_session=True)
        # Whatever happens, nothing of it outlives the test.
        self.addCleanup(lambda: process.stop_session(
            proc, grace=self.STOP_GRACE))
        self.watcher = self.watch(proc)
        self.watcher.start()
        self.addCleanup(self.watcher.stop)
        self.output = []
        return proc

    def read_until(self, proc, marker):
        """Read its output up to the line holding ``marker``."""
        while True:  # bounded by the test timeout (OS_TEST_TIMEOUT)
            line = proc.stdout.readline()
            self.output.append(line)
            if not line:
                self.fail('the demo ended before %r:\n%s'
                          % (marker, ''.join(self.output)))
            if marker in line:
                return ''.join(self.output)

    def collect_exit(self, proc, expected_rc):
        """Its whole output, once it exited with ``expected_rc``.

        The watcher is stopped: its records are final.
        """
        self.output.append(proc.stdout.read())
        text = ''.join(self.output)
        self.assertEqual(expected_rc, proc.wait(timeout=self.EXIT_TIMEOUT),
                         text)
        self.watcher.stop()
        return text
