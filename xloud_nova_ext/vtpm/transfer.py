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

"""Move a vTPM secret through the key manager, never over the message bus.

With ``[xloud] vtpm_secret_transport = barbican`` (the default) the host
that starts a vTPM guest reads its secret from Barbican and defines the
libvirt secret itself (same UUID, usage ``vtpm`` + instance UUID, as nova
does), so the value never travels in the live-migrate data. With ``rpc``
every method here returns at once and nova behaves as upstream.

Which credentials read the secret honours each secret security mode:

* ``deployment``: the nova service user, who owns the secret;
* ``host``: the nova service user (granted read access while the owner's
  context was at hand, see :meth:`VTPMGuard.grant_service_user`), then the
  requester;
* ``user``: the requester only; nothing is ever granted.

:class:`VTPMGuard` keeps the value read by a live-migration pre-check in
memory only until ``pre_live_migration`` defines the libvirt secret (so a
migration costs one key-manager read), and drops it on every failure path.
"""

import contextlib
import time

from nova.compute import task_states
import nova.conf
from nova import context as nova_context
from nova.virt import hardware
from nova import vtpm as nova_vtpm
from oslo_log import log as logging

import xloud_nova_ext.conf  # noqa: F401  (registers [xloud])
from xloud_nova_ext import exception
from xloud_nova_ext.vtpm import keymgr

CONF = nova.conf.CONF
LOG = logging.getLogger(__name__)

#: Seconds a pre-checked value may wait for its pre_live_migration; after
#: that it is dropped (and read again should the migration still come).
PENDING_TTL = 300.0

# Short: nova keeps 255 characters of an error in instance action events
# and faults. doc/source/vtpm.rst explains each at length.
_REMEDY = {
    'host': ("Let the owner hard-reboot it once (grants nova read access), "
             "or migrate it as the owner's project."),
    'user': ("Only the owner's project may read a 'user' secret: the owner "
             "must resize or migrate it."),
    'deployment': ("nova's service user owns it: check [service_user] on "
                   "this host."),
}


class _Pending(object):
    """A value read by a live-migration pre-check on this destination."""

    def __init__(self, secret_uuid, value):
        self.secret_uuid = secret_uuid
        self.value = value
        self.check_data = None
        self.confirmed = False
        self.expires = time.monotonic() + PENDING_TTL

    def bind(self, check_data):
        self.check_data = check_data
        return check_data


class _NoPending(object):
    @staticmethod
    def bind(check_data):
        return check_data


