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

"""The disk preflight's verdict against real block migrations.

Host B's instance directory is a small real filesystem (a loop device
mounted in B's mount namespace only). A guest on host A has a qcow2 disk
over a raw base image, laid out as nova lays it out. The source's disk
info comes from nova's own code run inside host A (qemu-img included) plus
our backing-image sizes; the destination's verdict comes from DiskGuard
itself, in this process, against the very filesystem B sees (the small
filesystem is mounted at B's real path here too). Then libvirt copies the
disk for real:

* "fits" (even with no headroom, a few MiB short of f_bavail): the real
  block migration succeeds and the data arrived;
* "does not fit" (a few MiB over what even root could write): DiskGuard
  refuses before anything exists on B, and the same migration done without
  it fails with "No space left on device" while the guest keeps running
  on A.

Not covered here: nova's control plane (the functional tier runs it).
"""

import json
import os
import shutil
import sys
import uuid

from nova import objects
from oslo_config import fixture as config_fixture

import nova.conf

from xloud_harness import guests
from xloud_harness import hosts
from xloud_harness import process

from xloud_nova_ext.disk import guard as guard_mod
from xloud_nova_ext.disk import space
from xloud_nova_ext import exception
from xloud_nova_ext.tests.integration import base

try:
    import libvirt
except ImportError:  # base.IntegrationTestCase reports it
    libvirt = None

CONF = nova.conf.CONF
MiB = 1 << 20
TOP = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__)))))

INSTANCES = '/var/lib/libvirt/images'
CACHE = INSTANCES + '/_base'
BASE = CACHE + '/b4se'
FS_MB = 96
VIRTUAL = '256M'
PATTERN = '0x5a'

#: Run inside host A: what its nova-compute sends to the destination.
SOURCE_DISK_INFO = r'''
import json, sys
sys.path.insert(0, %(top)r)
from nova import monkey_patch; monkey_patch.patch()
import nova.conf
nova.conf.CONF([], project='nova', default_config_files=[])
from xloud_nova_ext.disk import need, space
from xloud_nova_ext.tests.fixtures import disk as disk_fx
disks = disk_fx.nova_disk_info([(%(path)r, 'qcow2', 'vda')])
print(json.dumps(need.annotate(disks, %(cache)r, space.LocalFS.allocated)))
'''


