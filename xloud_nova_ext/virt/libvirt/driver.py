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

"""The Xloud libvirt driver: nova's LibvirtDriver plus migration safeguards.

This class only wires the safeguards into nova's public migration hooks and
calls ``super()`` for everything nova does. Each safeguard lives in its own
module and is tested without this class:

* :mod:`xloud_nova_ext.cpu` - the guest's CPU must run on the destination;
* :mod:`xloud_nova_ext.vtpm` - the destination gets the vTPM secret from the
  key manager, never over the message bus;
* :mod:`xloud_nova_ext.disk` - a block migration's destination must have room
  for the disks it will receive;
* :mod:`xloud_nova_ext.connection` - the source must reach the destination's
  libvirt at the address nova will migrate to.

Beside them, :mod:`.migration_stats` logs QEMU's own figures of each
completed live migration on its source (never a refusal), and
:mod:`.rolled_back` keeps a live migration that nova rolled back from
ending in ERROR.

Each refuses a doomed migration before any memory or disk is copied, with a
:class:`nova.exception.MigrationPreCheckError` that names cause and fix.
Each is reached through :class:`~.failsafe.Failsafe`: a safeguard's own
unexpected failure refuses the migration only where going on could send or
lose a vTPM secret (:data:`VTPM_REFUSES`); anywhere else nova proceeds as
stock nova would, with a WARNING.
"""

import nova.conf
from nova.virt.libvirt import driver as libvirt_driver
from oslo_log import log as logging

from xloud_nova_ext import conf  # noqa: F401  (registers [xloud])
from xloud_nova_ext import connection
from xloud_nova_ext.cpu import guard as cpu
from xloud_nova_ext import disk
from xloud_nova_ext import exception
from xloud_nova_ext import installation
from xloud_nova_ext.virt.libvirt import failsafe
from xloud_nova_ext.virt.libvirt import migration_stats
from xloud_nova_ext.virt.libvirt import rolled_back
from xloud_nova_ext import vtpm

CONF = nova.conf.CONF
LOG = logging.getLogger(__name__)

#: The vTPM steps whose own failure refuses the migration (before anything
#: moves): going on could send the secret over RPC or start the guest on a
#: host without it. The CPU and disk safeguards only judge whether a move
#: can work; when they cannot judge, nova moves the server as it would
#: without them.
VTPM_REFUSES = ('check_can_live_migrate_destination',
                'check_source_migrate_data_at_dest',
                'check_can_live_migrate_source', 'pre_live_migration',
                'migrate_disk_and_power_off')


