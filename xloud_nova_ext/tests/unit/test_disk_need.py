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

"""What a copy needs, computed from nova's disk info of real images."""

import os

import fixtures
from nova.virt.libvirt import config as vconfig
from oslo_serialization import jsonutils

from xloud_harness import testing

from xloud_nova_ext.disk import need
from xloud_nova_ext.disk import space
from xloud_nova_ext import exception
from xloud_nova_ext.tests.fixtures import disk as disk_fx
from xloud_nova_ext.tests import requirements

MiB = disk_fx.MiB
GiB = disk_fx.GiB
HEADROOM = 8 * MiB


class RealImagesTestCase(testing.TestCase):
    """A source host's instance directory and image cache of real images.

    A qcow2 root disk over a raw base, a sparse raw ephemeral disk, a qcow2
    swap disk over its own base and a fully written config drive.
    """

    def setUp(self):
        super().setUp()
        missing = requirements.missing_commands('qemu-img', 'qemu-io')
        requirements.require(self, not missing,
                             'missing %s' % ', '.join(missing))
        self.src = self.useFixture(fixtures.TempDir()).path
        self.cache = os.path.join(self.src, '_base')
        self.inst = os.path.join(self.src, 'inst-1')
        os.makedirs(self.cache)
        os.makedirs(self.inst)
        mk = disk_fx.make_image
        self.base = mk(os.path.join(self.cache, 'f00dbase'), 'raw', 64 * MiB,
                       writes=[(0, 5 * MiB), (32 * MiB, 1 * MiB)])
        self.swap_base = mk(os.path.join(self.cache, 'swap_16'), 'raw',
                            16 * MiB, writes=[(0, 64 * 1024)])
        self.root = mk(os.path.join(self.inst, 'disk'), 'qcow2', 1 * GiB,
                       writes=[(1 * MiB, 3 * MiB)], backing=self.base)
        self.eph = mk(os.path.join(self.inst, 'disk.eph0'), 'raw', 64 * MiB,
                      writes=[(8 * MiB, 2 * MiB)])
        self.swap = mk(os.path.join(self.inst, 'disk.swap'), 'qcow2',
                       16 * MiB, writes=[(0, 1 * MiB)],
                       backing=self.swap_base)
        self.config = mk(os.path.join(self.inst, 'disk.config'), 'raw',
                         1 * MiB, writes=[(0, 1 * MiB)])
        self.disks = need.parse_disk_info(jsonutils.dumps(
            need.annotate(disk_fx.nova_disk_info([
                (self.root, 'qcow2', 'vda'), (self.eph, 'raw', 'vdb'),
                (self.swap, 'qcow2', 'vdc'), (self.config, 'raw', 'vdd'),
            ]), self.cache, space.LocalFS.allocated)))
        self.dest_inst = '/dest/instances/inst-1'
        self.dest_cache = '/dest/instances/_base'


