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

"""The real cloud (``--hypervisor libvirt``) stopped while it starts, or
failing to start, leaves nothing on the machine.

Runs ``xloud-migration-demo --hypervisor libvirt`` and stops it with
SIGTERM once the hosts exist (namespaces, bindfs, loop device, libvirtd
processes, bridge), with Ctrl-C while keystone is being set up (MariaDB and
RabbitMQ running too), with SIGTERM while Barbican starts, and makes it fail
to start (a ``bindfs`` that fails). Afterwards no process it started
(including the daemons that left its process tree: QEMU, bindfs, libvirtd),
namespace, bridge, mount, loop device or work directory may be left
(:func:`sweep.footprint`, and the pids seen while it ran).
"""

import os
import signal
import tempfile

from xloud_harness import poll
from xloud_harness import process
from xloud_harness import testing
from xloud_harness.tests import requirements

from xloud_migration_cloud.real import layout
from xloud_migration_cloud.real import sweep
from xloud_migration_cloud.tests import demo_run


def _cmdline(pid):
    try:
        with open('/proc/%d/cmdline' % pid, 'rb') as f:
            return f.read().decode(errors='replace')
    except OSError:
        return ''


class _Watcher(demo_run.Watcher):
    """Records every pid (and start time) the cloud has, until stopped."""

    INTERVAL = 0.2

    def sample(self):
        found = sweep.footprint().get('processes', [])
        for pid in found:
            self.pids.setdefault(pid, process.start_time(pid))


class RealCloudLifecycleTest(demo_run.DemoRunMixin, testing.TestCase):

    DEMO_ARGS = ('--hypervisor', 'libvirt', '--keep', '--no-tests')
    STOP_GRACE = 120
    EXIT_TIMEOUT = 300

    def setUp(self):
        super().setUp()
        why = layout.unavailable()
        requirements.require(self, why is None,
                             'the real cloud cannot run here: %s' % why)

    def watch(self, proc):
        return _Watcher()

    def assert_nothing_left(self, proc, expected_rc):
        text = self.collect_exit(proc, expected_rc)
        self.assertEqual({}, sweep.footprint(), text)
        left = [pid for pid, started in self.watcher.pids.items()
                if process.alive(pid) and
                process.start_time(pid) == started]
        self.assertEqual([], left, text)
        self.assertEqual([], os.listdir(self.tmp), text)
        return text

    def test_sigterm_once_hosts_exist(self):
        proc = self.start_demo()
        self.read_until(proc, 'MariaDB and RabbitMQ starting')
        found = sweep.footprint()
        # Something to stop: the hosts' processes, mounts, loop device.
        self.assertIn('bridge', found)
        self.assertTrue(found.get('loop devices'), found)
        self.assertTrue(found.get('mounts'), found)
        poll.wait_until(lambda: len(self.watcher.pids) >= len(layout.HOSTS),
                        60, 0.2, what='the hosts\' processes')
        proc.send_signal(signal.SIGTERM)
        self.assert_nothing_left(proc, 130)

    def test_ctrl_c_while_keystone_is_set_up(self):
        proc = self.start_demo()
        self.read_until(proc, 'keystone: database')
        proc.send_signal(signal.SIGINT)
        self.assert_nothing_left(proc, 130)

    def test_sigterm_while_barbican_starts(self):
        proc = self.start_demo()
        # Printed right after Barbican's process was started.
        self.read_until(proc, 'nova: databases')
        barbican = [pid for pid in sweep.footprint().get('processes', [])
                    if 'barbican-api-paste.ini' in _cmdline(pid)]
        self.assertNotEqual([], barbican, ''.join(self.output))
        proc.send_signal(signal.SIGTERM)
        self.assert_nothing_left(proc, 130)

    def test_failed_start_leaves_nothing_behind(self):
        # A bindfs that fails: the first shared host cannot be created.
        bin_dir = tempfile.mkdtemp(prefix='xloud-real-bin-')
        self.addCleanup(os.rmdir, bin_dir)
        fake = os.path.join(bin_dir, 'bindfs')
        with open(fake, 'w') as f:
            f.write('#!/bin/sh\necho "bindfs: refused by the test" >&2\n'
                    'exit 1\n')
        os.chmod(fake, 0o755)
        self.addCleanup(os.unlink, fake)
        proc = self.start_demo(env={
            'PATH': bin_dir + ':' + os.environ.get('PATH', '')})
        text = self.assert_nothing_left(proc, 2)
        self.assertIn('cannot create host xlc-a', text)
        self.assertIn('refused by the test', text)