class DiskPreflightTruthTest(base.IntegrationTestCase):

    def setUp(self):
        super().setUp()
        objects.register_all()
        self.small_fs = hosts.mount_small_fs(self.b, INSTANCES, FS_MB)
        conf = self.useFixture(config_fixture.Config(CONF))
        # The destination's nova-compute: its instances_path is B's small
        # filesystem. No headroom: the verdict alone must match reality.
        conf.config(instances_path=self.b.real_path(INSTANCES),
                    reserved_host_disk_mb=0, host=self.b.name)
        conf.config(disk_headroom_mb=0, group='xloud')
        self.uuid = str(uuid.uuid4())
        self.name = 'dp-%s' % self.uuid[:8]
        self.inst_dir = '%s/%s' % (INSTANCES, self.uuid)
        self.disk = self.inst_dir + '/disk'
        # HostPair.reset() empties A's image directory of files only.
        self.addCleanup(shutil.rmtree, self.a.real_path(self.inst_dir), True)
        self.addCleanup(shutil.rmtree, self.a.real_path(CACHE), True)
        self.dest = guard_mod.DiskGuard(None, CONF, fs=space.LocalFS())
        self.instance = objects.Instance(uuid=self.uuid)
        self.migrate_data = objects.LibvirtLiveMigrateData(
            block_migration=True, is_shared_instance_path=False,
            is_shared_block_storage=False, instance_relative_path=self.uuid)

    # Host A, as nova built the guest: a raw base image in the image
    # cache, a qcow2 overlay in the instance directory.

    def make_source(self, data_bytes):
        self.a.run(['mkdir', '-p', CACHE, self.inst_dir])
        self.a.run(['qemu-img', 'create', '-q', '-f', 'raw', BASE, '32M'])
        self.a.run(['qemu-io', '-f', 'raw', '-c', 'write -P 0x11 0 8M',
                    BASE])
        self.a.run(['qemu-img', 'create', '-q', '-f', 'qcow2', '-F', 'raw',
                    '-b', BASE, self.disk, VIRTUAL])
        self.a.run(guests.qemu_io_argv(
            self.disk, ['write -P %s 0 %d' % (PATTERN, data_bytes)]))

    def source_disk_info(self):
        """nova's disk info for the guest, computed inside host A."""
        code = SOURCE_DISK_INFO % {'top': TOP, 'path': self.disk,
                                   'cache': CACHE}
        out = self.a.run([sys.executable, '-c', code]).stdout
        disks = json.loads(out.strip().splitlines()[-1])
        self.assertEqual(self.disk, disks[0]['path'])
        self.assertEqual('b4se', disks[0]['backing_file'])
        self.assertEqual(os.stat(self.a.real_path(BASE)).st_blocks * 512,
                         disks[0]['xloud_backing_size'])
        return json.dumps(disks)

    def start_guest(self):
        conn = self.open(self.a)
        return conn, guests.start_guest(conn, guests.domain_xml(
            self.name, disk=self.disk, uuid=self.uuid))

    # Host B, as nova's pre_live_migration prepares it: the base image in
    # its cache, an empty overlay of the same size.

    def prepare_destination_as_nova_does(self):
        self.b.run(['mkdir', '-p', CACHE, self.inst_dir])
        # nova fetches the image and converts it to raw with qemu-img,
        # which writes the data, not the holes (as on the source). A plain
        # copy would write all 32 MiB: see the admin guide on the
        # copy-from-source fallback.
        process.run(['qemu-img', 'convert', '-f', 'raw', '-O', 'raw',
                     self.a.real_path(BASE), self.b.real_path(BASE)])
        self.b.run(['qemu-img', 'create', '-q', '-f', 'qcow2', '-F', 'raw',
                    '-b', BASE, self.disk, VIRTUAL])

    def destination_entries(self):
        root = self.b.real_path(INSTANCES)
        return sorted(set(os.listdir(root)) - {'lost+found'})

    def test_fits_and_the_real_block_migration_succeeds(self):
        free = space.LocalFS.free(self.b.real_path(INSTANCES))
        base_bytes = 8 * MiB + 4096
        # Leave 4 MiB for the overlay's qcow2 metadata and rounding.
        data = (free - base_bytes - 4 * MiB) // MiB * MiB
        self.make_source(data)
        disk_info = self.source_disk_info()

        with self.dest.pre_live_migration(self.instance, self.migrate_data,
                                          disk_info) as reservation:
            self.assertIsNotNone(reservation)
            self.assertLessEqual(reservation.total, free)
            self.assertGreater(reservation.total, free - 8 * MiB)
            self.prepare_destination_as_nova_does()
            _conn, dom = self.start_guest()
            guests.live_migrate(dom, self.b, block='incremental',
                                timeout=120)
        self.dest.post_live_migration_at_destination(self.instance)

        moved = self.open(self.b).lookupByUUIDString(self.uuid)
        self.assertEqual(libvirt.VIR_DOMAIN_RUNNING, moved.state()[0])
        moved.destroy()
        check = self.b.run(guests.qemu_io_argv(
            self.disk, ['read -P %s 0 %d' % (PATTERN, data)], True),
            check=False)
        self.assertEqual(0, check.returncode, check.stdout + check.stderr)
        self.assertEqual(0, len(self.dest.ledger))

    def test_does_not_fit_is_refused_and_would_really_fail(self):
        st = os.statvfs(self.b.real_path(INSTANCES))
        # Beyond even root's reserve (QEMU runs as root on these hosts).
        beyond = st.f_bfree * st.f_frsize + 4 * MiB
        self.make_source(beyond - 8 * MiB)
        disk_info = self.source_disk_info()
        conn, dom = self.start_guest()

        err = self.assertRaises(
            exception.InsufficientDisk, self.dest._reserve, self.instance,
            self.migrate_data, disk_info)
        self.assertIn('do not fit on host %s' % self.b.name, str(err))
        self.assertIn('backing image b4se (not in the image cache)',
                      str(err))
        # Refused before anything was created on B.
        self.assertEqual([], self.destination_entries())
        self.assertEqual(0, len(self.dest.ledger))

        # The same migration without the preflight.
        self.prepare_destination_as_nova_does()
        failure = self.assertRaises(libvirt.libvirtError,
                                    guests.live_migrate, dom, self.b,
                                    block='incremental', timeout=120)
        self.assertIn('No space left on device', str(failure))
        self.assertEqual(libvirt.VIR_DOMAIN_RUNNING,
                         conn.lookupByUUIDString(self.uuid).state()[0])
        self.assertEqual([], [d.UUIDString() for d in
                              self.open(self.b).listAllDomains()])
