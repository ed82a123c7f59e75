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

"""Block migration: a qcow2 disk on non-shared storage is copied."""

import os

from xloud_harness import guests

from xloud_nova_ext.tests.integration import base

try:
    import libvirt
except ImportError:  # base.IntegrationTestCase reports it
    libvirt = None

DISK = '/var/lib/libvirt/images/bm-guest.qcow2'
SIZE = '64M'
# Two distinct patterns at distinct offsets: a copy that moved nothing, or
# the wrong blocks, cannot pass.
PATTERNS = (('0x5a', '0', '8M'), ('0xa5', '32M', '16M'))


def write_commands():
    return ['write -P %s %s %s' % p for p in PATTERNS]


def read_commands():
    return ['read -P %s %s %s' % p for p in PATTERNS]


class BlockMigrationTest(base.IntegrationTestCase):

    def _make_disks(self):
        self.a.run(['qemu-img', 'create', '-f', 'qcow2', DISK, SIZE])
        self.a.run(guests.qemu_io_argv(DISK, write_commands()))
        # nova pre-creates the destination disk (empty, same size).
        self.b.run(['qemu-img', 'create', '-f', 'qcow2', DISK, SIZE])

    def test_block_migration_copies_qcow2_disk(self):
        """A guest's local qcow2 disk is copied from A to B."""
        self._make_disks()
        src_file, dst_file = self.a.real_path(DISK), self.b.real_path(DISK)
        # Same path inside both hosts, two different files: not shared.
        self.assertNotEqual(os.stat(src_file).st_ino,
                            os.stat(dst_file).st_ino)
        before = self.b.run(guests.qemu_io_argv(DISK, read_commands(), True),
                            check=False)
        self.assertNotEqual(0, before.returncode, before.stdout)

        src, dst = self.open(self.a), self.open(self.b)
        dom = guests.start_guest(src, guests.domain_xml('bm-guest',
                                                        disk=DISK))
        guests.live_migrate(dom, self.b, block='incremental')

        moved = dst.lookupByName('bm-guest')
        self.assertEqual(libvirt.VIR_DOMAIN_RUNNING, moved.state()[0])
        self.assertTrue(self.b.owns(self.b.qemu_pid('bm-guest')))
        self.assertRaises(libvirt.libvirtError, src.lookupByName, 'bm-guest')
        after = self.b.run(guests.qemu_io_argv(DISK, read_commands(), True),
                           check=False)
        self.assertEqual(0, after.returncode, after.stdout + after.stderr)
        moved.destroy()
        compare = self.b.run(['qemu-img', 'compare', '-f', 'qcow2',
                              '-F', 'qcow2', DISK, src_file], check=False)
        self.assertEqual(0, compare.returncode,
                         compare.stdout + compare.stderr)
