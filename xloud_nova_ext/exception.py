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

"""Why the Xloud safeguards refuse a migration, and what fixes it.

Every refusal has a stable ``code`` (do not change or reuse one: tests,
the Tempest plugin and operators' alerting match on it), a ``msg_fmt`` that
names the cause and a ``fix_fmt`` that names the remedy.

Refusals are raised as these classes inside the compute service. Across RPC
only nova's own exception classes survive (oslo.messaging turns any other
into a RemoteError, and the conductor only tries another destination on a
MigrationPreCheckError), so the driver hooks re-raise a refusal as
``nova.exception.MigrationPreCheckError`` carrying the same text; see
:func:`as_precheck_error`.
"""

import functools


class XloudError(Exception):
    """Base of every error this package raises on purpose."""

    code = 'xloud.error'
    msg_fmt = 'An unknown error occurred.'
    fix_fmt = ''
    #: Figures behind the cause, after the fix: nova keeps only the first
    #: 255 characters in the instance action event, the logs keep all.
    detail_fmt = ''

    def __init__(self, **kwargs):
        self.kwargs = kwargs
        self.cause = self.msg_fmt % kwargs
        self.fix = self.fix_fmt % kwargs if self.fix_fmt else ''
        self.detail = self.detail_fmt % kwargs if self.detail_fmt else ''
        text = '[%s] %s' % (self.code, self.cause)
        if self.fix:
            text += ' Fix: %s' % self.fix
        if self.detail:
            text += ' Detail: %s' % self.detail
        super().__init__(text)


class MigrationRefused(XloudError):
    """A safeguard refused a migration before anything was copied."""

    code = 'xloud.migration.refused'
    #: Where the refusal happens, for the operator's guide.
    when = ('In the live-migration pre-check, before anything is copied; '
            'the server keeps running on its source. With a destination '
            'left to the scheduler, nova tries another host.')


# CPU baseline check (xloud_nova_ext.cpu)

class CPUIncompatible(MigrationRefused):
    # Short on purpose: nova keeps 255 characters of it in the instance
    # action event. The destination's log has the whole story.
    code = 'xloud.cpu.incompatible'
    msg_fmt = "Host %(host)s cannot run guest CPU %(model)s: %(detail)s."
    fix_fmt = ("[libvirt] cpu_mode = custom, cpu_models = <model from "
               "xloud-cpu-baseline>")


class CPUCheckFailed(MigrationRefused):
    # libvirt failed for a reason that says nothing about the guest CPU (a
    # dropped connection, a timeout): not "incompatible", and the conductor
    # tries another host.
    code = 'xloud.cpu.check_failed'
    msg_fmt = "Host %(host)s could not check the guest CPU: %(detail)s."
    fix_fmt = ("Retry; if it repeats, check libvirtd on that host (virsh "
               "domcapabilities) and its log.")


class CPUDefinitionInvalid(MigrationRefused):
    code = 'xloud.cpu.invalid_definition'
    msg_fmt = "The guest CPU definition of %(what)s is unusable: %(detail)s."
    fix_fmt = ("Hard-reboot the instance so that nova records its CPU again, "
               "then retry.")


class CPUModelsUnusable(XloudError):
    """Raised at start-up: the configured cpu_models cannot run here."""

    code = 'xloud.cpu.models_unusable'
    msg_fmt = ("[libvirt] cpu_models %(models)s cannot run on host %(host)s: "
               "%(detail)s.")
    fix_fmt = ("Use a baseline every host supports (xloud-cpu-baseline "
               "prints one), or remove this host from the group that uses "
               "this baseline.")


class NovaVersionUnsupported(XloudError, ImportError):
    """Raised when nova-compute loads the driver from another nova release.

    An ImportError, so that nova's ``load_compute_driver`` logs it and stops
    nova-compute as for any driver it cannot load.
    """

    code = 'xloud.install.nova_unsupported'
    msg_fmt = ("This xloud-nova-ext extends the libvirt driver of nova "
               "%(supported)s; this host runs nova %(found)s.")
    fix_fmt = ("Install the xloud-nova-ext release made for nova "
               "%(found_major)s (or nova %(supported)s); meanwhile [DEFAULT] "
               "compute_driver = libvirt.LibvirtDriver runs nova's own "
               "driver.")


class BaselineInputError(XloudError):
    """Bad input to the cluster baseline tool."""

    code = 'xloud.cpu.baseline_input'
    msg_fmt = "%(source)s: %(detail)s"


# vTPM secret transfer (xloud_nova_ext.vtpm)

_VTPM_WHEN = ("In the destination's live-migration pre-check, or before a "
              "cold migration or resize stops the server; the server keeps "
              "running on its source.")


class KeyManagerDisabled(MigrationRefused):
    when = _VTPM_WHEN
    code = 'xloud.vtpm.key_manager_disabled'
    msg_fmt = ("Host %(host)s cannot read vTPM secrets from Barbican: its "
               "[key_manager] backend is %(backend)s.")
    fix_fmt = ("Set it to barbican, or [xloud] vtpm_secret_transport = "
               "auto.")


class KeyManagerUnreachable(MigrationRefused):
    when = _VTPM_WHEN
    code = 'xloud.vtpm.key_manager_unreachable'
    msg_fmt = "Host %(host)s cannot reach Barbican: %(detail)s."
    fix_fmt = ("Start Barbican or correct [barbican] barbican_endpoint (or "
               "the catalog's key-manager endpoint) for this host, then "
               "retry.")


