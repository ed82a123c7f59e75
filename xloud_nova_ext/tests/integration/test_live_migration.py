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

"""Live migration between the two real libvirt hosts."""

import time

from xloud_harness import guests
from xloud_harness import process

from xloud_nova_ext.tests.integration import base

try:
    import libvirt
except ImportError:  # base.IntegrationTestCase reports it
    libvirt = None


def cmdline(pid):
    with open('/proc/%d/cmdline' % pid, 'rb') as f:
        return f.read().decode().split('\0')


class LiveMigrationTest(base.IntegrationTestCase):

    def assertNoDomain(self, conn, name):
        error = self.assertRaises(libvirt.libvirtError,
                                  conn.lookupByName, name)
        self.assertEqual(libvirt.VIR_ERR_NO_DOMAIN, error.get_error_code())

    def test_live_migration_moves_guest_to_other_host(self):
        """A running TCG guest moves from host A to host B."""
        src, dst = self.open(self.a), self.open(self.b)
        dom = guests.start_guest(src, guests.domain_xml('lm-guest'))
        src_pid = self.a.qemu_pid('lm-guest')
        self.assertTrue(self.a.owns(src_pid))
        self.assertNoDomain(dst, 'lm-guest')

        guests.live_migrate(dom, self.b)

        moved = dst.lookupByName('lm-guest')
        self.assertEqual(dom.UUIDString(), moved.UUIDString())
        self.assertEqual((libvirt.VIR_DOMAIN_RUNNING,
                          libvirt.VIR_DOMAIN_RUNNING_MIGRATED),
                         tuple(moved.state()))
        self.assertTrue(moved.isPersistent())
        self.assertNoDomain(src, 'lm-guest')
        self.assertFalse(process.alive(src_pid))
        # The guest now runs in a QEMU inside B's namespaces that was
        # started to receive the migration stream.
        dst_pid = self.b.qemu_pid('lm-guest')
        self.assertIsNotNone(dst_pid)
        self.assertTrue(self.b.owns(dst_pid))
        self.assertFalse(self.a.owns(dst_pid))
        self.assertIn('-incoming', cmdline(dst_pid))

    def test_live_migrate_aborts_after_timeout(self):
        """A migration slower than its timeout is aborted; A keeps it."""
        disk = '/var/lib/libvirt/images/slow-guest.qcow2'
        self.a.run(['qemu-img', 'create', '-f', 'qcow2', disk, '64M'])
        self.a.run(guests.qemu_io_argv(disk, ['write -P 0x5a 0 16M']))
        self.b.run(['qemu-img', 'create', '-f', 'qcow2', disk, '64M'])
        dom = guests.start_guest(self.open(self.a), guests.domain_xml(
            'slow-guest', disk=disk))
        # 16 MiB of disk at 1 MiB/s: about 16 s without the timeout.
        slow = {libvirt.VIR_MIGRATE_PARAM_BANDWIDTH: 1}

        start = time.monotonic()
        self.assertRaises(guests.MigrationTimeout, guests.live_migrate, dom,
                          self.b, block='incremental', timeout=1.0,
                          params=slow)

        self.assertLess(time.monotonic() - start, 8.0)
        self.assertEqual(libvirt.VIR_DOMAIN_RUNNING, dom.state()[0])
        self.assertTrue(self.a.owns(self.a.qemu_pid('slow-guest')))
        self.assertNoDomain(self.open(self.b), 'slow-guest')
