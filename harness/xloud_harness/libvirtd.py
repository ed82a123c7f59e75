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

"""One libvirtd per host: its configuration, start and stop.

Each setting is there for a measured reason: QEMU runs
as root (else libvirt re-probes QEMU at every domain start, ~44 s), no
security driver or cgroups (none to be had here), stdio to files (no
virtlogd), and migration traffic on the host's own address.
"""

import os
import subprocess
import sys

from xloud_harness import poll
from xloud_harness import process

LIBVIRTD_CONF = '''\
# Integration host %(name)s (written by the xloud test harness).
listen_tls = 0
listen_tcp = 1
auth_tcp = "none"
auth_unix_rw = "none"
auth_unix_ro = "none"
host_uuid = "%(uuid)s"
log_outputs = "3:file:/var/log/libvirt/libvirtd.log"
'''

QEMU_CONF = '''\
# Integration host %(name)s (written by the xloud test harness).
user = "root"
group = "root"
security_driver = "none"
remember_owner = 0
stdio_handler = "file"
cgroup_controllers = [ ]
# QEMU shares the host's mount namespace: a filesystem mounted in the host
# (mount_small_fs) is then the one QEMU writes to.
namespaces = [ ]
swtpm_user = "root"
swtpm_group = "root"
migration_address = "%(ip)s"
migration_host = "%(ip)s"
'''

REAPER = os.path.join(os.path.dirname(os.path.abspath(__file__)),
                      'reaper.py')


def write_config(root, name, ip, uuid, hosts):
    """Write host ``name``'s config below its real directory ``root``.

    ``hosts`` is [(name, ip)] of every host, for its /etc/hosts.
    """
    values = {'name': name, 'ip': ip, 'uuid': uuid}
    etc = os.path.join(root, 'etc')
    with open(os.path.join(etc, 'libvirt', 'libvirtd.conf'), 'w') as f:
        f.write(LIBVIRTD_CONF % values)
    with open(os.path.join(etc, 'libvirt', 'qemu.conf'), 'w') as f:
        f.write(QEMU_CONF % values)
    with open(os.path.join(etc, 'hosts'), 'w') as f:
        f.write('127.0.0.1\tlocalhost\n')
        f.writelines('%s\t%s\n' % (h_ip, h_name) for h_name, h_ip in hosts)


class DaemonError(Exception):
    pass


class Daemon(object):
    """libvirtd of one host, started inside its namespaces.

    :param root: the host's real directory
    :param enter_argv: a callable returning the argv prefix that enters
        the host's namespaces
    """

    START_TIMEOUT = 30.0
    STOP_TIMEOUT = 15.0

    def __init__(self, root, enter_argv):
        self.root = root
        self.enter_argv = enter_argv
        self.pid_file = os.path.join(root, 'libvirtd.pid')
        self.socket = os.path.join(root, 'run', 'libvirt', 'libvirt-sock')
        self.stderr_log = os.path.join(root, 'var', 'log', 'libvirt',
                                       'libvirtd.stderr.log')
        self._reapers = []

    def pid(self):
        """libvirtd's pid if it runs, else None."""
        pid = process.read_pid(self.pid_file)
        if pid and process.alive(pid) and process.comm(pid) == 'libvirtd':
            return pid
        return None

    def start(self):
        """Start libvirtd and wait until it has written its pid and socket.

        Whether it answers is for the caller to find out (with a real
        client: a bare connect makes libvirtd log an error).
        """
        if self.pid():
            raise DaemonError('libvirtd already runs in %s' % self.root)
        argv = self.enter_argv() + [
            sys.executable, REAPER,
            # Pinned, or the QEMU capability cache is invalidated at every
            # start (CPUID leaf 0x1f differs per vCPU): 16 s instead of 0.07.
            'taskset', '-c', '0',
            'libvirtd', '--listen', '--pid-file', self.pid_file]
        with open(self.stderr_log, 'ab') as log:
            reaper = subprocess.Popen(
                argv, stdin=subprocess.DEVNULL, stdout=log, stderr=log,
                close_fds=True, start_new_session=True)
        self._reapers.append(reaper)

        def started():
            if self.pid() and os.path.exists(self.socket):
                return self.pid()
            if reaper.poll() is not None:
                raise self._not_started()
            return None

        try:
            return poll.wait_until(started, self.START_TIMEOUT, 0.01,
                                   what='libvirtd in ' + self.root)
        except poll.WaitTimeout:
            raise self._not_started()

    def _not_started(self):
        return DaemonError('libvirtd in %s did not start: %s'
                           % (self.root, self.log_tail()))

    def stop(self):
        """Stop libvirtd by its pid file; its guests keep running."""
        pid = self.pid()
        if pid and process.stop([pid], self.STOP_TIMEOUT):
            raise DaemonError('libvirtd %d in %s does not stop'
                              % (pid, self.root))
        self.reap()

    def reap(self, timeout=0):
        """Collect exited wrappers; with ``timeout``, wait for all of them.

        A wrapper lives on while a guest it adopted runs.
        """

        def all_exited():
            self._reapers = [r for r in self._reapers if r.poll() is None]
            return not self._reapers

        try:
            poll.wait_until(all_exited, timeout, 0.02,
                            what='exit of the libvirtd wrappers')
        except poll.WaitTimeout:
            pass
        return [r.pid for r in self._reapers]

    def log_tail(self, lines=20):
        tail = []
        for path in (self.stderr_log, os.path.join(
                self.root, 'var', 'log', 'libvirt', 'libvirtd.log')):
            try:
                with open(path, errors='replace') as f:
                    tail += f.read().splitlines()[-lines:]
            except OSError:
                pass
        return '\n'.join(tail) or '(no log)'
