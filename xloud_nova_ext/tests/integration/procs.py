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

"""Commands and processes: run, find by namespace, stop for good."""

import os
import signal
import subprocess
import time


class CommandError(Exception):
    def __init__(self, argv, returncode, stdout, stderr):
        self.argv = argv
        self.returncode = returncode
        self.stdout = stdout
        self.stderr = stderr
        super().__init__('%s exited %s: %s' % (
            ' '.join(argv), returncode, (stderr or stdout or '').strip()))


def run(argv, check=True, timeout=120, input=None):
    """Run ``argv`` and return its CompletedProcess (text output captured).

    Output is always captured: under stestr our stdout is the subunit
    stream, and a child writing to it would corrupt the results.
    """
    argv = [str(a) for a in argv]
    proc = subprocess.run(argv, input=input, capture_output=True, text=True,
                          timeout=timeout, stdin=None if input is not None
                          else subprocess.DEVNULL)
    if check and proc.returncode != 0:
        raise CommandError(argv, proc.returncode, proc.stdout, proc.stderr)
    return proc


def read_pid(path):
    """The pid in pid file ``path``, or None if there is none."""
    try:
        with open(path) as f:
            return int(f.read().split()[0])
    except (OSError, ValueError, IndexError):
        return None


def _stat_fields(pid):
    with open('/proc/%d/stat' % pid) as f:
        # The command name is in parentheses and may hold spaces.
        return f.read().rsplit(')', 1)[1].split()


def alive(pid):
    """True if ``pid`` runs; a zombie counts as gone."""
    try:
        return _stat_fields(pid)[0] != 'Z'
    except (OSError, IndexError):
        return False


def start_time(pid):
    """The start time of ``pid`` in clock ticks (tells reused pids apart)."""
    try:
        return int(_stat_fields(pid)[19])
    except (OSError, IndexError, ValueError):
        return None


def comm(pid):
    try:
        with open('/proc/%d/comm' % pid) as f:
            return f.read().strip()
    except OSError:
        return None


def ns_inode(path):
    """The inode of the namespace file ``path`` (or /proc/PID/ns/KIND)."""
    try:
        return os.stat(path).st_ino
    except OSError:
        return None


def all_pids():
    return [int(d) for d in os.listdir('/proc') if d.isdigit()]


def pids_in_namespaces(inodes):
    """Pids of live processes that are in any namespace of ``inodes``."""
    inodes = set(i for i in inodes if i)
    found = []
    if not inodes:
        return found
    for pid in all_pids():
        for kind in ('net', 'mnt', 'uts'):
            if ns_inode('/proc/%d/ns/%s' % (pid, kind)) in inodes:
                if alive(pid):
                    found.append(pid)
                break
    return found


def pids_with_bind(target, source_tail):
    """Pids in other mount namespaces that have ``source_tail`` on ``target``.

    ``source_tail`` is the end of the bound directory's path (mountinfo
    gives it relative to its filesystem, plus ``//deleted`` once it is
    removed). This finds a host's processes even when its namespace files
    are gone.
    """
    ours = ns_inode('/proc/self/ns/mnt')
    found = []
    for pid in all_pids():
        if ns_inode('/proc/%d/ns/mnt' % pid) in (ours, None):
            continue
        try:
            with open('/proc/%d/mountinfo' % pid) as f:
                lines = f.readlines()
        except OSError:
            continue
        for line in lines:
            fields = line.split()
            root = fields[3]
            if root.endswith('//deleted'):
                root = root[:-len('//deleted')]
            if fields[4] == target and root.endswith(source_tail):
                if alive(pid):
                    found.append(pid)
                break
    return found


def wait_gone(pids, timeout):
    deadline = time.monotonic() + timeout
    left = [p for p in pids if alive(p)]
    while left and time.monotonic() < deadline:
        time.sleep(0.02)
        left = [p for p in left if alive(p)]
    return left


def signal_all(pids, sig):
    for pid in pids:
        try:
            os.kill(pid, sig)
        except ProcessLookupError:
            pass


def stop(pids, grace=10.0):
    """SIGTERM ``pids``, SIGKILL what is left after ``grace`` seconds.

    Returns the pids still running after that (normally none).
    """
    signal_all(pids, signal.SIGTERM)
    left = wait_gone(pids, grace)
    if left:
        signal_all(left, signal.SIGKILL)
        left = wait_gone(left, 10.0)
    return left
