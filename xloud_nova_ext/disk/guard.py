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

1. destination, ``check_can_live_migrate_destination``:
   :meth:`DiskGuard.available_mb` replaces nova's ``disk_available_mb``
   (``disk_available_least`` from the last periodic update) with the truth;
2. source, ``check_can_live_migrate_source``, once nova has resolved
   ``block_migration='auto'``: :meth:`DiskGuard.check_source` refuses when
   the disks' allocated bytes alone do not fit. Still inside the
   conductor's pre-check, so a scheduler-chosen destination is skipped for
   another one;
3. source, ``get_instance_disk_info``: :meth:`DiskGuard.annotate` adds the
   size of each backing image to nova's disk info;
4. destination, ``pre_live_migration``, before nova creates any file:
   :meth:`DiskGuard.reservation` decides from that disk info and reserves
   the bytes; released on completion, failure and rollback.

Cold migration: :meth:`DiskGuard.check_cold` on the source, in
``migrate_disk_and_power_off`` before the guest is powered off.
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

from xloud_nova_ext import conf  # noqa: F401  (registers [xloud])
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

    ``host`` is nova's libvirt Host (for the guest's domain XML). ``fs`` and
    ``run_remote`` are the edges to the filesystem and to the destination
    over ssh; tests that cannot use the real ones replace them.
    """

    def __init__(self, host, fs=None, run_remote=None):
        self._host = host
        self.hostname = None
        self.fs = fs or space.LocalFS()
        self.run_remote = run_remote or ssh_run
        self.ledger = reservations.Ledger()

    def init_host(self, hostname):
        self.hostname = hostname

    @property
    def name(self):
        return self.hostname or CONF.host

    # Settings, read per call so that a changed option applies at once.

    @staticmethod
    def _enabled(option):
        # LVM-backed disks land in a volume group, not in instances_path;
        # nova does not migrate them by copy anyway.
        return option and CONF.libvirt.images_type != 'lvm'

    @staticmethod
    def _headroom():
        return CONF.xloud.disk_headroom_mb * units.Mi

    @staticmethod
    def _cache_dir():
        return os.path.join(CONF.instances_path,
                            CONF.image_cache.subdirectory_name)

    def _have(self, in_flight, count):
        path = CONF.instances_path
        try:
            free = self.fs.free(path)
        except OSError as e:
            raise exception.DiskSpaceUnknown(
                host='host %s' % self.name, kind=BLOCK,
                detail='statvfs(%s) failed: %s' % (path, e),
                remedy='Check that [DEFAULT] instances_path exists on this '
                       'host and that nova-compute can read it.')
        return space.Have(path, free, CONF.reserved_host_disk_mb * units.Mi,
                          in_flight, count)

    # Live block migration

    def available_mb(self):
        """Destination: MiB a block migration may use here, or None if off.

        For nova's ``disk_available_mb``, which nova's own check (API
        microversions < 2.25) and :meth:`check_source` compare with.
        Rounded down; :data:`UNKNOWN` when the free space cannot be read.
        """
        if not self._enabled(CONF.xloud.block_migration_disk_preflight):
            return None
        try:
            have = self._have(*self.ledger.in_flight(self.fs.allocated))
        except exception.DiskSpaceUnknown as e:
            # Not a refusal here: a migration that copies no disk does not
            # need the figure. A block migration is refused by _reserve, in
            # pre_live_migration, before anything is copied.
            LOG.warning('%s', e)
            return UNKNOWN
        return have.available // units.Mi

    @staticmethod
    def publish(migrate_data, available_mb):
        """Put :meth:`available_mb`'s answer in the destination's data."""
        if available_mb is UNKNOWN:
            # Rather no figure (the source then leaves the decision to
            # pre_live_migration) than nova's, which ignores the real disk.
            migrate_data.disk_available_mb = None
        elif available_mb is not None:
            migrate_data.disk_available_mb = available_mb
        return migrate_data

    def check_source(self, instance, migrate_data, block_device_info):
        """Source: refuse when the disks' allocated bytes cannot fit.

        Only a lower bound of the need is known here: the destination's
        image cache, which may lack the backing image, is checked by the
        destination. Reads the guest's domain XML and stats each local disk:
        no qemu-img.
        """
        if not (self._enabled(CONF.xloud.block_migration_disk_preflight) and
                migrate_data.obj_attr_is_set('block_migration') and
                migrate_data.block_migration):
            return
        if (not migrate_data.obj_attr_is_set('disk_available_mb') or
                migrate_data.disk_available_mb is None):
            LOG.debug('The destination reported no disk_available_mb; its '
                      'pre_live_migration decides.', instance=instance)
            return
        volumes = {bdm['mount_device'].rpartition('/')[2] for bdm in
                   virt_driver.block_device_info_get_mapping(
                       block_device_info) if bdm.get('mount_device')}
        domain_xml = self._host.get_guest(instance).get_xml_desc()
        allocations = []
        for path in need_mod.local_disk_paths(domain_xml, volumes):
            size = self.fs.allocated(path)
            if size is None:
                # A lower bound stays a lower bound: the destination decides
                # from nova's disk info, which cannot skip an unreadable disk.
                LOG.warning('Cannot stat disk %s; the destination will check '
                            'it.', path, instance=instance)
                size = 0
            allocations.append((os.path.basename(path), size))
        need = need_mod.allocated_need(allocations, self._headroom())
        have = Reported(migrate_data.disk_available_mb * units.Mi)
        self._check(need, have, 'the destination', BLOCK, instance)

    def annotate(self, disk_info):
        """Source: nova's disk info JSON plus each backing image's size."""
        if not self._enabled(CONF.xloud.block_migration_disk_preflight):
            return disk_info
        try:
            disks = jsonutils.loads(disk_info)
        except (TypeError, ValueError):
            return disk_info  # the destination refuses it with the reason
        if not isinstance(disks, list):
            return disk_info
        need_mod.annotate([d for d in disks if isinstance(d, dict)],
                          self._cache_dir(), self.fs.allocated)
        return jsonutils.dumps(disks)

    @contextlib.contextmanager
    def reservation(self, instance, migrate_data, disk_info):
        """Destination: check, reserve, and release if what follows fails.

        Wraps nova's pre_live_migration, which creates the instance
        directory and its images: the check runs before any of that.
        """
        reservation = self._reserve(instance, migrate_data, disk_info)
        try:
            yield reservation
        except Exception:
            with excutils.save_and_reraise_exception():
                if reservation is not None:
                    self.release(instance.uuid, 'pre_live_migration failed')

    @staticmethod
    def _copies_disks(migrate_data):
        def flag(name):
            return migrate_data.obj_attr_is_set(name) and getattr(
                migrate_data, name)
        return (flag('block_migration') and
                not flag('is_shared_instance_path') and
                not flag('is_shared_block_storage'))

    def _reserve(self, instance, migrate_data, disk_info):
        if not (self._enabled(CONF.xloud.block_migration_disk_preflight) and
                self._copies_disks(migrate_data)):
            return None
        disks = need_mod.parse_disk_info(disk_info)
        instance_dir = libvirt_utils.get_instance_path_at_destination(
            instance, migrate_data)
        need = need_mod.block_migration_need(
            disks, instance_dir, self._cache_dir(), self._headroom(),
            self.fs.exists)

        def admit(in_flight, count):
            self._check(need, self._have(in_flight, count),
                        'host %s' % self.name, BLOCK, instance)

        reservation = self.ledger.reserve(
            instance.uuid, need.targets, need.headroom, admit,
            self.fs.allocated)
        LOG.info('Reserved %s on this host for the block migration: %s.',
                 need_mod.fmt_bytes(need.total), need.describe(),
                 instance=instance)
        return reservation

    def release(self, instance_uuid, why):
        reservation = self.ledger.release(instance_uuid)
        if reservation is not None:
            LOG.info('Released the %s reserved for the block migration of '
                     'instance %s (%s).',
                     need_mod.fmt_bytes(reservation.total), instance_uuid,
                     why)

    def prune(self):
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
                    instance.host != self.name)

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

    # Cold migration

    def check_cold(self, instance, dest, local_address, disk_info):
        """Source: refuse a cold migration whose disks will not fit on dest.

        Runs in migrate_disk_and_power_off before nova powers the guest
        off. ``disk_info`` is a callable returning nova's disk info JSON
        (it runs qemu-img, so only when the check will be made). The
        destination answers one ssh command: its free space, whether it
        sees a marker file we create (then the instance path is shared and
        nothing is copied) and which backing images its cache holds.
        """
        if not self._enabled(CONF.xloud.cold_migration_disk_preflight):
            return
        if dest == local_address:
            return  # resize to the same host: nothing crosses the network
        disks = need_mod.cold_copied(need_mod.parse_disk_info(disk_info()))
        if not disks:
            return
        cache = self._cache_dir()
        bases = sorted({os.path.join(cache, os.path.basename(
            d['backing_file'])) for d in disks if d['backing_file']})
        marker = os.path.join(CONF.instances_path,
                              '.xloud-disk-probe-%s' % instance.uuid)
        free, exists = self._probe(dest, marker, bases)
        if exists[marker]:
            LOG.debug('The instance path is shared with %s: no disk is '
                      'copied.', dest, instance=instance)
            return
        need = need_mod.cold_migration_need(
            disks, libvirt_utils.get_instance_path(instance), cache,
            self._headroom(), exists.get,
            sparse=CONF.libvirt.remote_filesystem_transport == 'rsync',
            apparent=self.fs.apparent)
        have = space.Have('%s on %s' % (CONF.instances_path, dest), free,
                          CONF.reserved_host_disk_mb * units.Mi,
                          in_flight_count=None)
        self._check(need, have, 'host %s' % dest, COLD, instance)

    def _probe(self, dest, marker, bases):
        paths = [marker] + bases
        script = space.probe_script(CONF.instances_path, paths)
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
                       % (dest, CONF.instances_path))

    def _check(self, need, have, where, kind, instance):
        try:
            space.check_fits(need, have, where, kind)
        except exception.InsufficientDisk as e:
            LOG.warning('Refusing the %s: %s', kind, e, instance=instance)
            raise
        LOG.debug('The %s fits on %s: needs %s, %s available.', kind, where,
                  need_mod.fmt_bytes(need.total),
                  need_mod.fmt_bytes(have.available), instance=instance)