class VTPMGuard(object):
    """The vTPM secret transfer, for one compute host's libvirt ``Host``."""

    def __init__(self, host, conf=CONF):
        self._host = host
        self._conf = conf
        self._km = keymgr.KeyManager(conf.host, conf)
        self._pending = {}
        self._service_user_id = None

    @property
    def enabled(self):
        return self._conf.xloud.vtpm_secret_transport == 'barbican'

    # Live migration, destination side.

    @contextlib.contextmanager
    def destination_check(self, context, instance):
        """Around check_can_live_migrate_destination: pre-check first.

        Refuses (before nova's own checks create anything) unless the key
        manager is enabled and reachable and the secret exists and is
        readable. Yields an object whose ``bind(check_data)`` ties the
        value to this check, so :meth:`end_check` can drop it.
        """
        pending = self._precheck(context, instance) if self.enabled else None
        try:
            yield pending or _NoPending()
        except Exception:
            self._pending.pop(instance.uuid, None)
            raise

    def _precheck(self, context, instance):
        secret = _secret_of(instance)
        if secret is None:
            return None
        secret_uuid, security = secret
        value = self._read(context, instance, secret_uuid, security)
        self.purge()
        pending = self._pending[instance.uuid] = _Pending(secret_uuid, value)
        LOG.info('vTPM secret %s is readable from the key manager; it will '
                 'be defined here before the guest arrives.', secret_uuid,
                 instance=instance)
        return pending

    def confirm(self, instance):
        """check_source_migrate_data_at_dest passed: the check succeeded."""
        pending = self._pending.get(instance.uuid)
        if pending is not None:
            pending.confirmed = True

    def end_check(self, check_data):
        """cleanup_live_migration_destination_check: forget a failed check.

        nova calls it after success and failure alike; only a confirmed
        check keeps its value for pre_live_migration.
        """
        for uuid, pending in list(self._pending.items()):
            if pending.check_data is check_data:
                pending.check_data = None
                if not pending.confirmed:
                    self._pending.pop(uuid, None)

    def define_incoming(self, context, instance, migrate_data):
        """pre_live_migration: define the libvirt secret for the guest.

        Uses the pre-checked value, or reads it if there is none. Also
        serves a source that left the value out while this host uses ``rpc``
        (mixed transports during an upgrade).
        """
        pending = self._pending.pop(instance.uuid, None)
        if migrate_data is None or not migrate_data.has_vtpm:
            return
        if migrate_data.has_vtpm_secret_data:
            return  # the rpc transport: nova defines it from migrate data
        left_out = bool(migrate_data.vtpm_secret_uuid)
        secret = _secret_of(instance)
        if secret is None or not (self.enabled or left_out):
            return
        secret_uuid, security = secret
        if (pending is not None and pending.secret_uuid == secret_uuid and
                pending.expires > time.monotonic()):
            value = pending.value
        else:
            value = self._read(context, instance, secret_uuid, security)
        self._define(instance, secret_uuid, security, value)
        LOG.info('Defined the libvirt secret %s of the vTPM from the key '
                 'manager.', secret_uuid, instance=instance)

    def incoming_done(self, instance):
        """post_live_migration_at_destination: keep only what nova keeps.

        nova undefines the libvirt secret of ``user`` and ``deployment``
        guests once they run; only ``host`` secrets stay defined.
        """
        self._pending.pop(instance.uuid, None)
        secret = _secret_of(instance)
        if self.enabled and secret is not None and secret[1] != 'host':
            self._host.delete_secret('vtpm', instance.uuid)

    def rollback_incoming(self, instance):
        """rollback_live_migration_at_destination: leave nothing here."""
        self._pending.pop(instance.uuid, None)
        if self.enabled and _secret_of(instance) is not None:
            self._host.delete_secret('vtpm', instance.uuid)

    # Live migration, source side.

    def heal_source(self, context, instance):
        """Before check_can_live_migrate_source: re-create a lost secret.

        A ``host`` secret missing here (host rebuilt) is defined again from
        the key manager, so nova's own lookup finds it instead of failing.
        """
        secret = self._lost_host_secret(instance)
        if secret is None:
            return
        secret_uuid, security = secret
        value = self._read(context, instance, secret_uuid, security)
        self._define(instance, secret_uuid, security, value)
        LOG.warning('The libvirt secret %s of this vTPM guest was missing on '
                    'this host; re-created it from the key manager.',
                    secret_uuid, instance=instance)

    def _lost_host_secret(self, instance):
        """(uuid, security) of a ``host`` secret missing on this host."""
        secret = _secret_of(instance)
        if (not self.enabled or secret is None or secret[1] != 'host' or
                self._host.find_secret('vtpm', instance.uuid) is not None):
            return None
        return secret

    def strip(self, instance, migrate_data):
        """After check_can_live_migrate_source: the value stays here."""
        if (self.enabled and 'vtpm_secret_value' in migrate_data and
                migrate_data.vtpm_secret_value is not None):
            migrate_data.vtpm_secret_value = None
            LOG.debug('vTPM secret value left out of the migrate data; the '
                      'destination reads it from the key manager.',
                      instance=instance)
        return migrate_data

    # Cold migration and resize.

    def check_cold_migration(self, context, instance, flavor):
        """migrate_disk_and_power_off: refuse before the guest stops.

        The destination will read the secret with these credentials (or the
        nova service user's) when it starts the guest; check that it can.
        """
        secret = _secret_of(instance, flavor)
        if self.enabled and secret is not None:
            self._read(context, instance, *secret)

    def define_for_start(self, context, instance):
        """finish_migration / finish_revert_migration: define the secret.

        A missing ``host`` secret is defined from the key manager, so nova's
        local lookup finds it instead of reading with the requester's
        credentials (which fails for an admin of another project).
        """
        secret = self._lost_host_secret(instance)
        if secret is None:
            return
        secret_uuid, security = secret
        try:
            value = self._read(context, instance, secret_uuid, security)
        except exception.MigrationRefused as e:
            # Not worse than upstream: nova now tries its own way.
            LOG.warning('%s', e, instance=instance)
            return
        self._define(instance, secret_uuid, security, value)

    def moved_away(self, instance, migration):
        """confirm_migration on the source: the guest lives elsewhere now.

        nova 34 removes a ``host`` secret only with the instance's disks,
        which a confirmed cold migration does not do on the source.
        """
        if (self.enabled and
                migration.source_compute != migration.dest_compute):
            self._host.delete_secret('vtpm', instance.uuid)

    def destroyed(self, instance):
        """destroy: the destination of a reverted resize keeps nothing.

        With shared instance storage nova destroys the guest there without
        its disks, and so without its ``host`` secret. A same-host revert
        gets it back in finish_revert_migration (:meth:`define_for_start`).
        """
        if (self.enabled and
                instance.task_state == task_states.RESIZE_REVERTING):
            self._host.delete_secret('vtpm', instance.uuid)

    # The read grant for host mode.

    def grant_service_user(self, context, instance):
        """Let the nova service user read a ``host`` secret (Barbican ACL).

        Called from spawn, power_on, hard reboot and finish_migration, while
        the owner's context is (usually) at hand. Idempotent, best effort.
        """
        secret = _secret_of(instance)
        if (not self.enabled or not self._conf.xloud.vtpm_grant_service_user
                or secret is None or secret[1] != 'host' or
                self._km.backend not in keymgr.BARBICAN_BACKENDS):
            return
        if context.project_id != instance.project_id:
            # Only the owner's project may change the ACL: an admin of
            # another project would be refused, so do not ask.
            return
        user_id = self._nova_service_user_id()
        if not user_id:
            return
        try:
            if self._km.grant_read(context, secret[0], user_id):
                LOG.info('Granted the nova service user read access to vTPM '
                         'secret %s.', secret[0], instance=instance)
        except Exception as e:
            LOG.warning('Could not grant the nova service user read access '
                        'to vTPM secret %(uuid)s with these credentials '
                        '(%(detail)s); migrations requested by another '
                        'project will be refused until the owner starts or '
                        'hard-reboots the server.',
                        {'uuid': secret[0], 'detail': keymgr.detail(e)},
                        instance=instance)

    # Helpers.

    def _read(self, context, instance, secret_uuid, security):
        """The value, read with the first reader allowed to; or a refusal."""
        self._km.check_enabled()
        tried = []
        for who, reader_context in self._readers(context, security):
            try:
                return self._km.read(reader_context, secret_uuid)
            except keymgr.KeyManagerReadError as e:
                LOG.warning('Reading vTPM secret %(uuid)s as %(who)s: '
                            '%(outcome)s (%(detail)s)',
                            {'uuid': secret_uuid, 'who': who,
                             'outcome': e.outcome, 'detail': e.detail},
                            instance=instance)
                if e.outcome == keymgr.MISSING:
                    raise exception.VTPMSecretMissing(
                        secret_uuid=secret_uuid)
                if e.outcome == keymgr.UNREACHABLE:
                    raise exception.KeyManagerUnreachable(
                        host=self._conf.host, detail=e.summary)
                tried.append(who)
        LOG.warning('No credentials this host may use can read vTPM secret '
                    '%(uuid)s (%(security)s secret security; tried: '
                    '%(tried)s).', {'uuid': secret_uuid, 'security': security,
                                    'tried': ', '.join(tried) or 'none'},
                    instance=instance)
        raise exception.VTPMSecretForbidden(
            host=self._conf.host, security=security,
            remedy=_REMEDY.get(security, _REMEDY['user']))

    def _readers(self, context, security):
        if security in ('deployment', 'host'):
            service = self._nova_service_context()
            if service is not None:
                yield 'the nova service user', service
        if security in ('host', 'user'):
            yield 'the requester', context

    @staticmethod
    def _nova_service_context():
        try:
            return nova_context.get_nova_service_user_context()
        except Exception as e:
            LOG.warning('No nova service user context (%s); check '
                        '[service_user].', keymgr.detail(e))
            return None

    def _nova_service_user_id(self):
        if self._service_user_id is None:
            service = self._nova_service_context()
            self._service_user_id = service and service.user_id
        return self._service_user_id

    def _define(self, instance, secret_uuid, security, value):
        # As nova: only host-mode secrets are persistent and readable.
        keep = security == 'host'
        self._host.create_secret('vtpm', instance.uuid, password=value,
                                 uuid=secret_uuid, ephemeral=not keep,
                                 private=not keep)

    def purge(self):
        """Drop the pre-checked values older than :data:`PENDING_TTL`.

        Runs before each pre-check and from the driver's periodic resource
        update, so that a value whose migration never came (its source died
        after the check) does not stay in memory until the next pre-check.
        """
        now = time.monotonic()
        for uuid, pending in list(self._pending.items()):
            if pending.expires <= now:
                self._pending.pop(uuid, None)


def _secret_of(instance, flavor=None):
    """(secret UUID, security mode) of a vTPM instance, else None."""
    flavor = flavor or instance.flavor
    if not hardware.get_vtpm_constraint(flavor, instance.image_meta):
        return None
    secret_uuid = instance.system_metadata.get('vtpm_secret_uuid')
    if not secret_uuid:
        return None
    return secret_uuid, nova_vtpm.get_instance_tpm_secret_security(flavor)
