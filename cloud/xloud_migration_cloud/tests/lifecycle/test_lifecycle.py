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


"""The embedded cloud starts, answers and stops without leaving anything.

Runs ``xloud-migration-demo`` as an operator would and stops it at several
points: Ctrl-C once it is up, SIGTERM or Ctrl-C while a service starts or
while Tempest runs, and a service that fails to start. While it runs, a
watcher records every process below it and every port they listen on;
after it exits, none of them may be left, and the temporary directory it
was given (its TMPDIR) must be empty.
"""

import os
import re
import signal
import urllib.request

from xloud_harness import poll
from xloud_harness import process
from xloud_harness import testing

from xloud_migration_cloud.tests import demo_run

READY = 'The cloud keeps running'


def _children():
    """{ppid: [pid, ...]} of every process (from /proc)."""
    children = {}
    for pid in process.all_pids():
        try:
            with open('/proc/%d/stat' % pid) as f:
                ppid = int(f.read().rsplit(')', 1)[1].split()[1])
        except (OSError, IndexError, ValueError):
            continue
        children.setdefault(ppid, []).append(pid)
    return children


def descendants(pid):
    """PIDs of every live process below ``pid``."""
    children = _children()
    found, todo = [], [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            found.append(child)
            todo.append(child)
    return found


def listening_ports():
    """{socket inode: port} of the TCP sockets listening on this machine."""
    ports = {}
    for table in ('/proc/net/tcp', '/proc/net/tcp6'):
        try:
            with open(table) as f:
                lines = f.readlines()[1:]
        except OSError:
            continue
        for line in lines:
            fields = line.split()
            if fields[3] == '0A':
                ports[int(fields[9])] = int(fields[1].rsplit(':', 1)[1], 16)
    return ports


def socket_inodes(pid):
    inodes = set()
    try:
        fds = os.listdir('/proc/%d/fd' % pid)
    except OSError:
        return inodes
    for fd in fds:
        try:
            target = os.readlink('/proc/%d/fd/%s' % (pid, fd))
        except OSError:
            continue
        if target.startswith('socket:['):
            inodes.add(int(target[len('socket:['):-1]))
    return inodes


class Watcher(demo_run.Watcher):
    """Records, until stopped, every process below ``pid`` and its ports."""

    def __init__(self, pid):
        super().__init__()
        self.pid = pid
        self.ports = set()

    def sample(self):
        below = descendants(self.pid)
        for pid in below:
            self.pids.setdefault(pid, process.start_time(pid))
        listening = listening_ports()
        for pid in below:
            self.ports.update(listening[i] for i in socket_inodes(pid)
                              if i in listening)


class LifecycleTest(demo_run.DemoRunMixin, testing.TestCase):

    DEMO_ARGS = ('--hypervisor', 'fake')

    def watch(self, proc):
        return Watcher(proc.pid)

    def assert_nothing_left(self, proc, expected_rc):
        text = self.collect_exit(proc, expected_rc)
        self.assertNotEqual({}, self.watcher.pids, text)
        # Children die with their parent's stop(); give the kernel a moment.

        def left():
            return ['%d %s' % (pid, _cmdline(pid))
                    for pid, started in self.watcher.pids.items()
                    if process.alive(pid) and
                    process.start_time(pid) == started]

        try:
            poll.wait_until(lambda: not left(), 10, 0.1,
                            what='the exit of every process it started')
        except poll.WaitTimeout:
            self.assertEqual([], left(), text)
        # A port of ours still listening, whoever holds it now (another
        # cloud on this machine may well listen on a port we used: not
        # ours, then).
        ours = set(self.watcher.pids)
        held = {inode: pid for pid in process.all_pids()
                for inode in socket_inodes(pid)}
        self.assertEqual([], ['%d (pid %s)' % (port, held.get(inode))
                              for inode, port in listening_ports().items()
                              if port in self.watcher.ports and
                              held.get(inode) in ours], text)
        self.assertEqual([], os.listdir(self.tmp), text)
        return text

    def test_ctrl_c_leaves_nothing_behind(self):
        proc = self.start_demo('--keep', '--no-tests')
        text = self.read_until(proc, 'compute API:')
        self.assertIn(READY, text, text)
        urls = dict(re.findall(r'(keystone|compute API):\s+(http://\S+)',
                               text))
        self.assertEqual({'keystone', 'compute API'}, set(urls), text)
        for url in urls.values():
            with urllib.request.urlopen(url, timeout=10) as response:
                self.assertLess(response.status, 400)
        self.watcher.sample()
        # keystone, Barbican, the network stub and nova at least.
        self.assertGreaterEqual(len(self.watcher.pids), 4, text)
        self.assertGreaterEqual(len(self.watcher.ports), 4, text)
        self.assertNotEqual([], os.listdir(self.tmp))
        proc.send_signal(signal.SIGINT)
        self.assert_nothing_left(proc, 130)

    def test_sigterm_while_barbican_starts(self):
        proc = self.start_demo('--keep', '--no-tests')
        self.read_until(proc, 'starting Barbican')
        # keystone serves by now: there is something to stop.
        poll.wait_until(lambda: self.watcher.ports, 60, 0.1,
                        what='keystone listening')
        proc.send_signal(signal.SIGTERM)
        self.assert_nothing_left(proc, 130)

    def test_ctrl_c_while_nova_starts(self):
        proc = self.start_demo('--keep', '--no-tests')
        self.read_until(proc, 'starting nova')
        proc.send_signal(signal.SIGINT)
        self.assert_nothing_left(proc, 130)

    def test_sigterm_while_tempest_runs(self):
        proc = self.start_demo(
            '--regex', 'test_live_migration_to_requested_host',
            '--concurrency', '1')
        self.read_until(proc, 'cloud ready')

        def tempest_runs():
            return any(process.comm(p) in ('tempest', 'stestr') or
                       'tempest' in _cmdline(p)
                       for p in descendants(proc.pid))

        poll.wait_until(tempest_runs, 60, 0.1, what='tempest running')
        proc.send_signal(signal.SIGTERM)
        self.assert_nothing_left(proc, 130)

    def test_failed_start_leaves_nothing_behind(self):
        # nova's harness cannot load its API pipeline: nova fails to start
        # after keystone, Barbican and the network stub are up.
        proc = self.start_demo('--keep', '--no-tests', env={
            'OS_WSGI__API_PASTE_CONFIG': '/nonexistent/api-paste.ini'})
        text = self.assert_nothing_left(proc, 2)
        self.assertIn('error: nova on 127.0.0.1:', text)


def _cmdline(pid):
    try:
        with open('/proc/%d/cmdline' % pid, 'rb') as f:
            return f.read().replace(b'\0', b' ').decode(errors='replace')
    except OSError:
        return ''