class BlockMigrationNeedTest(RealImagesTestCase):

    def test_nova_reports_allocation_not_virtual_size(self):
        root, eph = self.disks[0], self.disks[1]
        self.assertEqual(1 * GiB, root['virt_disk_size'])
        self.assertEqual(disk_fx.allocated(self.root), root['disk_size'])
        # Only the top layer: 3 MiB of data plus qcow2 metadata.
        self.assertGreaterEqual(root['disk_size'], 3 * MiB)
        self.assertLess(root['disk_size'], 4 * MiB)
        self.assertEqual(64 * MiB, eph['virt_disk_size'])
        # The 2 MiB written, plus the first block qemu-img allocates.
        self.assertEqual(disk_fx.allocated(self.eph), eph['disk_size'])
        self.assertLessEqual(eph['disk_size'], 2 * MiB + 4096)

    def test_source_reports_backing_image_sizes(self):
        self.assertEqual(disk_fx.allocated(self.base),
                         self.disks[0][need.BACKING_SIZE_KEY])
        self.assertEqual(6 * MiB, self.disks[0][need.BACKING_SIZE_KEY])
        self.assertEqual(disk_fx.allocated(self.swap_base),
                         self.disks[2][need.BACKING_SIZE_KEY])
        self.assertNotIn(need.BACKING_SIZE_KEY, self.disks[1])

    def test_every_disk_plus_missing_bases_plus_headroom(self):
        result = need.block_migration_need(
            self.disks, self.dest_inst, self.dest_cache, HEADROOM,
            has_base=lambda path: False)
        files = (self.root, self.eph, self.swap, self.config,
                 self.base, self.swap_base)
        self.assertEqual(sum(disk_fx.allocated(f) for f in files) + HEADROOM,
                         result.total)
        self.assertEqual(
            [os.path.join(self.dest_inst, n) for n in
             ('disk', 'disk.eph0', 'disk.swap', 'disk.config')] +
            [os.path.join(self.dest_cache, n) for n in
             ('f00dbase', 'swap_16')],
            [path for path, _size in result.targets])

    def test_base_already_in_destination_cache_is_not_counted(self):
        result = need.block_migration_need(
            self.disks, self.dest_inst, self.dest_cache, HEADROOM,
            has_base=lambda path: path.endswith('/f00dbase'))
        self.assertEqual(
            sum(d['disk_size'] for d in self.disks) +
            disk_fx.allocated(self.swap_base) + HEADROOM, result.total)
        self.assertNotIn('f00dbase', result.describe())

    def test_describe_names_each_disk_with_exact_bytes(self):
        text = need.block_migration_need(
            self.disks, self.dest_inst, self.dest_cache, HEADROOM,
            lambda path: False).describe()
        self.assertIn('disk.config 1.0 MiB (1048576 bytes)', text)
        self.assertIn('disk.eph0 2.0 MiB (%d bytes)'
                      % disk_fx.allocated(self.eph), text)
        self.assertIn('backing image f00dbase (not in the image cache) '
                      '6.0 MiB (6291456 bytes)', text)
        self.assertIn('headroom 8.0 MiB (8388608 bytes)', text)

    def test_backing_chain_copies_only_the_top_layer(self):
        # disk -> mid.qcow2 -> base: libvirt's incremental copy writes the
        # top layer; the destination fetches the image for the cache.
        mid = disk_fx.make_image(os.path.join(self.cache, 'mid'), 'qcow2',
                                 1 * GiB, writes=[(10 * MiB, 8 * MiB)],
                                 backing=self.base)
        top = disk_fx.make_image(os.path.join(self.inst, 'disk.top'),
                                 'qcow2', 1 * GiB, writes=[(0, 1 * MiB)],
                                 backing=mid, backing_fmt='qcow2')
        disks = need.annotate(disk_fx.nova_disk_info([(top, 'qcow2', 'vda')]),
                              self.cache, space.LocalFS.allocated)
        self.assertEqual('mid', disks[0]['backing_file'])
        result = need.block_migration_need(disks, self.dest_inst,
                                           self.dest_cache, 0,
                                           lambda path: True)
        self.assertEqual(disk_fx.allocated(top), result.total)
        self.assertLess(result.total, 2 * MiB)

    def test_shared_base_is_counted_once(self):
        disks = [dict(self.disks[0]),
                 dict(self.disks[0], path='/x/disk.local')]
        result = need.block_migration_need(disks, self.dest_inst,
                                           self.dest_cache, 0,
                                           lambda path: False)
        self.assertEqual(2 * disks[0]['disk_size'] + 6 * MiB, result.total)


class ColdMigrationNeedTest(RealImagesTestCase):

    def _need(self, sparse):
        return need.cold_migration_need(
            self.disks, self.dest_inst, self.dest_cache, HEADROOM,
            has_base=lambda path: True, sparse=sparse,
            apparent=space.LocalFS.apparent)

    def test_rsync_writes_allocated_bytes_and_skips_swap(self):
        result = self._need(sparse=True)
        self.assertEqual(
            disk_fx.allocated(self.root) + disk_fx.allocated(self.eph) +
            1 * MiB + HEADROOM, result.total)
        self.assertNotIn('disk.swap', result.describe())

    def test_scp_writes_every_byte_of_a_sparse_file(self):
        result = self._need(sparse=False)
        self.assertEqual(
            os.path.getsize(self.root) + 64 * MiB + 1 * MiB + HEADROOM,
            result.total)

    def test_missing_base_is_counted_but_not_swap_base(self):
        result = need.cold_migration_need(
            self.disks, self.dest_inst, self.dest_cache, 0,
            has_base=lambda path: False, sparse=True,
            apparent=space.LocalFS.apparent)
        self.assertIn('f00dbase', result.describe())
        self.assertNotIn('swap_16', result.describe())


def _disk(**overrides):
    disk = {'type': 'qcow2', 'path': '/i/u/disk', 'virt_disk_size': GiB,
            'backing_file': 'abc', 'disk_size': 100 * MiB,
            'over_committed_disk_size': 0, need.BACKING_SIZE_KEY: 50 * MiB}
    disk.update(overrides)
    return disk


