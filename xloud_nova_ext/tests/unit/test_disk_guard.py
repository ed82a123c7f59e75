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

"""DiskGuard: each hook's decision, on real images, without nova's driver."""

import os
import subprocess
import time

import fixtures
from nova.compute import task_states
from nova import exception as nova_exc
from nova import objects
from nova.virt.libvirt import guest as libvirt_guest
from oslo_concurrency import processutils
from oslo_config import fixture as config_fixture
from oslo_serialization import jsonutils

import nova.conf

from xloud_harness import testing

from xloud_nova_ext.disk import guard
from xloud_nova_ext.disk import need
from xloud_nova_ext import exception
from xloud_nova_ext.tests.fixtures import disk as disk_fx
from xloud_nova_ext.tests import requirements

CONF = nova.conf.CONF
MiB = disk_fx.MiB
GiB = disk_fx.GiB
UUID = '6a1c4a3e-0d0e-4a55-8d39-7e7f0c4b2f10'
HEADROOM_MB = 4


class FakeDomain(object):
    """A libvirt domain, reduced to its XML."""

    def __init__(self, xml):
        self.xml = xml

    def XMLDesc(self, flags):
        return self.xml


class FakeHost(object):
    """nova's libvirt Host, reduced to one guest (nova's own Guest class)."""

    def __init__(self, xml=None):
        self.xml = xml

    def get_guest(self, instance):
        return libvirt_guest.Guest(FakeDomain(self.xml))


class GuardTestCase(testing.TestCase):

    def setUp(self):
        super().setUp()
        objects.register_all()
        self.tmp = self.useFixture(fixtures.TempDir()).path
        self.instances = os.path.join(self.tmp, 'instances')
        self.cache = os.path.join(self.instances, '_base')
        os.makedirs(self.cache)
        self.logger = self.useFixture(fixtures.FakeLogger())
        self.conf = self.useFixture(config_fixture.Config(CONF))
        self.conf.config(instances_path=self.instances,
                         reserved_host_disk_mb=10, host='dest')
        self.conf.config(disk_headroom_mb=HEADROOM_MB, group='xloud')
        self.instance = objects.Instance(uuid=UUID, host='src')
        self.fs = disk_fx.FakeFS(free=1 * GiB)
        self.guard = guard.DiskGuard(FakeHost(), CONF, fs=self.fs)

    def migrate_data(self, **fields):
        values = dict(block_migration=True, is_shared_instance_path=False,
                      is_shared_block_storage=False,
                      instance_relative_path=self.instance.uuid)
        values.update(fields)
        return objects.LibvirtLiveMigrateData(**values)


class DestinationCheckTest(GuardTestCase):
    """The destination asks where nova reads no disk_available_mb."""

    def ask(self, **fields):
        data = self.migrate_data(disk_available_mb=99999, **fields)
        return self.guard.check_can_live_migrate_destination(self.instance,
                                                             data)

    def test_asks_the_source_from_microversion_2_25(self):
        # None: a value nova never sends, and a field nova does not read
        # without disk_over_commit.
        data = self.ask()
        self.assertIsNone(data.disk_available_mb)
        # nova's map of volume attachments stays nova's (it carried our
        # figure before).
        self.assertNotIn('old_vol_attachment_ids', data)
        # block_migration='auto': nova leaves the field unset.
        auto = objects.LibvirtLiveMigrateData(disk_available_mb=99999)
        self.assertIsNone(self.guard.check_can_live_migrate_destination(
            self.instance, auto).disk_available_mb)

    def test_below_2_25_novas_figure_keeps_its_meaning(self):
        # nova's own check on the source compares the disks with it.
        for over_commit in (True, False):
            self.assertEqual(99999, self.ask(
                disk_over_commit=over_commit).disk_available_mb)

    def test_asks_nothing_when_off_or_not_copying(self):
        self.assertEqual(99999, self.ask(
            block_migration=False).disk_available_mb)
        self.conf.config(block_migration_disk_preflight=False, group='xloud')
        self.assertEqual(99999, self.ask().disk_available_mb)

    def test_image_backends_without_files_are_exempt(self):
        # LVM and Ceph disks are not files in instances_path.
        for backend in guard.NON_FILE_BACKENDS:
            self.conf.config(images_type=backend, group='libvirt')
            self.assertEqual(99999, self.ask().disk_available_mb)

    def test_the_question_survives_nova_rpc(self):
        # What oslo.messaging carries, backported to what nova 34 peers
        # pin: the field exists since version 1.0 and is nullable.
        data = self.ask()
        for version in ('1.14', '1.0'):
            primitive = data.obj_to_primitive(target_version=version)
            back = objects.LibvirtLiveMigrateData.obj_from_primitive(
                primitive)
            self.assertIn('disk_available_mb', back)
            self.assertIsNone(back.disk_available_mb)


