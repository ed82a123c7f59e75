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

"""mount_small_fs(): a small filesystem that only one host sees."""

import os

from xloud_harness import guests
from xloud_harness import hosts

from xloud_nova_ext.tests.integration import base

try:
    import libvirt
except ImportError:  # base.IntegrationTestCase reports it
    libvirt = None

IMAGES = '/var/lib/libvirt/images'


def fs_size(host, path):
    """Size in bytes of the filesystem at ``path`` as ``host`` sees it."""
    out = host.run(['stat', '--file-system', '--format', '%b %S', path])
    blocks, block_size = out.stdout.split()
    return int(blocks) * int(block_size)


class SmallFsTest(base.IntegrationTestCase):

    def test_small_fs_is_seen_by_one_host_only(self):
        """B and the test process see the small filesystem; A does not."""
        fs = hosts.mount_small_fs(self.b, IMAGES, 32)

        self.assertLessEqual(fs_size(self.b, IMAGES), 32 * 1024 * 1024)
        self.assertGreater(fs_size(self.a, IMAGES), 32 * 1024 * 1024)
        here = os.statvfs(fs.real_path)
        self.assertEqual(fs_size(self.b, IMAGES),
                         here.f_blocks * here.f_frsize)
        self.b.run(['touch', IMAGES + '/on-b'])
        self.assertTrue(os.path.exists(self.b.real_path(IMAGES + '/on-b')))
        self.assertFalse(os.path.exists(self.a.real_path(IMAGES + '/on-b')))

        fs.umount()

        self.assertGreater(fs_size(self.b, IMAGES), 32 * 1024 * 1024)

    def test_block_migration_into_full_fs_fails(self):
        """QEMU on B writes into B's small filesystem and runs out of room."""
        hosts.mount_small_fs(self.b, IMAGES, 16)
        disk = IMAGES + '/full-guest.qcow2'
        self.a.run(['qemu-img', 'create', '-f', 'qcow2', disk, '64M'])
        self.a.run(guests.qemu_io_argv(disk, ['write -P 0x5a 0 32M']))
        self.b.run(['qemu-img', 'create', '-f', 'qcow2', disk, '64M'])
        src = self.open(self.a)
        dom = guests.start_guest(src, guests.domain_xml('full-guest',
                                                        disk=disk))

        error = self.assertRaises(libvirt.libvirtError, guests.live_migrate,
                                  dom, self.b, block='incremental')

        self.assertIn('No space left on device', str(error))
        self.assertEqual(libvirt.VIR_DOMAIN_RUNNING, dom.state()[0])
        self.assertRaises(libvirt.libvirtError,
                          self.open(self.b).lookupByName, 'full-guest')
