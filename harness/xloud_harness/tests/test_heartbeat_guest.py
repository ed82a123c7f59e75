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

"""The heartbeat guest boots under plain QEMU (TCG, 128 MiB) and testifies."""

import os
import shutil
import subprocess
import tempfile
import time
import unittest

from xloud_harness.heartbeat import build
from xloud_harness.heartbeat import lines

BOOT_BUDGET = 20.0   # seconds from QEMU's start to the third heartbeat
MEMORY_MIB = 128


def _require(test, condition, reason):
    if condition:
        return
    if os.environ.get('XLOUD_TEST_REQUIRE_ALL', '') not in ('', '0'):
        test.fail(reason + ' (and XLOUD_TEST_REQUIRE_ALL is set)')
    test.skipTest(reason)


class TestHeartbeatGuest(unittest.TestCase):

    def setUp(self):
        super().setUp()
        missing = [c for c in ('qemu-system-x86_64', 'apt-get', 'dpkg-deb',
                               'cpio') if shutil.which(c) is None]
        _require(self, not missing, 'missing commands: %s' % missing)
        self.guest = build.build()
        self.tmp = tempfile.mkdtemp()
        self.addCleanup(shutil.rmtree, self.tmp)

    def _boot(self, console):
        proc = subprocess.Popen(
            ['qemu-system-x86_64', '-machine', 'accel=tcg', '-cpu', 'qemu64',
             '-m', str(MEMORY_MIB), '-smp', '1', '-display', 'none',
             '-monitor', 'none', '-no-reboot', '-nodefaults',
             '-serial', 'file:' + console,
             '-kernel', self.guest.kernel, '-initrd', self.guest.initramfs,
             '-append', self.guest.cmdline],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE)
        self.addCleanup(self._stop, proc)
        return proc

    @staticmethod
    def _stop(proc):
        if proc.stderr.closed:
            return
        if proc.poll() is None:
            proc.kill()
        proc.communicate()
        proc.stderr.close()

    def _wait_for_beats(self, proc, console, count, deadline):
        beats = []
        while time.monotonic() < deadline and len(beats) < count:
            if proc.poll() is not None:
                self.fail('QEMU exited %s: %s' % (
                    proc.returncode, proc.stderr.read().decode()))
            time.sleep(0.1)
            try:
                with open(console, errors='replace') as f:
                    beats = lines.parse(f.read())
            except FileNotFoundError:
                pass   # QEMU has not opened it yet
        return beats

    def test_boots_to_heartbeats_within_budget(self):
        console = os.path.join(self.tmp, 'console.log')
        start = time.monotonic()
        proc = self._boot(console)
        beats = self._wait_for_beats(proc, console, 3, start + BOOT_BUDGET)
        self.assertEqual(3, len(beats[:3]),
                         'fewer than 3 heartbeats %.0f s after boot; console:'
                         ' %r' % (BOOT_BUDGET, open(console).read()[-2000:]))
        # A few more lines to see the rhythm.
        beats = self._wait_for_beats(proc, console, 12,
                                     time.monotonic() + 10)
        self.assertGreaterEqual(len(beats), 12)
        self.assertEqual(1, len({b.boot_id for b in beats}), beats)
        self.assertEqual(1, len({b.memsum for b in beats}), beats)
        self.assertEqual(list(range(len(beats))), [b.seq for b in beats])
        gaps = [b.uptime_ms - a.uptime_ms for a, b in zip(beats, beats[1:])]
        # On the 100 ms grid (uptime has a 10 ms resolution and wake-ups
        # jitter): never two lines bunched together; a loaded machine may
        # skip ticks, but not most of them.
        self.assertTrue(all(g >= 50 for g in gaps), gaps)
        self.assertLessEqual(sorted(gaps)[len(gaps) // 2], 200, gaps)

    def test_second_boot_has_a_new_boot_id(self):
        ids = []
        for n in range(2):
            console = os.path.join(self.tmp, 'console%d.log' % n)
            proc = self._boot(console)
            beats = self._wait_for_beats(proc, console, 1,
                                         time.monotonic() + BOOT_BUDGET)
            self.assertTrue(beats, open(console).read()[-2000:])
            ids.append(beats[0].boot_id)
            self._stop(proc)
        self.assertNotEqual(ids[0], ids[1])


class TestBuildCache(unittest.TestCase):

    def test_second_build_reuses_the_first(self):
        _require(self, shutil.which('apt-get') is not None, 'no apt-get')
        first = build.build()
        before = os.stat(first.kernel).st_mtime_ns, os.stat(
            first.initramfs).st_mtime_ns
        second = build.build()
        self.assertEqual(first, second)
        self.assertEqual(before, (os.stat(second.kernel).st_mtime_ns,
                                  os.stat(second.initramfs).st_mtime_ns))
