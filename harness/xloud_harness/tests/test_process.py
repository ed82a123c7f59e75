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
import signal
import socket
import subprocess
import sys
from unittest import mock

import fixtures

from xloud_harness import process
from xloud_harness import testing


class ServiceTest(testing.TestCase):

    def setUp(self):
        super().setUp()
        self.tmp = self.useFixture(fixtures.TempDir()).path

    def _service(self, argv, port, timeout=10):
        return process.Service(
            'widget', argv, os.path.join(self.tmp, 'widget.log'), port=port,
            timeout=timeout)

    def test_port_taken_names_component_and_port(self):
        with socket.socket() as s:
            s.bind(('127.0.0.1', 0))
            s.listen()
            port = s.getsockname()[1]
            service = self._service([sys.executable, '-c', 'pass'], port)
            err = self.assertRaises(process.ServiceError, service.start)
        self.assertIn('widget cannot start', str(err))
        self.assertIn('127.0.0.1:%d is taken' % port, str(err))
        self.assertIsNone(service.proc)

    def test_exit_while_starting_names_log_and_shows_its_end(self):
        port = process.free_port()
        service = self._service(
            [sys.executable, '-c',
             'import sys; print("config file missing"); sys.exit(3)'], port)
        err = self.assertRaises(process.ServiceError, service.start)
        text = str(err)
        self.assertIn('widget on 127.0.0.1:%d exited with status 3' % port,
                      text)
        self.assertIn(os.path.join(self.tmp, 'widget.log'), text)
        self.assertIn('config file missing', text)

    def test_never_ready_is_stopped_and_reported(self):
        port = process.free_port()
        service = self._service(
            [sys.executable, '-c', 'import time; time.sleep(60)'], port,
            timeout=1)
        err = self.assertRaises(process.ServiceError, service.start)
        self.assertIn('did not answer http://127.0.0.1:%d/' % port, str(err))
        # Stopped, not left running behind the error.
        self.assertIsNotNone(service.proc.poll())

    def test_serves_and_stops(self):
        port = process.free_port()
        service = self._service(process.python_argv(
            'xloud_harness.wsgi', 'wsgiref.simple_server:demo_app', port),
            port)
        service.start()
        self.assertTrue(process.port_taken(port))
        service.stop()
        self.assertIsNotNone(service.proc.poll())
        self.assertFalse(process.port_taken(port))

    def test_port_file_serves_on_the_port_the_child_chose(self):
        port_file = os.path.join(self.tmp, 'port')
        service = process.Service(
            'widget', process.python_argv(
                'xloud_harness.wsgi', 'wsgiref.simple_server:demo_app', 0,
                port_file),
            os.path.join(self.tmp, 'widget.log'), port_file=port_file,
            timeout=10).start()
        self.addCleanup(service.stop)
        with open(port_file) as f:
            self.assertEqual(int(f.read()), service.port)
        self.assertTrue(process.port_taken(service.port))


class StopSessionTest(testing.TestCase):

    def test_stops_the_child_and_what_it_left_in_its_group(self):
        # The child starts a grandchild in its group, then ignores SIGTERM.
        proc = subprocess.Popen(
            [sys.executable, '-c',
             'import signal, subprocess, sys, time\n'
             'p = subprocess.Popen([sys.executable, "-c", '
             '"import time; time.sleep(60)"])\n'
             'print(p.pid, flush=True)\n'
             'signal.signal(signal.SIGTERM, signal.SIG_IGN)\n'
             'time.sleep(60)\n'],
            stdout=subprocess.PIPE, text=True, start_new_session=True)
        grandchild = int(proc.stdout.readline())
        process.stop_session(proc, grace=0.5)
        self.assertIsNotNone(proc.returncode)
        self.assertEqual([], process.wait_gone([grandchild], 5))

    def test_a_reaped_child_is_not_signalled(self):
        # Its pid, which names its group, may be another process's now.
        proc = subprocess.Popen([sys.executable, '-c', 'pass'],
                                start_new_session=True)
        proc.wait()
        with mock.patch.object(process.os, 'killpg') as killpg:
            process.stop_session(proc)
        killpg.assert_not_called()


class StartChildTest(testing.TestCase):

    def test_recorded_before_any_stop_signal_and_child_gets_them_back(self):
        seen = []

        def record(proc):
            # A stop signal now waits: it cannot lose the child.
            os.kill(os.getpid(), signal.SIGHUP)
            seen.append(proc)

        handled = []
        old = signal.signal(signal.SIGHUP, lambda *a: handled.append(seen[:]))
        self.addCleanup(signal.signal, signal.SIGHUP, old)
        proc = process.start_child(
            ['grep', 'SigBlk', '/proc/self/status'], record,
            stdout=subprocess.PIPE, text=True)
        out, _ = proc.communicate(timeout=30)
        self.assertEqual([proc], seen)
        # Delivered once the child was recorded, not before.
        self.assertEqual([[proc]], handled)
        # The child runs with no signal blocked.
        self.assertEqual('0' * 16, out.split()[1])