class VTPMSecretMissing(MigrationRefused):
    when = _VTPM_WHEN
    code = 'xloud.vtpm.secret_missing'
    msg_fmt = "vTPM secret %(secret_uuid)s does not exist in Barbican."
    fix_fmt = ("Restore it under that UUID; a 'host' secret still on the "
               "source can move with vtpm_secret_transport = rpc.")


class VTPMSecretForbidden(MigrationRefused):
    when = _VTPM_WHEN
    code = 'xloud.vtpm.secret_forbidden'
    msg_fmt = ("Host %(host)s may not read the vTPM secret of this server "
               "('%(security)s' mode).")
    fix_fmt = "%(remedy)s"


# Block-migration disk preflight (xloud_nova_ext.disk)

class InsufficientDisk(MigrationRefused):
    when = ("Live block migration: in the pre-check (nova may try another "
            "host), or on the destination just before the copy when its "
            "exact count no longer fits (missing base image, migrations "
            "copying there meanwhile; the migration ends failed and no other "
            "host is tried). Cold migration or resize, also to the same host "
            "or over a shared instance path (nova copies the disks within "
            "that filesystem): before the server is stopped.")
    code = 'xloud.disk.insufficient'
    # Totals, the migrations in flight there and the fix first, short:
    # nova keeps only 255 characters in the instance action event; the
    # per-disk detail follows (and is in the logs in full).
    msg_fmt = ("The disks of this %(kind)s do not fit on %(host)s: "
               "%(needed)s needed, %(available)s available%(in_flight)s.")
    fix_fmt = ("%(retry)sFree at least %(shortfall)s on %(host)s, or migrate "
               "to a host with more free disk.")
    detail_fmt = "Needed: %(per_disk)s. Available: %(have_detail)s."


class DiskInfoInvalid(MigrationRefused):
    when = ("Live block migration, on the destination before the copy "
            "(a cold migration whose disk information cannot be read "
            "proceeds as stock nova would, with a warning).")
    code = 'xloud.disk.info_invalid'
    msg_fmt = ("The source's disk information for the instance is unusable: "
               "%(detail)s.")
    fix_fmt = ("Check that the instance's disk files and their backing "
               "images on the source host are readable by nova-compute "
               "(qemu-img info), then retry.")


class DiskSpaceUnknown(MigrationRefused):
    when = ("Live block migration on the destination (statvfs failed), or "
            "before a cold migration or resize stops the server (the "
            "destination could not be asked over ssh).")
    code = 'xloud.disk.space_unknown'
    msg_fmt = ("Cannot learn how much disk is free on %(host)s for this "
               "%(kind)s: %(detail)s.")
    fix_fmt = ("%(remedy)s")


# Connection pre-check (xloud_nova_ext.connection)

class MigrationAddressUnreachable(MigrationRefused):
    # Short on purpose: nova's destination wraps the source's refusal in its
    # own text, and keeps 255 characters of it in the instance action event.
    when = ("In the source's live-migration pre-check, before the "
            "destination is prepared or anything is copied; the server keeps "
            "running on its source. With a destination left to the "
            "scheduler, nova tries another host.")
    code = 'xloud.connection.unreachable'
    msg_fmt = "No libvirt at %(address)s port %(port)s: %(detail)s."
    fix_fmt = ("Open TCP %(port)s to %(address)s in the firewall, or fix "
               "live_migration_inbound_addr.")


def _nova_exceptions():
    # Imported when a hook re-raises, not with this module: the baseline
    # tool (xloud-cpu-baseline) imports this module and must not load nova.
    from nova import exception as nova_exc
    return nova_exc


# Any safeguard (xloud_nova_ext.virt.libvirt.failsafe)

class SafeguardFailed(MigrationRefused):
    """A safeguard failed unexpectedly where it may not let nova proceed.

    Only the exception's type is named: its message could quote data the
    safeguard handles (a vTPM secret) and stays in the host's log.
    """

    when = ("Where proceeding without the safeguard could send or lose a "
            "vTPM secret: in a live-migration pre-check or "
            "pre_live_migration, or before a cold migration or resize "
            "stops the server; the server keeps running on its source.")
    code = 'xloud.safeguard.failed'
    msg_fmt = ("The %(safeguard)s safeguard failed unexpectedly on host "
               "%(host)s (%(error)s in %(step)s); nothing was moved.")
    fix_fmt = ("Read the traceback in that host's nova-compute log, correct "
               "its cause (or report it), then retry.")


def as_precheck_error(func):
    """Re-raise a refusal as nova's MigrationPreCheckError, text unchanged.

    Decorates the driver hooks whose exceptions cross RPC.
    """
    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        try:
            return func(*args, **kwargs)
        except MigrationRefused as e:
            raise _nova_exceptions().MigrationPreCheckError(
                reason=str(e)) from e
    return wrapper


def as_rollback_error(func):
    """Re-raise a refusal as InstanceFaultRollback(MigrationPreCheckError).

    Decorates cold-migration hooks on the source (migrate_disk_and_power_off):
    nova's compute manager then puts the instance back in its previous state
    (ACTIVE, still running) instead of ERROR, sets the migration to ``error``
    and re-raises the inner MigrationPreCheckError, text unchanged.
    """
    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        try:
            return func(*args, **kwargs)
        except MigrationRefused as e:
            nova_exc = _nova_exceptions()
            raise nova_exc.InstanceFaultRollback(
                inner_exception=nova_exc.MigrationPreCheckError(
                    reason=str(e))) from e
    return wrapper