class XloudLibvirtDriver(libvirt_driver.LibvirtDriver):
    """nova's libvirt driver with the Xloud migration safeguards."""

    def __init__(self, virtapi, read_only=False):
        installation.require_supported_nova()
        super().__init__(virtapi, read_only)
        self._vtpm = failsafe.Failsafe(
            'vTPM', vtpm.VTPMGuard(self._host, CONF), refuse=VTPM_REFUSES)
        self._disk = failsafe.Failsafe('disk',
                                       disk.DiskGuard(self._host, CONF))
        self._cpu = failsafe.Failsafe('CPU', cpu.CPUGuard(self._host, CONF))
        self._stats = failsafe.Failsafe(
            'migration statistics',
            migration_stats.MigrationStats(self._host))
        self._connection = failsafe.Failsafe('connection',
                                             connection.ConnectionGuard(
                                                 CONF,
                                                 self._live_migration_uri))

    # Host.

    def init_host(self, host):
        super().init_host(host)
        self._vtpm.init_host()
        self._cpu.init_host()

    def get_available_resource(self, nodename):
        # Periodic: drop disk reservations and pre-checked vTPM values of
        # migrations that ended unseen.
        self._disk.update_available_resource()
        self._vtpm.update_available_resource()
        data = super().get_available_resource(nodename)
        self._cpu.update_available_resource(data)
        return data

    # Starting a guest.

    def spawn(self, context, instance, *args, **kwargs):
        super().spawn(context, instance, *args, **kwargs)
        self._vtpm.guest_started(context, instance)
        self._cpu.guest_started(instance)

    def power_on(self, context, instance, *args, **kwargs):
        super().power_on(context, instance, *args, **kwargs)
        self._vtpm.guest_started(context, instance)
        self._cpu.guest_started(instance)

    def reboot(self, context, instance, network_info, reboot_type,
               *args, **kwargs):
        super().reboot(context, instance, network_info, reboot_type,
                       *args, **kwargs)
        if reboot_type == 'HARD':
            self._vtpm.guest_started(context, instance)
        self._cpu.guest_started(instance)

    def resume_state_on_host_boot(self, context, instance, *args, **kwargs):
        super().resume_state_on_host_boot(context, instance, *args, **kwargs)
        # nova saves nothing after this hook: save the record ourselves.
        self._cpu.guest_started(instance, save=True)

    # Live migration, destination.

    @exception.as_precheck_error
    def check_can_live_migrate_destination(self, context, instance,
                                           src_compute_info, *args,
                                           **kwargs):
        self._cpu.check_can_live_migrate_destination(
            instance, src_compute_info)
        data = super().check_can_live_migrate_destination(
            context, instance, src_compute_info, *args, **kwargs)
        data = self._vtpm.check_can_live_migrate_destination(instance, data)
        data = self._disk.check_can_live_migrate_destination(instance, data)
        return self._connection.check_can_live_migrate_destination(data)

    @exception.as_precheck_error
    def check_source_migrate_data_at_dest(self, ctxt, instance, migrate_data,
                                          *args, **kwargs):
        self._disk.check_source_migrate_data_at_dest(instance, migrate_data)
        with self._vtpm.check_source_migrate_data_at_dest(
                ctxt, instance, migrate_data):
            return super().check_source_migrate_data_at_dest(
                ctxt, instance, migrate_data, *args, **kwargs)

    @exception.as_precheck_error
    def pre_live_migration(self, context, instance, block_device_info,
                           network_info, disk_info, migrate_data):
        with self._vtpm.pre_live_migration(context, instance, migrate_data):
            with self._disk.pre_live_migration(instance, migrate_data,
                                               disk_info):
                return super().pre_live_migration(
                    context, instance, block_device_info, network_info,
                    disk_info, migrate_data)

    def post_live_migration_at_destination(self, context, instance,
                                           *args, **kwargs):
        try:
            super().post_live_migration_at_destination(
                context, instance, *args, **kwargs)
        finally:
            self._disk.post_live_migration_at_destination(instance)
        self._vtpm.post_live_migration_at_destination(instance)

    def rollback_live_migration_at_destination(self, context, instance,
                                               *args, **kwargs):
        try:
            super().rollback_live_migration_at_destination(
                context, instance, *args, **kwargs)
        finally:
            self._disk.rollback_live_migration_at_destination(instance)
            self._vtpm.rollback_live_migration_at_destination(instance)

    # Live migration, source.

    def live_migration(self, context, instance, dest, post_method,
                       recover_method, block_migration=False,
                       migrate_data=None):
        self._stats.live_migration(instance)
        rollback = rolled_back.Rollback(recover_method)
        with rolled_back.settled_by_rollback(instance, rollback):
            super().live_migration(context, instance, dest, post_method,
                                   rollback, block_migration, migrate_data)

    def post_live_migration(self, context, instance, block_device_info,
                            migrate_data=None):
        try:
            super().post_live_migration(context, instance, block_device_info,
                                        migrate_data)
        finally:
            self._stats.post_live_migration(instance, migrate_data)

    def rollback_live_migration_at_source(self, context, instance,
                                          migrate_data):
        self._stats.rollback_live_migration_at_source(instance)
        super().rollback_live_migration_at_source(context, instance,
                                                  migrate_data)

    @exception.as_precheck_error
    def check_can_live_migrate_source(self, context, instance,
                                      dest_check_data,
                                      block_device_info=None):
        with self._vtpm.check_can_live_migrate_source(
                context, instance, dest_check_data):
            self._connection.check_can_live_migrate_source(instance,
                                                           dest_check_data)
            data = super().check_can_live_migrate_source(
                context, instance, dest_check_data, block_device_info)
            self._disk.check_can_live_migrate_source(instance, data,
                                                     block_device_info)
        return data

    def get_instance_disk_info(self, instance, block_device_info=None):
        return self._disk.get_instance_disk_info(
            super().get_instance_disk_info(instance, block_device_info))

    # Cold migration and resize.

    @exception.as_rollback_error
    def migrate_disk_and_power_off(self, context, instance, dest, flavor,
                                   network_info, block_device_info=None,
                                   *args, **kwargs):
        self._vtpm.migrate_disk_and_power_off(context, instance, flavor)
        self._disk.migrate_disk_and_power_off(
            instance, dest, self.get_host_ip_addr(),
            lambda: self.get_instance_disk_info(instance, block_device_info))
        return super().migrate_disk_and_power_off(
            context, instance, dest, flavor, network_info, block_device_info,
            *args, **kwargs)

    def finish_migration(self, context, migration, instance,
                         *args, **kwargs):
        self._vtpm.guest_starting(context, instance)
        super().finish_migration(context, migration, instance,
                                 *args, **kwargs)
        self._vtpm.guest_started(context, instance)
        self._cpu.guest_started(instance)

    def finish_revert_migration(self, context, instance, *args, **kwargs):
        self._vtpm.guest_starting(context, instance)
        super().finish_revert_migration(context, instance, *args, **kwargs)
        self._vtpm.guest_started(context, instance)
        self._cpu.guest_started(instance)

    def confirm_migration(self, context, migration, instance, network_info):
        super().confirm_migration(context, migration, instance, network_info)
        self._vtpm.confirm_migration(instance, migration)

    def destroy(self, context, instance, *args, **kwargs):
        super().destroy(context, instance, *args, **kwargs)
        self._vtpm.destroy(context, instance)
