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
   publishes what a block migration may really use here (free space less
   reserved and in-flight bytes) beside nova's own ``disk_available_mb``,
   which keeps nova's meaning (its check below microversion 2.25 reads it);
2. source, :meth:`DiskGuard.check_can_live_migrate_source`, once nova has
   resolved ``block_migration='auto'``: refuses when the disks' allocated
   bytes alone do not fit. Still inside the conductor's pre-check, so a
   scheduler-chosen destination is skipped for another one;
3. source, :meth:`DiskGuard.get_instance_disk_info`: adds the size of each
   backing image to nova's disk info;
4. destination, :meth:`DiskGuard.pre_live_migration`, before nova creates
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

#: available_mb() when this host's free space cannot be read.
UNKNOWN = object()

BLOCK = 'block migration'
COLD = 'cold migration'
SAME_HOST = 'resize on the same host'
SHARED = 'cold migration over a shared instance path'

#: How the destination's figure reaches the source's pre-check: a key in
#: ``old_vol_attachment_ids``, a field nova only fills later, afresh, on the
#: source (ComputeManager._do_pre_live_migration_from_source), so nova never
#: reads our key; volume IDs are UUIDs, never this name. nova's own
#: ``disk_available_mb`` stays nova's: below microversion 2.25 nova's check
#: compares the disks with it. A stock destination publishes no figure.
AVAILABLE_KEY = 'xloud_disk_available_mb'

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


class Reported(space.Have):
    """Space as the destination reported it to the source."""

    def __init__(self, available):
        super().__init__(path=None, free=available)

    def describe(self):
        return ('as reported by the destination (free space in its '
                'instances_path less reserved_host_disk_mb and the block '
                'migrations in flight there)')


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
        #: This host as nova names it (the compute manager reads it once at
        #: start too).
        self.host = conf.host
        self.fs = fs or space.LocalFS()
        self.run_remote = run_remote or ssh_run
        self.ledger = reservations.Ledger()

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

    def available_mb(self):
        """MiB a block migration may use here now; UNKNOWN if unreadable.

        Rounded down; negative when the reservations exceed the free space.
        """
        try:
            have = self._have(BLOCK,
                              *self.ledger.in_flight(self.fs.allocated))
        except exception.DiskSpaceUnknown as e:
            # Not a refusal here: a migration that copies no disk does not
            # need the figure. A block migration is refused in
            # pre_live_migration, before anything is copied.
            LOG.warning('%s', e)
            return UNKNOWN
        return have.available // units.Mi

    def check_can_live_migrate_destination(self, migrate_data):
        """Publish :meth:`available_mb` for the source's pre-check."""
        if not self.block_on:
            return migrate_data
        available = self.available_mb()
        if available is UNKNOWN:
            return migrate_data  # the source leaves it to pre_live_migration
        carried = (dict(migrate_data.old_vol_attachment_ids)
                   if 'old_vol_attachment_ids' in migrate_data else {})
        carried[AVAILABLE_KEY] = str(available)
        migrate_data.old_vol_attachment_ids = carried
        return migrate_data

    # Live block migration, source

    @staticmethod
    def _take_published(migrate_data):
        """The destination's figure (MiB), removed from the data; or None."""
        if 'old_vol_attachment_ids' not in migrate_data:
            return None
        carried = dict(migrate_data.old_vol_attachment_ids)
        value = carried.pop(AVAILABLE_KEY, None)
        if carried:
            migrate_data.old_vol_attachment_ids = carried
        else:
            del migrate_data.old_vol_attachment_ids
        try:
            return int(value) if value is not None else None
        except ValueError:
            LOG.warning('Ignoring a malformed %s from the destination: %r',
                        AVAILABLE_KEY, value)
            return None

    def check_can_live_migrate_source(self, instance, migrate_data,
                                      block_device_info):
        """Refuse when the disks' allocated bytes cannot fit.

        Only a lower bound of the need is known here: the destination's
        image cache, which may lack the backing image, is checked by the
        destination. Reads the guest's disks from libvirt and stats each
        local one: no qemu-img.
        """
        available_mb = self._take_published(migrate_data)
        if not (self.block_on and 'block_migration' in migrate_data and
                migrate_data.block_migration):
            return
        if available_mb is None:
            LOG.debug('The destination published no figure (stock nova, '
                      'preflight off there, or its space unreadable); its '
                      'pre_live_migration decides.', instance=instance)
            return
        with self._or_as_stock('pre-check the block migration', instance):
            need = self._allocated_need(instance, block_device_info)
            have = Reported(available_mb * units.Mi)
            self._check(need, have, 'the destination', BLOCK, instance)

    def _allocated_need(self, instance, block_device_info):
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
        return need_mod.allocated_need(allocations, self._headroom)

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
