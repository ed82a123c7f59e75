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

"""Base class of integration tests: the shared host pair, reset per test."""

import os

from oslotest import base
import testtools.content

from xloud_harness import hosts
from xloud_nova_ext.tests import requirements

try:
    import libvirt
except ImportError:  # reported by setUp
    libvirt = None
else:
    # libvirt prints every error to stderr by default; tests see them as
    # exceptions already.
    libvirt.registerErrorHandler(lambda _ctx, _err: None, None)

COMMANDS = ('libvirtd', 'qemu-system-x86_64', 'qemu-img', 'qemu-io',
            'swtpm', 'unshare', 'nsenter', 'taskset', 'losetup', 'mount',
            'ip', 'mkfs.ext4')


def check_requirements(test):
    """Skip (or, in CI, fail) ``test`` unless this machine can run hosts."""
    requirements.require(test, requirements.is_root(),
                         'integration hosts need root')
    missing = requirements.missing_commands(*COMMANDS)
    requirements.require(
        test, not missing, 'missing %s: run tools/install-debian-deps.sh'
        % ', '.join(missing))
    requirements.require(test, libvirt is not None,
                         'libvirt-python is not installed')


class IntegrationTestCase(base.BaseTestCase):
    """A test on the process-wide pair of hosts ``self.a`` and ``self.b``.

    The pair is brought up by the first test that needs it and torn down
    when the test process exits; after every test it is reset
    (HostPair.reset), so a test may leave guests, secrets, images, small
    filesystems or an edited capability cache behind.
    """

    def setUp(self):
        super().setUp()
        check_requirements(self)
        self.pair = hosts.shared_pair()
        self.a, self.b = self.pair.a, self.pair.b
        self.addCleanup(self._reset_pair)
        self.addOnException(self._attach_logs)

    def _reset_pair(self):
        try:
            self.pair.reset()
        except Exception:
            # Do not hand a broken pair to the next test: it gets a new one.
            self.pair.down()
            raise

    def _attach_logs(self, _exc_info):
        for host in self.pair.hosts:
            log_dir = host.real_path('/var/log/libvirt')
            for dirpath, _dirs, files in os.walk(log_dir):
                for name in sorted(files):
                    path = os.path.join(dirpath, name)
                    self.addDetail(
                        '%s:%s' % (host.name, path[len(host.root):]),
                        testtools.content.content_from_file(
                            path, buffer_now=True))

    def open(self, host):
        """A connection to ``host``, closed at the end of the test."""
        conn = host.open()
        self.addCleanup(_close_quietly, conn)
        return conn


def _close_quietly(conn):
    try:
        conn.close()
    except libvirt.libvirtError:
        pass  # its libvirtd was restarted or stopped by the test
