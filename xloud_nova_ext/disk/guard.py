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

"""The disk preflight, one method per nova hook that XloudLibvirtDriver calls.

Live block migration (nova's order):

1. destination, :meth:`DiskGuard.check_can_live_migrate_destination`:
   asks the source for the size of its disks (see :data:`ASKED`);
2. source, :meth:`DiskGuard.check_can_live_migrate_source`, once nova has
   resolved ``block_migration='auto'``: answers with the allocated bytes
   of the disks it copies (a lower bound of the need), read with one stat
   each;
3. destination, :meth:`DiskGuard.check_source_migrate_data_at_dest`, the
   last step of the conductor's pre-check: refuses when those bytes alone
   do not fit here now, so a scheduler-chosen destination is skipped for
   another one;
4. source, :meth:`DiskGuard.get_instance_disk_info`: adds the size of each
   backing image to nova's disk info;
5. destination, :meth:`DiskGuard.pre_live_migration`, before nova creates
   any file: decides from that disk info and reserves the bytes; released
   on completion, failure and rollback.

Cold migration and resize: :meth:`DiskGuard.migrate_disk_and_power_off` on
the source, before the guest is powered off; a resize on the same host and
a shared instance path are checked against this host's filesystem, where
nova copies the disks with ``cp``.

Where the preflight cannot judge (a stock nova peer, an unreadable disk
info, an error of its own), nova proceeds as stock nova would, with a
WARNING; it refuses only what it knows will not fit.
"""

import contextlib
import os
import time

from nova.compute import task_states
from nova import context as nova_context
from nova import exception as nova_exc
from nova import objects
from nova.virt import driver as virt_driver
from nova.virt.libvirt import utils as libvirt_utils
from oslo_concurrency import processutils
from oslo_log import log as logging
from oslo_serialization import jsonutils
from oslo_utils import excutils
from oslo_utils import units

import nova.conf

import xloud_nova_ext.conf  # noqa: F401  (registers [xloud])
from xloud_nova_ext.disk import need as need_mod
from xloud_nova_ext.disk import reservations
from xloud_nova_ext.disk import space
from xloud_nova_ext import exception

CONF = nova.conf.CONF
LOG = logging.getLogger(__name__)

BLOCK = 'block migration'
COLD = 'cold migration'
SAME_HOST = 'resize on the same host'
SHARED = 'cold migration over a shared instance path'

#: How the source's size reaches the destination's pre-check: nova's own
#: ``disk_available_mb``, on the one path where nova neither reads nor
#: needs it. nova reads it only with ``disk_over_commit`` in the data (API
#: microversions before 2.25, its own check on the source), and there it
#: keeps nova's value. From 2.25 on, an Xloud destination sets it to None,
#: a value nova never sends, meaning "source, how much do your disks
#: take?"; an Xloud source answers in the same field with the MiB its
#: local disks have allocated (rounded down). A stock source leaves the
#: None, a stock destination sends nova's figure: neither is asked, both
#: are left to nova. The field is in every version of the object, and
#: nullable, so it survives nova's RPC backports.
ASKED = None
#: Seconds this host remembers a question: a pre-check that failed after
#: it never comes back for the answer.
ASK_TTL = 3600

#: Image backends whose disks are not files in instances_path: nothing to
#: check (LVM volume groups, Ceph); nova does not copy them as files.
NON_FILE_BACKENDS = ('lvm', 'rbd')


#: Seconds a cold migration's destination has to answer the probe. Without
#: a bound, an unreachable host or a hung mount there would hold the
#: migration (guest running, task state resize_migrating) for ever.
PROBE_TIMEOUT = 60
#: Exit status of coreutils' timeout(1) when it had to stop the command.
_TIMED_OUT = 124


