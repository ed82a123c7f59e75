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

"""Tear-down leaves nothing, and bring-up removes what a killed run left."""

import json
import os
import signal
import subprocess
import sys

from xloud_harness import guests
from xloud_harness import hosts
from xloud_harness import layout
from xloud_harness import process

import xloud_nova_ext
from xloud_nova_ext.tests.integration import base

# Brings up a pair with a vTPM guest on A and a small filesystem on B,
# prints its footprint and waits to be killed.
BUSY_PAIR = '''
import json, sys, time
from xloud_harness import hosts
from xloud_nova_ext.tests.integration import test_teardown
pair = hosts.HostPair()
pair.up()
test_teardown.make_busy(pair)
print(json.dumps(test_teardown.portable(pair.footprint())), flush=True)
time.sleep(600)
'''


def make_busy(pair):
    """A guest with a vTPM (QEMU + swtpm) on A, a small filesystem on B."""
    conn = pair.a.open()
    try:
        secret = guests.define_vtpm_secret(conn, b'x' * 32)
        guests.start_guest(conn, guests.domain_xml('busy-guest',
                                                   vtpm_secret=secret))
    finally:
        conn.close()
    hosts.mount_small_fs(pair.b, '/var/lib/libvirt/images', 16)


def portable(footprint):
    """``footprint`` in JSON-friendly types."""
    return {'processes': {str(k): v for k, v in
                          footprint['processes'].items()},
            'namespaces': sorted(footprint['namespaces']),
            'loop_devices': footprint['loop_devices'],
            'mounts': footprint['mounts']}


def leftovers(footprint, ignore=None):
    """What of ``footprint`` (or of any pair) is still on the machine.

    Looked up from scratch (/proc, the mount table, losetup, ip), not
    through the fixture's own bookkeeping. What is in footprint ``ignore``
    (a newer pair) does not count. Namespace inodes are unique among live
    namespaces, so an old inode that a newer pair uses was freed.
    """
    ignore = ignore or {'processes': {}, 'namespaces': [], 'mounts': []}
    found = []
    for pid, (name, started) in footprint['processes'].items():
        if process.alive(int(pid)) and process.start_time(int(pid)) == started:
            found.append('process %s (%s)' % (pid, name))
    inodes = set(footprint['namespaces']) - set(ignore['namespaces'])
    for pid in process.all_pids():
        if any(process.ns_inode('/proc/%d/ns/%s' % (pid, kind)) in inodes
               for kind in layout.NS_KINDS):
            found.append('process %d in a host namespace' % pid)
    with open('/proc/self/mountinfo') as f:
        for line in f:
            if line.split()[4] in ignore['mounts']:
                continue
            if layout.WORK_DIR in line or any(
                    ':[%d]' % ino in line for ino in inodes):
                found.append('mount ' + line.strip())
    loops = process.run(['losetup', '--list', '--noheadings',
                         '--output', 'NAME,BACK-FILE']).stdout
    for line in loops.splitlines():
        if (layout.WORK_DIR in line
                or line.split()[0] in footprint['loop_devices']):
            found.append('loop device ' + line.strip())
    links = process.run(['ip', '-o', 'link', 'show']).stdout
    for spec in layout.HOSTS:
        if spec.ifname in links:
            found.append('link ' + spec.ifname)
    if os.path.exists(layout.WORK_DIR) and not ignore['mounts']:
        found.append('directory %s' % layout.WORK_DIR)
    return found


class TeardownTest(base.IntegrationTestCase):

    def assertBusy(self, footprint):
        names = sorted(n for n, _ in footprint['processes'].values())
        for name in ('libvirtd', 'qemu-system-x86', 'swtpm'):
            self.assertIn(name, names)
        self.assertEqual(2, names.count('libvirtd'), names)
        self.assertEqual(6, len(footprint['namespaces']))
        self.assertEqual(1, len(footprint['loop_devices']))
        # The check below must see what it is meant to find.
        self.assertNotEqual([], leftovers(footprint))

    def test_teardown_leaves_nothing_behind(self):
        """down() stops every process and removes every trace."""
        make_busy(self.pair)
        footprint = portable(self.pair.footprint())
        self.assertBusy(footprint)

        self.pair.down()

        self.assertEqual([], leftovers(footprint))

    def test_bring_up_removes_what_a_killed_run_left(self):
        """up() cleans up after a run that was killed with SIGKILL."""
        self.pair.down()
        top = os.path.dirname(os.path.dirname(xloud_nova_ext.__file__))
        env = dict(os.environ, PYTHONPATH=top)
        child = subprocess.Popen(
            [sys.executable, '-c', BUSY_PAIR], env=env, text=True,
            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
            stderr=subprocess.PIPE)
        self.addCleanup(child.wait)
        self.addCleanup(child.kill)
        line = child.stdout.readline()
        self.assertTrue(line, child.stderr.read() if not line else '')
        footprint = json.loads(line)
        self.assertBusy(footprint)
        os.kill(child.pid, signal.SIGKILL)
        child.wait()
        child.stdout.close()
        child.stderr.close()
        # Killed: its daemons, namespaces, mounts and loop device remain.
        self.assertBusy(portable(self.pair.footprint()))

        self.pair.up()

        self.assertEqual([], leftovers(
            footprint, ignore=portable(self.pair.footprint())))
        # ... and the new pair works.
        conn = self.open(self.a)
        dom = guests.start_guest(conn, guests.domain_xml('after-stale'))
        guests.live_migrate(dom, self.b)
        self.assertTrue(self.b.owns(self.b.qemu_pid('after-stale')))