class PrecheckTest(GuardTestCase):
    """The destination judges the source's answer in the pre-check."""

    def answered(self, allocated_mb, **fields):
        data = self.migrate_data(disk_available_mb=99999, **fields)
        self.guard.check_can_live_migrate_destination(self.instance, data)
        if data.disk_available_mb is None:  # asked: the source answers
            data.disk_available_mb = allocated_mb
        self.guard.check_source_migrate_data_at_dest(self.instance, data)
        return data

    def test_novas_figure_is_never_taken_for_an_answer(self):
        # The question was not asked here (this step failed, or the
        # preflight was off then): the field holds nova's figure.
        self.fs.free_bytes = 0
        data = self.migrate_data(disk_available_mb=99999)
        self.guard.check_source_migrate_data_at_dest(self.instance, data)
        self.assertEqual(99999, data.disk_available_mb)

    def test_a_question_is_answered_once(self):
        self.answered(1)
        self.fs.free_bytes = 0
        data = self.migrate_data(disk_available_mb=99999)
        self.guard.check_source_migrate_data_at_dest(self.instance, data)

    def test_refuses_when_the_disks_alone_do_not_fit_here(self):
        # 1 GiB free less 10 MiB reserved; the disks plus headroom need
        # one MiB more.
        err = self.assertRaises(exception.InsufficientDisk, self.answered,
                                1024 - 10 - HEADROOM_MB + 1)
        self.assertIn('do not fit on host dest', str(err))
        self.assertIn("Needed: the source's disks 1011.0 MiB", str(err))
        self.assertIn('less reserved_host_disk_mb 10.0 MiB', str(err))

    def test_fits_and_no_size_of_ours_travels_on(self):
        data = self.answered(1024 - 10 - HEADROOM_MB)
        self.assertIsNone(data.disk_available_mb)

    def test_counts_the_block_migrations_in_flight_here(self):
        self.guard.ledger.reserve('other', [('/x', 300 * MiB)], 0,
                                  lambda *a: None, self.fs.allocated)
        self.answered(1024 - 10 - 300 - HEADROOM_MB)
        self.assertRaises(exception.InsufficientDisk, self.answered,
                          1024 - 10 - 300 - HEADROOM_MB + 1)

    def test_no_answer_is_left_to_pre_live_migration(self):
        # A stock source (or ours with the preflight off) leaves the None.
        self.fs.free_bytes = 0
        self.assertIsNone(self.answered(None).disk_available_mb)

    def test_below_2_25_novas_figure_is_not_an_answer(self):
        self.fs.free_bytes = 0
        data = self.answered(99999, disk_over_commit=False)
        self.assertEqual(99999, data.disk_available_mb)

    def test_not_copying_is_not_judged(self):
        self.fs.free_bytes = 0
        self.answered(99999, block_migration=False)
        self.answered(99999, is_shared_instance_path=True)

    def test_unreadable_instances_path_is_left_to_pre_live_migration(self):
        # pre_live_migration refuses it before anything is copied.
        self.guard.fs.free = lambda path: os.statvfs(path + '/missing')
        self.answered(1)
        self.assertIn('statvfs', self.logger.output)


class RealDisksTestCase(GuardTestCase):
    """A guest with a qcow2 root disk over a base and a raw ephemeral."""

    def setUp(self):
        super().setUp()
        missing = requirements.missing_commands('qemu-img', 'qemu-io')
        requirements.require(self, not missing,
                             'missing %s' % ', '.join(missing))
        inst = os.path.join(self.instances, UUID)
        os.makedirs(inst)
        self.base = disk_fx.make_image(os.path.join(self.cache, 'b4se'),
                                       'raw', 32 * MiB,
                                       writes=[(0, 4 * MiB)])
        self.root = disk_fx.make_image(os.path.join(inst, 'disk'), 'qcow2',
                                       1 * GiB, writes=[(0, 6 * MiB)],
                                       backing=self.base)
        self.eph = disk_fx.make_image(os.path.join(inst, 'disk.eph0'), 'raw',
                                      64 * MiB, writes=[(0, 2 * MiB)])
        self.disks = [(self.root, 'qcow2', 'vda'), (self.eph, 'raw', 'vdb')]
        self.guard = guard.DiskGuard(
            FakeHost(disk_fx.domain_xml(self.disks)), CONF,
            fs=guard.space.LocalFS())
        self.allocated = (disk_fx.allocated(self.root) +
                          disk_fx.allocated(self.eph))

    def disk_info(self):
        return self.guard.get_instance_disk_info(
            jsonutils.dumps(disk_fx.nova_disk_info(self.disks)))


