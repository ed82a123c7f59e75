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


"""Child processes of the embedded cloud: start, wait for ready, stop.

Each service of the embedded cloud (keystone, Barbican, nova, a network
stub) is a child process bound to 127.0.0.1 with its own log file. A service
that fails to start, or whose port is taken, is reported with its name, port
and log, so the operator knows where to look.
"""

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request


class ServiceError(Exception):
    """A service of the embedded cloud could not start or answer."""


def free_port():
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        return s.getsockname()[1]


def port_taken(port):
    with socket.socket() as s:
        return s.connect_ex(('127.0.0.1', port)) == 0


class Service:
    """One child process serving HTTP on 127.0.0.1:``port``."""

    def __init__(self, name, argv, port, log_path, ready_url, env=None,
                 timeout=60.0):
        self.name = name
        self.argv = argv
        self.port = port
        self.log_path = log_path
        self.ready_url = ready_url
        self.env = env
        self.timeout = timeout
        self.proc = None

    def _fail(self, why):
        tail = ''
        try:
            with open(self.log_path, errors='replace') as f:
                tail = ''.join(f.readlines()[-15:])
        except OSError:
            pass
        raise ServiceError(
            '%s on 127.0.0.1:%d %s; log: %s%s' % (
                self.name, self.port, why, self.log_path,
                ('\n--- last lines ---\n' + tail) if tail else ''))

    def start(self):
        if port_taken(self.port):
            raise ServiceError('%s cannot start: port 127.0.0.1:%d is taken '
                               'by another process' % (self.name, self.port))
        log = open(self.log_path, 'ab')
        # A session of its own: stopping it stops its children too.
        self.proc = subprocess.Popen(
            self.argv, stdout=log, stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL, env=self.env, start_new_session=True)
        log.close()
        deadline = time.monotonic() + self.timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                self._fail('exited with status %s while starting'
                           % self.proc.returncode)
            try:
                with urllib.request.urlopen(self.ready_url, timeout=2):
                    return self
            except urllib.error.HTTPError:
                return self  # it answers HTTP: that is ready enough
            except (urllib.error.URLError, OSError):
                time.sleep(0.2)
        self.stop()
        self._fail('did not answer %s within %ds' % (self.ready_url,
                                                     self.timeout))

    def stop(self, grace=10.0):
        if not self.proc or self.proc.poll() is not None:
            return
        try:
            os.killpg(self.proc.pid, signal.SIGTERM)
            self.proc.wait(grace)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait()
        except ProcessLookupError:
            pass


def python_argv(module, *args):
    """Run ``module`` with this interpreter (the same virtualenv)."""
    return [sys.executable, '-m', module] + [str(a) for a in args]