def ssh_run(host, script):
    """Run ``script`` on ``host`` as nova's ssh_execute does, bounded.

    coreutils' ``timeout`` stops ssh after :data:`PROBE_TIMEOUT` seconds:
    processutils' own timeout leaves the process running, and under
    eventlet raises an exception class no caller can catch by name.
    """
    cmd = ('timeout', str(PROBE_TIMEOUT), 'ssh', '-o', 'BatchMode=yes', host,
           script)
    try:
        return processutils.execute(*cmd)[0]
    except processutils.ProcessExecutionError as e:
        if e.exit_code != _TIMED_OUT:
            raise
        raise processutils.ProcessExecutionError(
            exit_code=e.exit_code, cmd=e.cmd,
            description='%s did not answer within %d s' % (host,
                                                           PROBE_TIMEOUT))


class DiskGuard(object):
    """The disk preflight of one nova-compute.

    ``host`` is nova's libvirt Host (for the guest's disks), ``conf`` nova's
    configuration. ``fs`` and ``run_remote`` are the edges to the filesystem
    and to the destination over ssh; tests that cannot use the real ones
    replace them.
    """

    def __init__(self, host, conf=CONF, fs=None, run_remote=None):
        self._host = host
        self._conf = conf
        #: This host as nova names it ([DEFAULT] host), read once at start
        #: as nova's compute manager reads it.
        self.host = conf.host
        self.fs = fs or space.LocalFS()
        self.run_remote = run_remote or ssh_run
        self.ledger = reservations.Ledger()
        #: Instance UUID -> when this host asked its source (monotonic).
        self._asked = {}

    # Settings, read per call so that a changed option applies at once.

    def _on(self, option):
        # Disks of LVM or Ceph backends are not files in instances_path.
        return (getattr(self._conf.xloud, option) and
                self._conf.libvirt.images_type not in NON_FILE_BACKENDS)

    @property
    def block_on(self):
        return self._on('block_migration_disk_preflight')

    @property
    def cold_on(self):
        return self._on('cold_migration_disk_preflight')

    @property
    def _headroom(self):
        return self._conf.xloud.disk_headroom_mb * units.Mi

    @property
    def _cache_dir(self):
        return os.path.join(self._conf.instances_path,
                            self._conf.image_cache.subdirectory_name)

    def _have(self, kind, in_flight=0, count=0):
        """What this host's instances_path has for a copy of ``kind``."""
        path = self._conf.instances_path
        try:
            free = self.fs.free(path)
        except OSError as e:
            raise exception.DiskSpaceUnknown(
                host='host %s' % self.host, kind=kind,
                detail='statvfs(%s) failed: %s' % (path, e),
                remedy='Check that [DEFAULT] instances_path exists on this '
                       'host and that nova-compute can read it.')
        return space.Have(path, free,
                          self._conf.reserved_host_disk_mb * units.Mi,
                          in_flight, count)

    # Live block migration, destination

    @staticmethod
    def _nova_reads_disk_available_mb(migrate_data):
        # nova's check on the source, before microversion 2.25.
        return 'disk_over_commit' in migrate_data

    def check_can_live_migrate_destination(self, instance, migrate_data):
        """Ask the source for its disks' size (see :data:`ASKED`)."""
        if (self.block_on and
                not self._nova_reads_disk_available_mb(migrate_data) and
                ('block_migration' not in migrate_data or
                 migrate_data.block_migration)):
            migrate_data.disk_available_mb = ASKED
            now = time.monotonic()
            self._asked = {uuid: when for uuid, when in self._asked.items()
                           if now - when < ASK_TTL}
            self._asked[instance.uuid] = now
        return migrate_data

    @classmethod
    def _asked_here(cls, migrate_data):
        """Whether the data carries a destination's question."""
        return (not cls._nova_reads_disk_available_mb(migrate_data) and
                'disk_available_mb' in migrate_data and
                migrate_data.disk_available_mb is ASKED)

    # Live block migration, source

    def check_can_live_migrate_source(self, instance, migrate_data,
                                      block_device_info):
        """Answer an Xloud destination: the MiB the disks have allocated.

        Only a lower bound of the need is known here (the destination's
        image cache may lack the backing image; the destination checks
        that before the copy). Reads the guest's disks from libvirt and
        stats each local one: no qemu-img.
        """
        if not (self._asked_here(migrate_data) and self.block_on and
                self._copies_disks(migrate_data)):
            return
        with self._or_as_stock('measure the disks of the block migration',
                               instance):
            allocated = sum(size for _, size in self._allocations(
                instance, block_device_info))
            migrate_data.disk_available_mb = allocated // units.Mi

    def _allocations(self, instance, block_device_info):
        volumes = {bdm['mount_device'].rpartition('/')[2] for bdm in
                   virt_driver.block_device_info_get_mapping(
                       block_device_info) if bdm.get('mount_device')}
        disks = self._host.get_guest(instance).get_all_disks()
        allocations = []
        for path in need_mod.local_disk_paths(disks, volumes):
            size = self.fs.allocated(path)
            if size is None:
                # A lower bound stays a lower bound: the destination decides
                # from nova's disk info, which cannot skip an unreadable disk.
                LOG.warning('Cannot stat disk %s; the destination will check '
                            'it.', path, instance=instance)
                size = 0
            allocations.append((os.path.basename(path), size))
        return allocations

    # Live block migration, destination, end of the pre-check

    def check_source_migrate_data_at_dest(self, instance, migrate_data):
        """Refuse when the source's disks alone cannot fit here now.

        Still the conductor's pre-check: a scheduler-chosen destination is
        skipped for another one. No answer (a stock source, the preflight
        off there, or its own failure) leaves it to
        :meth:`pre_live_migration`.
        """
        # Only an answer to this host's own question is one: nova's figure
        # is not (this step off, or failed, when the question was due).
        if self._asked.pop(instance.uuid, None) is None:
            return
        allocated_mb = migrate_data.disk_available_mb
        # nova has no use for the field from here on: no size of ours
        # travels further under nova's name.
        migrate_data.disk_available_mb = ASKED
        if not (self.block_on and self._copies_disks(migrate_data)):
            return
        if allocated_mb is ASKED:
            LOG.debug('The source reported no disk size (stock nova, the '
                      'preflight off there, or it could not measure); '
                      'pre_live_migration decides.', instance=instance)
            return
        with self._or_as_stock('pre-check the block migration', instance):
            need = need_mod.allocated_need(
                [("the source's disks", allocated_mb * units.Mi)],
                self._headroom)
            try:
                have = self._have(BLOCK,
                                  *self.ledger.in_flight(self.fs.allocated))
            except exception.DiskSpaceUnknown as e:
                # pre_live_migration refuses it before anything is copied.
                LOG.warning('%s', e, instance=instance)
                return
            self._check(need, have, 'host %s' % self.host, BLOCK, instance)

    def get_instance_disk_info(self, disk_info):
        """nova's disk info JSON plus each backing image's size.

        Both preflights read these sizes (a cold migration's from this very
        call), so they are added when either is on.
        """
        if not (self.block_on or self.cold_on):
            return disk_info
        try:
            disks = jsonutils.loads(disk_info)
        except (TypeError, ValueError, RecursionError):
            return disk_info  # the destination refuses it with the reason
        if not isinstance(disks, list):
            return disk_info
        need_mod.annotate([d for d in disks if isinstance(d, dict)],
                          self._cache_dir, self.fs.allocated)
        return jsonutils.dumps(disks)

    # Live block migration, destination, before the copy

    @contextlib.contextmanager
    def pre_live_migration(self, instance, migrate_data, disk_info):
        """Check, reserve, and release if what follows fails.

        Wraps nova's pre_live_migration, which creates the instance
        directory and its images: the check runs before any of that.
        """
        reservation = self._reserve(instance, migrate_data, disk_info)
        try:
            yield reservation
        except Exception:
            with excutils.save_and_reraise_exception():
                if reservation is not None:
                    self._release(instance.uuid, 'pre_live_migration failed')

    def post_live_migration_at_destination(self, instance):
        self._release(instance.uuid, 'migration completed')

    def rollback_live_migration_at_destination(self, instance):
        self._release(instance.uuid, 'migration rolled back')

    @staticmethod
    def _copies_disks(migrate_data):
        def flag(name):
            return name in migrate_data and getattr(migrate_data, name)
        return (flag('block_migration') and
                not flag('is_shared_instance_path') and
                not flag('is_shared_block_storage'))

    def _reserve(self, instance, migrate_data, disk_info):
        if not (self.block_on and self._copies_disks(migrate_data)):
            return None
        disks = need_mod.parse_disk_info(disk_info)
        with self._or_as_stock('check the block migration', instance):
            instance_dir = libvirt_utils.get_instance_path_at_destination(
                instance, migrate_data)
            need = need_mod.block_migration_need(
                disks, instance_dir, self._cache_dir, self._headroom,
                self.fs.exists)

            def admit(in_flight, count):
                have = self._have(BLOCK, in_flight, count)
                settled = self._judge(need, have, 'host %s' % self.host,
                                      BLOCK, instance)
                return settled.targets, settled.headroom

            reservation = self.ledger.reserve(
                instance.uuid, need.targets, need.headroom, admit,
                self.fs.allocated)
            LOG.info('Reserved %s on this host for the block migration: '
                     '%s.', need_mod.fmt_bytes(reservation.total),
                     need.describe(), instance=instance)
            return reservation
        return None

    def _release(self, instance_uuid, why):
        reservation = self.ledger.release(instance_uuid)
        if reservation is not None:
            LOG.info('Released the %s reserved for the block migration of '
                     'instance %s (%s).',
                     need_mod.fmt_bytes(reservation.total), instance_uuid,
                     why)

    def update_available_resource(self):
        """Release reservations whose migration ended without telling us.

        Runs from the periodic resource update; the common case (no
        migration in flight) costs nothing.
        """
        if not len(self.ledger):
            return
        context = nova_context.get_admin_context()

        def still_incoming(instance_uuid):
            try:
                instance = objects.Instance.get_by_uuid(context,
                                                        instance_uuid)
            except nova_exc.InstanceNotFound:
                return False
            return (instance.task_state == task_states.MIGRATING and
                    instance.host != self.host)

        try:
            released = self.ledger.prune(still_incoming)
        except Exception:
            LOG.exception('Cannot check the block migrations this host has '
                          'reserved disk for; keeping the reservations.')
            return
        for reservation in released:
            LOG.warning('Released the %s reserved for the block migration '
                        'of instance %s: that migration is over but this '
                        'host was not told.',
                        need_mod.fmt_bytes(reservation.total),
                        reservation.instance_uuid)

    # Cold migration and resize

    def migrate_disk_and_power_off(self, instance, dest, local_address,
                                   disk_info):
        """Refuse a cold migration or resize whose disks will not fit.

        Runs before nova powers the guest off. ``disk_info`` is a callable
        returning nova's disk info JSON (it runs qemu-img, so only when the
        check will be made). A remote destination answers one ssh command:
        its free space, whether it sees a marker file we create (then the
        instance path is shared) and which backing images its cache holds.
        On the same host or a shared instance path nova renames the
        instance directory and copies each disk back with ``cp``: that copy
        is checked against this host's filesystem.
        """
        if not self.cold_on:
            return
        try:
            disks = need_mod.cold_copied(
                need_mod.parse_disk_info(disk_info()))
        except Exception as e:
            LOG.warning('Cannot read the disk information of the instance '
                        '(%s); not checking the room its cold migration '
                        'needs: nova proceeds as it would without the '
                        'preflight.', e, instance=instance)
            return
        if not disks:
            return
        with self._or_as_stock('check the cold migration', instance):
            if dest == local_address:
                self._check_local_copy(instance, disks, SAME_HOST)
            else:
                self._check_remote_copy(instance, dest, disks)

    def _check_local_copy(self, instance, disks, kind):
        # cp keeps the holes of sparse files: the allocated bytes are
        # written; every backing image is in this host's own cache.
        need = need_mod.cold_migration_need(
            disks, libvirt_utils.get_instance_path(instance),
            self._cache_dir, self._headroom, lambda path: True,
            sparse=True, apparent=self.fs.apparent)
        have = self._have(kind, *self.ledger.in_flight(self.fs.allocated))
        self._check(need, have, 'host %s' % self.host, kind, instance)

    def _check_remote_copy(self, instance, dest, disks):
        bases = sorted({os.path.join(self._cache_dir, os.path.basename(
            d['backing_file'])) for d in disks if d['backing_file']})
        marker = os.path.join(self._conf.instances_path,
                              '.xloud-disk-probe-%s' % instance.uuid)
        free, exists = self._probe(dest, marker, bases)
        if exists[marker]:
            LOG.debug('The instance path is shared with %s: the disks are '
                      'copied within it.', dest, instance=instance)
            self._check_local_copy(instance, disks, SHARED)
            return
        need = need_mod.cold_migration_need(
            disks, libvirt_utils.get_instance_path(instance),
            self._cache_dir, self._headroom, exists.get,
            sparse=self._conf.libvirt.remote_filesystem_transport == 'rsync',
            apparent=self.fs.apparent)
        have = space.Have('%s on %s' % (self._conf.instances_path, dest),
                          free, self._conf.reserved_host_disk_mb * units.Mi,
                          in_flight_count=None)
        self._judge(need, have, 'host %s' % dest, COLD, instance)

    def _probe(self, dest, marker, bases):
        paths = [marker] + bases
        script = space.probe_script(self._conf.instances_path, paths)
        try:
            with open(marker, 'w'):
                pass
            try:
                output = self.run_remote(dest, script)
            finally:
                os.unlink(marker)
            return space.parse_probe(output, paths)
        except (processutils.ProcessExecutionError, OSError,
                ValueError) as e:
            raise exception.DiskSpaceUnknown(
                host='host %s' % dest, kind=COLD, detail=str(e).strip(),
                remedy='Check that this host can run "ssh -o BatchMode=yes '
                       '%s stat -f %s" as nova-compute, as nova\'s [libvirt] '
                       'remote_filesystem_transport needs, or set [xloud] '
                       'cold_migration_disk_preflight = false where the ssh '
                       'key may only copy files.'
                       % (dest, self._conf.instances_path))

    # Verdicts

    @contextlib.contextmanager
    def _or_as_stock(self, what, instance):
        """A failure of the preflight itself lets nova proceed as stock.

        Refusals pass; anything else is the preflight's own problem, never
        the user's: logged with a WARNING, and the migration goes on as
        stock nova would run it.
        """
        try:
            yield
        except exception.MigrationRefused:
            raise
        except Exception:
            LOG.warning('The disk preflight could not %s; nova proceeds as '
                        'it would without it.', what, exc_info=True,
                        instance=instance)

    def _judge(self, need, have, where, kind, instance):
        """Check ``need``; the need accepted (a lower one if only bounded).

        A need with bounded items (sizes a stock source did not report) that
        does not fit may still fit: the preflight cannot judge, and accepts
        what it is sure of, unless even that does not fit.
        """
        if not need.bounded or need.total <= have.available:
            self._check(need, have, where, kind, instance)
            return need
        lower = need.lower()
        self._check(lower, have, where, kind, instance)
        LOG.warning('Cannot tell whether the %s fits on %s: %s available, '
                    'at most %s needed (%s); the source reported no size '
                    'for a backing image (a stock nova source?). Proceeding '
                    'as stock nova would, counting %s.', kind, where,
                    need_mod.fmt_bytes(have.available),
                    need_mod.fmt_bytes(need.total), need.describe(),
                    need_mod.fmt_bytes(lower.total), instance=instance)
        return lower

    def _check(self, need, have, where, kind, instance):
        try:
            space.check_fits(need, have, where, kind)
        except exception.InsufficientDisk as e:
            LOG.warning('Refusing the %s: %s', kind, e, instance=instance)
            raise
        LOG.debug('The %s fits on %s: needs %s, %s available.', kind, where,
                  need_mod.fmt_bytes(need.total),
                  need_mod.fmt_bytes(have.available), instance=instance)
