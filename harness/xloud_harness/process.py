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

"""Commands and processes: run, supervise, find by namespace, stop for good.

:class:`Service` is the one supervisor of the servers the harness and the
embedded cloud start (keystone, Barbican, nova, stubs): a child process in a
session of its own, with its own log, ready once it answers HTTP, reported
with its name, address and log when it does not.
"""

import os
import signal
import socket
import subprocess
import sys
import urllib.error
import urllib.request

from xloud_harness import poll


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
    """Wait up to ``timeout`` s for ``pids`` to exit; return those left."""
    left = list(pids)

    def gone():
        left[:] = [p for p in left if alive(p)]
        return not left

    try:
        poll.wait_until(gone, timeout, 0.02, what='exit of %s' % pids)
    except poll.WaitTimeout:
        pass
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


_STOP_SIGNALS = {signal.SIGINT, signal.SIGTERM, signal.SIGHUP}


def start_child(argv, record, **kwargs):
    """``subprocess.Popen(argv, **kwargs)``, handed to ``record`` at once.

    A stop signal (Ctrl-C's KeyboardInterrupt) that arrives inside Popen,
    after the fork, would lose the child: running, in a session of its own,
    with nobody left to stop it. So stop signals wait until ``record(proc)``
    has returned; the child gets them back before it runs ``argv``.
    """
    old = signal.pthread_sigmask(signal.SIG_BLOCK, _STOP_SIGNALS)
    try:
        proc = subprocess.Popen(
            argv, preexec_fn=lambda: signal.pthread_sigmask(
                signal.SIG_SETMASK, old), **kwargs)
        record(proc)
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, old)
    return proc


class ServiceError(Exception):
    """A service could not start or answer."""


def free_port():
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        return s.getsockname()[1]


def port_taken(port, address='127.0.0.1'):
    with socket.socket() as s:
        return s.connect_ex((address, port)) == 0


def python_argv(module, *args):
    """Run ``module`` with this interpreter (the same virtualenv)."""
    return [sys.executable, '-m', module] + [str(a) for a in args]


class Service:
    """One child process serving HTTP on ``address`` (127.0.0.1 by default).

    ``port`` is the port it serves; with ``port_file`` instead, the child
    binds a free port itself and writes it there (no race between parallel
    test workers). Ready when ``ready_path`` answers HTTP, any status.
    """

    def __init__(self, name, argv, log_path, port=None, port_file=None,
                 ready_path='/', env=None, cwd=None, timeout=60.0,
                 address='127.0.0.1'):
        self.name = name
        self.address = address
        self.argv = argv
        self.port = port
        self.port_file = port_file
        self.log_path = log_path
        self.ready_path = ready_path
        self.env = env
        self.cwd = cwd
        self.timeout = timeout
        self.proc = None

    @property
    def url(self):
        return 'http://%s:%d' % (self.address, self.port)

    @property
    def running(self):
        return self.proc is not None and self.proc.poll() is None

    def _where(self):
        return ('on %s:%d' % (self.address, self.port)) if self.port else ''

    def _error(self, why):
        tail = ''
        try:
            with open(self.log_path, errors='replace') as f:
                tail = ''.join(f.readlines()[-15:])
        except OSError:
            pass
        return ServiceError('%s %s %s; log: %s%s' % (
            self.name, self._where(), why, self.log_path,
            ('\n--- last lines ---\n' + tail) if tail else ''))

    def start(self):
        if self.port and port_taken(self.port, self.address):
            raise ServiceError('%s cannot start: port %s:%d is taken '
                               'by another process' % (
                                   self.name, self.address, self.port))
        with open(self.log_path, 'ab') as log:
            # A session of its own: stopping it stops its children too.
            start_child(self.argv, lambda proc: setattr(self, 'proc', proc),
                        stdout=log, stderr=subprocess.STDOUT,
                        stdin=subprocess.DEVNULL, env=self.env, cwd=self.cwd,
                        start_new_session=True)
        try:
            poll.wait_until(self._answers, self.timeout, 0.05,
                            what='%s answering HTTP' % self.name)
        except poll.WaitTimeout:
            self.stop()
            raise self._error('did not answer %s within %ds' % (
                self.url + self.ready_path if self.port else self.port_file,
                self.timeout))
        except BaseException:
            self.stop()
            raise
        return self

    def _answers(self):
        if self.proc.poll() is not None:
            raise self._error('exited with status %s while starting'
                              % self.proc.returncode)
        if not self.port:
            self.port = read_pid(self.port_file)  # one number, as a pid
            if not self.port:
                return False
        try:
            with urllib.request.urlopen(self.url + self.ready_path,
                                        timeout=2):
                return True
        except urllib.error.HTTPError:
            return True  # it answers HTTP: that is ready enough
        except (urllib.error.URLError, OSError):
            return False

    def stop(self, grace=10.0):
        """SIGTERM its session, SIGKILL after ``grace`` s; reap it."""
        if self.proc is not None:
            stop_session(self.proc, grace)


def stop_session(proc, grace=10.0):
    """Stop a child started with ``start_new_session=True``, and its own.

    SIGTERM to its whole process group, SIGKILL after ``grace`` seconds,
    then reap it; what else is left in the group is killed too. Its group
    is signalled only while the child is not reaped: until then its pid,
    which names the group, cannot be given to another process (on a busy
    machine pids come round again within minutes).
    """
    if proc.returncode is not None:
        return  # reaped already: its pid may be someone else's by now
    for sig in (signal.SIGTERM, signal.SIGKILL):
        try:
            os.killpg(proc.pid, sig)
        except ProcessLookupError:
            break
        try:
            poll.wait_until(lambda: _exited(proc.pid), grace, 0.02,
                            what='exit of %d' % proc.pid)
        except poll.WaitTimeout:
            continue
        try:
            # Its children may outlive it in its process group.
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        break
    proc.wait()


def _exited(pid):
    """True once child ``pid`` has exited; it stays unreaped."""
    return os.waitid(os.P_PID, pid, os.WEXITED | os.WNOHANG |
                     os.WNOWAIT) is not None