class ParseDiskInfoTest(testing.TestCase):

    def assertInvalid(self, text, detail):
        err = self.assertRaises(exception.DiskInfoInvalid,
                                need.parse_disk_info, text)
        self.assertIn(detail, str(err))
        self.assertEqual('xloud.disk.info_invalid', err.code)

    def test_absent(self):
        self.assertInvalid(None, 'sent no disk information')

    def test_not_json(self):
        self.assertInvalid('[{"path": ', 'not valid JSON')

    def test_not_a_list(self):
        self.assertInvalid('{"path": "/x"}', 'expected a list of disks')

    def test_not_an_object(self):
        self.assertInvalid('[42]', 'disk #0 is int')

    def test_missing_key(self):
        disk = _disk()
        del disk['disk_size']
        self.assertInvalid(jsonutils.dumps([disk]), 'lacks disk_size')

    def test_sizes_must_be_non_negative_integers(self):
        for bad in (-1, '100', 1.5, True, None):
            self.assertInvalid(jsonutils.dumps([_disk(disk_size=bad)]),
                               'disk_size of /i/u/disk is %r' % bad)

    def test_bad_backing_size(self):
        self.assertInvalid(
            jsonutils.dumps([_disk(**{need.BACKING_SIZE_KEY: -5})]),
            'xloud_backing_size of /i/u/disk is -5')

    def test_no_path(self):
        self.assertInvalid(jsonutils.dumps([_disk(path='/i/u/')]),
                           'no usable path')

    def test_valid_and_empty(self):
        self.assertEqual([], need.parse_disk_info('[]'))
        self.assertEqual([_disk()],
                         need.parse_disk_info(jsonutils.dumps([_disk()])))

    def test_unknown_backing_size_is_bounded_by_the_virtual_size(self):
        disks = [_disk(**{need.BACKING_SIZE_KEY: None}),
                 _disk(path='/i/u/disk.eph0', virt_disk_size=2 * GiB,
                       **{need.BACKING_SIZE_KEY: None})]
        bounded = need.block_migration_need(disks, '/d/u', '/d/_base', 0,
                                            lambda path: False)
        self.assertTrue(bounded.bounded)
        # Both disks plus the one image, at most as large as either disk.
        self.assertEqual(200 * MiB + 2 * GiB, bounded.total)
        self.assertIn('backing image abc (not in the image cache, size not '
                      'reported: at most the virtual size of disk, '
                      'disk.eph0)', bounded.describe())
        self.assertEqual(200 * MiB, bounded.lower().total)
        self.assertFalse(bounded.lower().bounded)
        present = need.block_migration_need(disks, '/d/u', '/d/_base', 0,
                                            lambda path: True)
        self.assertEqual(200 * MiB, present.total)
        self.assertFalse(present.bounded)

    def test_nova_without_our_key_is_bounded(self):
        # A source running stock nova sends no backing sizes.
        disks = [_disk()]
        del disks[0][need.BACKING_SIZE_KEY]
        bounded = need.block_migration_need(disks, '/d/u', '/d/_base', 0,
                                            lambda path: False)
        self.assertEqual(100 * MiB + GiB, bounded.total)
        self.assertTrue(bounded.bounded)

    def test_reported_sizes_count_once_per_image(self):
        disks = [_disk(), _disk(path='/i/u/disk.eph0')]
        counted = need.block_migration_need(disks, '/d/u', '/d/_base', 0,
                                            lambda path: False)
        self.assertEqual(250 * MiB, counted.total)
        self.assertFalse(counted.bounded)


class GuestDisksTest(testing.TestCase):

    def test_local_file_disks_without_volumes(self):
        xml = disk_fx.domain_xml([('/i/u/disk', 'qcow2', 'vda'),
                                  ('/mnt/nfs/volume-1', 'raw', 'vdb'),
                                  ('/i/u/disk.config', 'raw', 'sda')])
        xml = xml.replace(
            '</devices>',
            "<disk type='network' device='disk'><source protocol='rbd' "
            "name='pool/vol'/><target dev='vdc'/></disk>"
            "<disk type='block' device='disk'><source dev='/dev/sdx'/>"
            "<target dev='vdd'/></disk></devices>")
        # The guest's disks as nova's Guest API parses them.
        config = vconfig.LibvirtConfigGuest()
        config.parse_str(xml)
        disks = [d for d in config.devices
                 if isinstance(d, vconfig.LibvirtConfigGuestDisk)]
        self.assertEqual(['/i/u/disk', '/i/u/disk.config'],
                         need.local_disk_paths(disks, {'vdb'}))


class FormatTest(testing.TestCase):

    def test_fmt_bytes(self):
        self.assertEqual('0 bytes', need.fmt_bytes(0))
        self.assertEqual('1023 bytes', need.fmt_bytes(1023))
        self.assertEqual('1.0 KiB (1024 bytes)', need.fmt_bytes(1024))
        self.assertEqual('1.5 GiB (1610612736 bytes)',
                         need.fmt_bytes(1610612736))
        self.assertEqual('-2.0 MiB (-2097152 bytes)',
                         need.fmt_bytes(-2 * MiB))
