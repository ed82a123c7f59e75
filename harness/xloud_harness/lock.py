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

"""The machine-wide lock that one pair of hosts holds for its whole life."""

import fcntl
import os
from xloud_harness import poll


class LockTimeout(Exception):
    pass


class MachineLock(object):
    """An exclusive flock on ``path``; the holder's pid is written in it.

    The descriptor is close-on-exec, so daemons we start never inherit the
    lock: it is released when the holding process dies, however it dies.
    """

    def __init__(self, path):
        self.path = path
        self._fd = None

    @property
    def held(self):
        return self._fd is not None

    def acquire(self, timeout):
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)

        def locked():
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                return True
            except BlockingIOError:
                return False

        try:
            poll.wait_until(locked, timeout, 0.2, what='lock ' + self.path)
        except poll.WaitTimeout:
            holder = os.pread(fd, 32, 0).decode(errors='replace')
            os.close(fd)
            raise LockTimeout(
                '%s is held by pid %s: another integration run is '
                'using the hosts' % (self.path, holder.strip()))
        os.ftruncate(fd, 0)
        os.pwrite(fd, b'%d\n' % os.getpid(), 0)
        self._fd = fd

    def release(self):
        if self._fd is not None:
            os.ftruncate(self._fd, 0)
            fcntl.flock(self._fd, fcntl.LOCK_UN)
            os.close(self._fd)
            self._fd = None