class SourceCheckTest(RealDisksTestCase):
    """The source answers the question with its disks' allocated MiB."""

    def check(self, asked=True, bdi=None, **fields):
        data = self.migrate_data(**fields)
        data.disk_available_mb = None if asked else 84 * 1024
        self.guard.check_can_live_migrate_source(self.instance, data, bdi)
        return data.disk_available_mb

    def test_answers_with_the_allocated_mib_rounded_down(self):
        self.assertEqual(self.allocated // MiB, self.check())

    def test_stock_destination_is_not_answered(self):
        # Its disk_available_mb is nova's figure (from the last periodic
        # update, over-committed): not a question, and not ours to judge.
        self.assertEqual(84 * 1024, self.check(asked=False))

    def test_below_2_25_not_answered(self):
        self.assertIsNone(self.check(disk_over_commit=True))

    def test_not_a_block_migration(self):
        self.assertIsNone(self.check(block_migration=False))
        self.assertIsNone(self.check(is_shared_block_storage=True))

    def test_volumes_are_not_counted(self):
        bdi = {'block_device_mapping': [{'mount_device': '/dev/vda'}]}
        self.assertEqual(disk_fx.allocated(self.eph) // MiB,
                         self.check(bdi=bdi))

    def test_own_failure_leaves_the_destination_to_decide(self):
        self.guard._host = None  # any failure reading the guest's disks
        self.assertIsNone(self.check())
        self.assertIn('The disk preflight could not measure the disks of '
                      'the block migration', self.logger.output)


class ReservationTest(RealDisksTestCase):

    def setUp(self):
        super().setUp()
        self.dest_fs = disk_fx.FakeFS(free=1 * GiB)
        self.dest = guard.DiskGuard(FakeHost(), CONF, fs=self.dest_fs)
        self.needed = (self.allocated + disk_fx.allocated(self.base) +
                       HEADROOM_MB * MiB)
        self.ran = []

    def reserve(self, disk_info=None, **fields):
        with self.dest.pre_live_migration(
                self.instance, self.migrate_data(**fields),
                disk_info or self.disk_info()):
            self.ran.append('nova pre_live_migration')

    def test_refused_before_nova_creates_anything(self):
        self.dest_fs.free_bytes = self.needed + 10 * MiB - 1
        err = self.assertRaises(exception.InsufficientDisk, self.reserve)
        self.assertEqual([], self.ran)
        self.assertEqual(0, len(self.dest.ledger))
        self.assertIn('do not fit on host dest', str(err))
        self.assertIn('backing image b4se (not in the image cache)',
                      str(err))

    def test_fits_exactly_and_stays_reserved(self):
        self.dest_fs.free_bytes = self.needed + 10 * MiB
        self.reserve()
        self.assertEqual(['nova pre_live_migration'], self.ran)
        self.assertEqual(self.needed,
                         self.dest.ledger.snapshot()[UUID].total)
        self.dest.post_live_migration_at_destination(self.instance)
        self.assertEqual(0, len(self.dest.ledger))

    def test_base_in_destination_cache_is_not_needed(self):
        self.dest_fs.add(os.path.join(self.cache, 'b4se'), 1)
        self.dest_fs.free_bytes = (self.needed + 10 * MiB -
                                   disk_fx.allocated(self.base))
        self.reserve()
        self.assertEqual(self.needed - disk_fx.allocated(self.base),
                         self.dest.ledger.snapshot()[UUID].total)

    def test_unreadable_instances_path_refuses_the_block_migration(self):
        self.dest_fs.free = lambda path: os.statvfs(path + '/missing')
        err = self.assertRaises(exception.DiskSpaceUnknown, self.reserve)
        self.assertIn('host dest', str(err))
        self.assertEqual([], self.ran)
        self.assertEqual(0, len(self.dest.ledger))

    def test_failure_after_the_reservation_releases_it(self):
        def boom():
            with self.dest.pre_live_migration(
                    self.instance, self.migrate_data(), self.disk_info()):
                raise nova_exc.DestinationDiskExists(path='/x')
        self.assertRaises(nova_exc.DestinationDiskExists, boom)
        self.assertEqual(0, len(self.dest.ledger))

    def test_second_migration_sees_the_first(self):
        self.dest_fs.free_bytes = 2 * self.needed + 10 * MiB - 1
        self.reserve()
        self.instance = objects.Instance(uuid=UUID.replace('6', '7'))
        self.assertRaises(exception.InsufficientDisk, self.reserve)
        self.assertEqual(1, len(self.dest.ledger))

    def test_no_copy_no_check(self):
        self.dest_fs.free_bytes = 0
        self.reserve(block_migration=False)
        self.assertEqual(['nova pre_live_migration'], self.ran)
        self.assertEqual(0, len(self.dest.ledger))
        self.reserve(is_shared_instance_path=True)
        self.reserve(is_shared_block_storage=True)
        self.assertEqual(0, len(self.dest.ledger))

    def test_bad_disk_info_is_refused(self):
        self.assertRaises(exception.DiskInfoInvalid, self.reserve, '{}')
        self.assertRaises(exception.DiskInfoInvalid, self.reserve,
                          'not json')
        self.assertEqual([], self.ran)

    def test_absent_disk_info_is_refused(self):
        self.assertRaises(exception.DiskInfoInvalid, self.dest._reserve,
                          self.instance, self.migrate_data(), None)

    def stock_info(self):
        """The disk info of a stock nova source: no backing-image sizes."""
        return jsonutils.dumps(disk_fx.nova_disk_info(self.disks))

    def test_stock_source_is_judged_on_the_virtual_size(self):
        # The base image is bounded by the virtual size of the disk over it.
        bound = self.allocated + 1 * GiB + HEADROOM_MB * MiB
        self.dest_fs.free_bytes = bound + 10 * MiB
        self.reserve(self.stock_info())
        self.assertEqual(bound, self.dest.ledger.snapshot()[UUID].total)

    def test_stock_source_that_may_fit_proceeds_with_a_warning(self):
        # Never refused for what the source did not say: the bound does not
        # fit, what is known does; nova proceeds as stock nova would.
        self.dest_fs.free_bytes = self.needed + 10 * MiB
        self.reserve(self.stock_info())
        self.assertEqual(['nova pre_live_migration'], self.ran)
        self.assertEqual(self.allocated + HEADROOM_MB * MiB,
                         self.dest.ledger.snapshot()[UUID].total)
        self.assertIn('Cannot tell whether the block migration fits on '
                      'host dest', self.logger.output)

    def test_stock_source_that_cannot_fit_is_refused(self):
        self.dest_fs.free_bytes = (self.allocated + HEADROOM_MB * MiB +
                                   10 * MiB - 1)
        self.assertRaises(exception.InsufficientDisk, self.reserve,
                          self.stock_info())
        self.assertEqual([], self.ran)

    def test_image_backends_without_files_are_exempt(self):
        self.dest_fs.free_bytes = 0
        for backend in guard.NON_FILE_BACKENDS:
            self.conf.config(images_type=backend, group='libvirt')
            self.reserve()
        self.assertEqual(0, len(self.dest.ledger))
        self.conf.config(images_type='raw', group='libvirt')
        self.assertRaises(exception.InsufficientDisk, self.reserve)

    def test_own_failure_proceeds_without_a_reservation(self):
        self.dest_fs.exists = None  # any failure of the preflight itself
        self.dest_fs.free_bytes = 0
        self.reserve()
        self.assertEqual(['nova pre_live_migration'], self.ran)
        self.assertEqual(0, len(self.dest.ledger))
        self.assertIn('could not check the block migration',
                      self.logger.output)

    def test_prune_drops_reservations_of_migrations_that_ended(self):
        self.reserve()
        instance = objects.Instance(uuid=UUID, host='src', task_state=None)
        # The edge: nova's database, which a unit test does not run.
        get = self.useFixture(fixtures.MockPatch(
            'nova.objects.Instance.get_by_uuid', return_value=instance))
        instance.task_state = task_states.MIGRATING
        self.dest.update_available_resource()
        self.assertEqual(1, len(self.dest.ledger))
        instance.host = 'dest'  # the migration completed
        self.dest.update_available_resource()
        self.assertEqual(0, len(self.dest.ledger))
        self.reserve()
        get.mock.side_effect = nova_exc.InstanceNotFound(instance_id=UUID)
        self.dest.update_available_resource()
        self.assertEqual(0, len(self.dest.ledger))

    def test_prune_keeps_reservations_when_the_database_fails(self):
        self.reserve()
        self.useFixture(fixtures.MockPatch(
            'nova.objects.Instance.get_by_uuid',
            side_effect=RuntimeError('db down')))
        self.dest.update_available_resource()
        self.assertEqual(1, len(self.dest.ledger))


class ColdCheckTest(RealDisksTestCase):

    def setUp(self):
        super().setUp()
        self.scripts = []
        self.dest_free = 1 * GiB
        self.dest_has = set()
        self.guard.run_remote = self.remote

    def remote(self, host, script):
        """The destination: answers the probe from dest_free/dest_has."""
        self.scripts.append((host, script))
        markers = [p for p in os.listdir(self.instances)
                   if p.startswith('.xloud-disk-probe-')]
        self.assertEqual(1, len(markers))  # exists while the probe runs
        lines = ['%d 4096' % (self.dest_free // 4096), '0']
        for base in ('b4se',):
            lines.append('1' if base in self.dest_has else '0')
        return '\n'.join(lines) + '\n'

    def check(self, dest='192.0.2.20'):
        self.guard.migrate_disk_and_power_off(self.instance, dest,
                                              '192.0.2.10', self.disk_info)

    def test_refused_before_power_off_when_disks_do_not_fit(self):
        self.conf.config(remote_filesystem_transport='rsync',
                         group='libvirt')
        needed = (self.allocated + disk_fx.allocated(self.base) +
                  HEADROOM_MB * MiB)
        self.dest_free = needed + 10 * MiB - 4096
        err = self.assertRaises(exception.InsufficientDisk, self.check)
        self.assertIn('cold migration do not fit on host 192.0.2.20',
                      str(err))
        self.assertIn('not visible from here', str(err))
        self.dest_free = needed + 10 * MiB
        self.check()
        self.assertEqual([], [p for p in os.listdir(self.instances)
                              if p.startswith('.xloud')])

    def test_scp_needs_the_full_size_of_sparse_files(self):
        self.conf.config(remote_filesystem_transport='ssh', group='libvirt')
        self.dest_has.add('b4se')
        self.dest_free = (os.path.getsize(self.root) + 64 * MiB +
                          HEADROOM_MB * MiB + 10 * MiB)
        self.check()
        self.dest_free -= 4096
        self.assertRaises(exception.InsufficientDisk, self.check)

    def local_need(self):
        """What cp writes within instances_path: the allocated bytes."""
        return self.allocated + HEADROOM_MB * MiB

    def test_shared_instance_path_is_checked_against_this_filesystem(self):
        # The real probe through a real sh: the destination sees our marker.
        # nova then copies every disk but swap with cp within this
        # filesystem, whatever the destination's own figure says.
        self.guard.run_remote = lambda host, script: subprocess.run(
            ['sh', '-c', script], capture_output=True, text=True,
            check=True).stdout
        self.dest_free = 0
        self.guard.fs = disk_fx.FakeFS(free=self.local_need() + 10 * MiB)
        self.guard.fs.allocated = guard.space.LocalFS.allocated
        self.check()
        self.guard.fs.free_bytes -= 1
        err = self.assertRaises(exception.InsufficientDisk, self.check)
        self.assertIn('cold migration over a shared instance path do not fit '
                      'on host dest', str(err))

    def test_same_host_resize_is_checked_against_this_filesystem(self):
        self.guard.fs = disk_fx.FakeFS(free=self.local_need() + 10 * MiB)
        self.guard.fs.allocated = guard.space.LocalFS.allocated
        self.check(dest='192.0.2.10')
        self.assertEqual([], self.scripts)
        # Block migrations copying here meanwhile count too.
        self.guard.ledger.reserve('other', [('/x', 1)], 0, lambda *a: None,
                                  lambda path: None)
        err = self.assertRaises(exception.InsufficientDisk, self.check,
                                dest='192.0.2.10')
        self.assertIn('resize on the same host do not fit on host dest',
                      str(err))
        self.assertIn('less 1 block migration(s) in flight there', str(err))
        self.assertEqual([], self.scripts)

    def test_off(self):
        self.conf.config(cold_migration_disk_preflight=False, group='xloud')
        self.check()
        self.assertEqual([], self.scripts)

    def test_ssh_failure_is_a_refusal_with_the_fix(self):
        def fail(host, script):
            raise processutils.ProcessExecutionError(
                exit_code=255, stderr='Permission denied (publickey).')
        self.guard.run_remote = fail
        err = self.assertRaises(exception.DiskSpaceUnknown, self.check)
        self.assertIn('Permission denied', str(err))
        self.assertIn('cold_migration_disk_preflight = false', str(err))
        self.assertEqual([], [p for p in os.listdir(self.instances)
                              if p.startswith('.xloud')])

    def test_silent_destination_is_a_refusal_in_bounded_time(self):
        # The real ssh_run, with an ssh that connects and never answers.
        self.useFixture(fixtures.Timeout(30, gentle=True))
        bin_dir = self.useFixture(fixtures.TempDir()).path
        with open(os.path.join(bin_dir, 'ssh'), 'w') as f:
            f.write('#!/bin/sh\nexec sleep 25\n')
        os.chmod(os.path.join(bin_dir, 'ssh'), 0o755)
        self.useFixture(fixtures.EnvironmentVariable(
            'PATH', bin_dir + os.pathsep + os.environ['PATH']))
        self.useFixture(fixtures.MonkeyPatch(
            'xloud_nova_ext.disk.guard.PROBE_TIMEOUT', 1))
        self.guard.run_remote = guard.ssh_run
        start = time.monotonic()
        err = self.assertRaises(exception.DiskSpaceUnknown, self.check)
        self.assertLess(time.monotonic() - start, 10)
        self.assertIn('192.0.2.20 did not answer within 1 s', str(err))
        self.assertEqual([], [p for p in os.listdir(self.instances)
                              if p.startswith('.xloud')])

    def test_garbled_answer_is_a_refusal(self):
        self.guard.run_remote = lambda host, script: 'Welcome!\n'
        self.assertRaises(exception.DiskSpaceUnknown, self.check)

    def test_unreadable_disk_info_proceeds_as_stock(self):
        # As nova's own functional tests see it (no disk files): stock nova
        # moves the server, so do we, with a WARNING.
        def missing():
            raise FileNotFoundError(2, 'No such file or directory')
        for info in (missing, lambda: '[{"path": "/x"}]'):
            self.disk_info = info
            self.check()
        self.assertEqual([], self.scripts)
        self.assertIn('Cannot read the disk information of the instance',
                      self.logger.output)

    def test_own_failure_proceeds_as_stock(self):
        self.guard.fs.apparent = None  # any failure of the preflight itself
        self.conf.config(remote_filesystem_transport='ssh', group='libvirt')
        self.dest_free = 0
        self.check()
        self.assertIn('could not check the cold migration',
                      self.logger.output)

    def test_image_backends_without_files_are_exempt(self):
        self.dest_free = 0
        for backend in guard.NON_FILE_BACKENDS:
            self.conf.config(images_type=backend, group='libvirt')
            self.check()
        self.assertEqual([], self.scripts)
        self.conf.config(images_type='qcow2', group='libvirt')
        self.assertRaises(exception.InsufficientDisk, self.check)


class AnnotateTest(RealDisksTestCase):

    def test_adds_backing_size_and_keeps_novas_keys(self):
        disks = jsonutils.loads(self.disk_info())
        self.assertEqual(disk_fx.allocated(self.base),
                         disks[0][need.BACKING_SIZE_KEY])
        self.assertEqual(disk_fx.nova_disk_info(self.disks)[0]['disk_size'],
                         disks[0]['disk_size'])

    def test_annotates_for_the_cold_preflight_alone(self):
        # Without the sizes the cold preflight could not count a backing
        # image the destination lacks.
        self.conf.config(block_migration_disk_preflight=False, group='xloud')
        disks = jsonutils.loads(self.disk_info())
        self.assertEqual(disk_fx.allocated(self.base),
                         disks[0][need.BACKING_SIZE_KEY])
        self.conf.config(cold_migration_disk_preflight=False, group='xloud')
        self.assertNotIn(need.BACKING_SIZE_KEY,
                         jsonutils.loads(self.disk_info())[0])

    def test_unparsable_info_passes_through_for_the_destination(self):
        self.assertEqual('garbage',
                         self.guard.get_instance_disk_info('garbage'))
