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

With the Barbican transport in force (``[xloud] vtpm_secret_transport =
barbican``, or ``auto`` with a Barbican key manager) the host that starts a
vTPM guest reads its secret from Barbican and defines the libvirt secret
itself (same UUID, usage ``vtpm`` + instance UUID, as nova does), so the
value never travels in the live-migrate data. With ``rpc`` nova behaves as
upstream.

A live migration between hosts of different kinds (stock nova and this
driver, during an install) works as stock nova does: the destination
announces in its pre-check data that it will read the secret from the key
manager (it sets ``vtpm_secret_uuid``, which a stock source overwrites), a
source of ours leaves the value out only then, and a destination of ours
uses a value that a stock source sent.

Which credentials read the secret honours each secret security mode:

* ``deployment``: the nova service user, who owns the secret;
* ``host``: the nova service user (granted read access while the owner's
  context was at hand, see :meth:`VTPMGuard.guest_started`), then the
  requester;
* ``user``: the requester only; nothing is ever granted.
"""

import contextlib
import threading
import time

from nova.compute import task_states
import nova.conf
from nova import context as nova_context
from nova import exception as nova_exc
from nova import objects
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

#: system_metadata key naming the nova service user ID this driver granted
#: read access to the instance's secret (so that it can be revoked, and
#: replaced when the service user changes).
GRANTEE_KEY = 'xloud_vtpm_reader'

# Short: nova keeps 255 characters of an error in instance action events
# and faults. doc/source/reference/vtpm.rst explains each at length.
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
        self.expires = time.monotonic() + PENDING_TTL


class VTPMGuard(object):
    """The vTPM secret transfer, for one compute host's libvirt ``Host``.

    Methods are named after the nova hook they serve; ``guest_starting``
    and ``guest_started`` serve several.
    """

    def __init__(self, host, conf=CONF):
        self._host = host
        self._conf = conf
        #: This host as nova names it ([DEFAULT] host), read once at start
        #: as nova's compute manager reads it.
        self.host = conf.host
        self._km = keymgr.KeyManager(conf)
        # Instance UUID -> _Pending, until pre_live_migration.
        self._pending = {}
        # Instance UUID -> when this host defined a secret for an incoming
        # live migration that has not settled here yet.
        self._arrivals = {}
        # Instance UUID -> when its last live migration here rolled back.
        self._rollbacks = {}
        self._lock = threading.Lock()

    @property
    def transport(self):
        """The transport in force: ``barbican`` or ``rpc``."""
        chosen = self._conf.xloud.vtpm_secret_transport
        if chosen == 'auto':
            return 'barbican' if self._km.is_barbican else 'rpc'
        return chosen

    @property
    def enabled(self):
        return self.transport == 'barbican'

    def init_host(self):
        LOG.info('vTPM secret transport in force: %(transport)s '
                 '([xloud] vtpm_secret_transport = %(chosen)s, '
                 '[key_manager] backend = %(backend)s).',
                 {'transport': self.transport,
                  'chosen': self._conf.xloud.vtpm_secret_transport,
                  'backend': self._km.backend})

    # Live migration, destination side.

    def check_can_live_migrate_destination(self, instance, check_data):
        """Tell the source that this host reads the secret itself.

        Sets ``vtpm_secret_uuid`` in the check data: a source of ours then
        leaves the value out; a stock source overwrites the field and sends
        the value, as it always does.
        """
        secret = _secret_of(instance)
        if self.enabled and secret is not None:
            check_data.vtpm_secret_uuid = secret[0]
        return check_data

    @contextlib.contextmanager
    def check_source_migrate_data_at_dest(self, context, instance,
                                          migrate_data):
        """Around nova's last pre-check: read the secret unless it came.

        Refuses, before nova's own last checks and before any memory is
        copied, unless the secret exists and is readable. Keeps the value
        in memory for pre_live_migration (one key-manager read per
        migration) and forgets it if a later check fails.
        """
        self._pending.pop(instance.uuid, None)
        secret = self._secret_to_fetch(instance, migrate_data)
        if secret is not None:
            value = self._read(context, instance, *secret)
            self._purge_pending()
            self._pending[instance.uuid] = _Pending(secret[0], value)
            LOG.info('vTPM secret %s is readable from the key manager; it '
                     'will be defined here before the guest arrives.',
                     secret[0], instance=instance)
        elif (self.enabled and migrate_data.has_vtpm_secret_data):
            LOG.info('The source sent the vTPM secret value in the migrate '
                     'data (it runs stock nova or the rpc transport); nova '
                     'defines it here without asking the key manager.',
                     instance=instance)
        try:
            yield
        except Exception:
            self._pending.pop(instance.uuid, None)
            raise

    @contextlib.contextmanager
    def pre_live_migration(self, context, instance, migrate_data):
        """Around pre_live_migration: define the secret for the guest.

        Uses the pre-checked value, or reads it if there is none. Whatever
        happens, the value leaves the migrate data afterwards: nova has
        defined its secret by then, and the data goes back over RPC or, on
        failure, into an error notification.
        """
        started = time.monotonic()
        try:
            yield
            self._define_incoming(context, instance, migrate_data, started)
        finally:
            _drop_value(migrate_data)

    def _define_incoming(self, context, instance, migrate_data, started):
        pending = self._pending.pop(instance.uuid, None)
        secret = self._secret_to_fetch(instance, migrate_data)
        if secret is None:
            return
        secret_uuid, security = secret
        if (pending is not None and pending.secret_uuid == secret_uuid and
                pending.expires > time.monotonic()):
            value = pending.value
        else:
            value = self._read(context, instance, secret_uuid, security)
        with self._lock:
            self._define(instance, secret_uuid, security, value)
            self._arrivals[instance.uuid] = time.monotonic()
            rolled_back = self._rollbacks.get(instance.uuid, 0) >= started
        if rolled_back:
            # The source gave up (an RPC timeout) and rolled back while
            # this host was still preparing: nobody will clean up after us.
            self._forget_arrival(instance.uuid)
            LOG.warning('The live migration rolled back while this host '
                        'prepared it; removed the vTPM secret defined for '
                        'it.', instance=instance)
            return
        LOG.info('Defined the libvirt secret %s of the vTPM from the key '
                 'manager.', secret_uuid, instance=instance)

    def _secret_to_fetch(self, instance, migrate_data):
        """(uuid, security) if this host must read the secret, else None.

        Not when the source sent the value, nor when nova sends nothing
        about a vTPM; also for a source that left the value out while this
        host uses ``rpc`` (an older source of ours).
        """
        if (migrate_data is None or not migrate_data.has_vtpm or
                migrate_data.has_vtpm_secret_data):
            return None
        secret = _secret_of(instance)
        if secret is None or not (self.enabled or
                                  migrate_data.vtpm_secret_uuid):
            return None
        return secret

    def post_live_migration_at_destination(self, instance):
        """The guest runs here: keep only what nova keeps.

        nova undefines the libvirt secret of ``user`` and ``deployment``
        guests once they run; only ``host`` secrets stay defined.
        """
        self._pending.pop(instance.uuid, None)
        self._arrivals.pop(instance.uuid, None)
        secret = _secret_of(instance)
        if self.enabled and secret is not None and secret[1] != 'host':
            self._undefine(instance.uuid)

    def rollback_live_migration_at_destination(self, instance):
        """Leave nothing here; never raise (nova's error must surface)."""
        with self._lock:
            self._rollbacks[instance.uuid] = time.monotonic()
        self._pending.pop(instance.uuid, None)
        if self.enabled and _secret_of(instance) is not None:
            self._forget_arrival(instance.uuid)

    def _forget_arrival(self, uuid):
        """Undefine an incoming guest's secret; the periodic task retries."""
        if self._undefine(uuid):
            self._arrivals.pop(uuid, None)
        else:
            self._arrivals.setdefault(uuid, time.monotonic())

    def _undefine(self, uuid):
        """Remove the libvirt secret of instance ``uuid``; True if done.

        Cleanup runs after nova's own work succeeded or in its error path:
        its failure is logged, never raised over nova's result.
        """
        try:
            self._host.delete_secret('vtpm', uuid)
            return True
        except Exception as e:
            LOG.warning('Could not remove the vTPM secret of instance '
                        '%(uuid)s from libvirt (%(detail)s); remove it with '
                        '"virsh secret-undefine" if it stays.',
                        {'uuid': uuid, 'detail': keymgr.detail(e)})
            return False

    # Live migration, source side.

    @contextlib.contextmanager
    def check_can_live_migrate_source(self, context, instance,
                                      dest_check_data):
        """Around check_can_live_migrate_source: heal, then strip.

        Before nova: a ``host`` secret missing here (host rebuilt) is
        defined again from the key manager, so nova's own lookup finds it.
        After nova: the value leaves the data when the destination said it
        reads the secret itself, and always when a check failed (nova's
        error notification carries the data).
        """
        announced = bool(dest_check_data.obj_attr_is_set('vtpm_secret_uuid')
                         and dest_check_data.vtpm_secret_uuid)
        failed = True
        try:
            self._heal(context, instance)
            yield
            failed = False
        finally:
            if failed or (announced and self.enabled):
                if _drop_value(dest_check_data) and not failed:
                    LOG.debug('vTPM secret value left out of the migrate '
                              'data; the destination reads it from the key '
                              'manager.', instance=instance)

    def _heal(self, context, instance):
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

    # Cold migration and resize.

    def migrate_disk_and_power_off(self, context, instance, flavor):
        """Refuse before the guest stops if the secret cannot be read.

        The destination will read the secret with these credentials (or the
        nova service user's) when it starts the guest; check that it can.
        """
        secret = _secret_of(instance, flavor)
        if self.enabled and secret is not None:
            self._read(context, instance, *secret)

    def guest_starting(self, context, instance):
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

    def confirm_migration(self, instance, migration):
        """On the source: the guest lives elsewhere now.

        nova 34 removes a ``host`` secret only with the instance's disks,
        which a confirmed cold migration does not do on the source.
        """
        if (self.enabled and
                migration.source_compute != migration.dest_compute):
            self._undefine(instance.uuid)

    def destroy(self, context, instance):
        """A reverted resize's destination keeps nothing; a delete revokes.

        With shared instance storage nova destroys the guest on the
        destination of a reverted resize without its disks, and so without
        its ``host`` secret. A same-host revert keeps it: the guest starts
        again here, and stock nova needs no key manager for that.
        """
        if not self.enabled:
            return
        if instance.task_state == task_states.RESIZE_REVERTING:
            if not _same_host_resize(instance):
                self._undefine(instance.uuid)
        elif instance.task_state == task_states.DELETING:
            self._revoke(context, instance)

    # The read grant for host mode.

    def guest_started(self, context, instance):
        """spawn, power_on, hard reboot, finish_(revert_)migration.

        While the owner's context is (usually) at hand: grant the nova
        service user read access to a ``host`` secret, or revoke an earlier
        grant if the server left ``host`` mode. Best effort.
        """
        if not self.enabled:
            return
        secret = _secret_of(instance)
        if (secret is not None and secret[1] == 'host' and
                self._conf.xloud.vtpm_grant_service_user):
            self._grant(context, instance, secret[0])
        elif instance.system_metadata.get(GRANTEE_KEY):
            self._revoke(context, instance)

    def _grant(self, context, instance, secret_uuid):
        if context.project_id != instance.project_id:
            # Only the owner's project may change the ACL: an admin of
            # another project would be refused, so do not ask.
            return
        user_id = self._service_user_id()
        previous = instance.system_metadata.get(GRANTEE_KEY)
        if not user_id or user_id == previous:
            return
        try:
            self._km.set_readers(context, secret_uuid, add=user_id,
                                 remove=[previous] if previous else [])
        except Exception as e:
            LOG.warning('Could not grant the nova service user read access '
                        'to vTPM secret %(uuid)s with these credentials '
                        '(%(detail)s); migrations requested by another '
                        'project will be refused until the owner starts or '
                        'hard-reboots the server.',
                        {'uuid': secret_uuid, 'detail': keymgr.detail(e)},
                        instance=instance)
            return
        instance.system_metadata[GRANTEE_KEY] = user_id
        LOG.info('Granted the nova service user read access to vTPM secret '
                 '%s.', secret_uuid, instance=instance)

    def _revoke(self, context, instance):
        """Remove the nova service user's grant recorded for ``instance``."""
        grantee = instance.system_metadata.get(GRANTEE_KEY)
        secret_uuid = instance.system_metadata.get('vtpm_secret_uuid')
        if not grantee:
            return
        if not secret_uuid:
            # nova deleted the secret, and its ACL with it.
            del instance.system_metadata[GRANTEE_KEY]
            return
        if context.project_id != instance.project_id:
            detail = "only the owner's project may change the ACL"
        else:
            try:
                self._km.set_readers(context, secret_uuid, remove=[grantee])
                detail = None
            except Exception as e:
                detail = keymgr.summary(e)
        if detail is not None:
            LOG.warning('The nova service user (%(user)s) keeps read access '
                        'to vTPM secret %(uuid)s: these credentials cannot '
                        'revoke it (%(detail)s). The owner revokes it by '
                        'starting the server, or by: openstack acl user '
                        'remove --user %(user)s --operation-type read '
                        '<barbican>/v1/secrets/%(uuid)s',
                        {'user': grantee, 'uuid': secret_uuid,
                         'detail': detail}, instance=instance)
            return
        del instance.system_metadata[GRANTEE_KEY]
        LOG.info('Revoked the nova service user read access to vTPM secret '
                 '%s.', secret_uuid, instance=instance)

    # Periodic.

    def update_available_resource(self):
        """Drop what migrations that ended unseen left here.

        Pre-checked values older than :data:`PENDING_TTL`, and the secrets
        defined for a live migration whose guest never arrived (its source
        stopped mid-migration, or rolled back while this host prepared).
        """
        self._purge_pending()
        now = time.monotonic()
        for uuid, when in list(self._rollbacks.items()):
            if when + PENDING_TTL <= now:
                self._rollbacks.pop(uuid, None)
        if self._arrivals:
            self._sweep_arrivals()

    def _purge_pending(self):
        now = time.monotonic()
        for uuid, pending in list(self._pending.items()):
            if pending.expires <= now:
                self._pending.pop(uuid, None)

    def _sweep_arrivals(self):
        ctxt = nova_context.get_admin_context()
        for uuid in list(self._arrivals):
            try:
                instance = objects.Instance.get_by_uuid(ctxt, uuid)
            except nova_exc.InstanceNotFound:
                instance = None
            if instance is not None and instance.host == self.host:
                self._arrivals.pop(uuid, None)  # it arrived
            elif (instance is not None and
                    instance.task_state == task_states.MIGRATING):
                continue  # still on its way
            else:
                LOG.warning('Removing the vTPM secret of instance %s: it was '
                            'defined here for a live migration that ended '
                            'elsewhere.', uuid)
                self._forget_arrival(uuid)

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
                        host=self.host, detail=e.summary)
                tried.append(who)
        LOG.warning('No credentials this host may use can read vTPM secret '
                    '%(uuid)s (%(security)s secret security; tried: '
                    '%(tried)s).', {'uuid': secret_uuid, 'security': security,
                                    'tried': ', '.join(tried) or 'none'},
                    instance=instance)
        raise exception.VTPMSecretForbidden(
            host=self.host, security=security,
            remedy=_REMEDY.get(security, _REMEDY['user']))

    def _readers(self, context, security):
        if security in ('deployment', 'host'):
            service = self._service_context()
            if service is not None:
                yield 'the nova service user', service
        if security in ('host', 'user'):
            yield 'the requester', context

    def _service_context(self):
        try:
            return self._km.service_context()
        except Exception as e:
            LOG.warning('No nova service user context (%s); check '
                        '[service_user].', keymgr.detail(e))
            return None

    def _service_user_id(self):
        # Not cached: a rotated [service_user] is granted on the next start.
        service = self._service_context()
        return service and service.user_id

    def _define(self, instance, secret_uuid, security, value):
        # As nova: only host-mode secrets are persistent and readable.
        keep = security == 'host'
        self._host.create_secret('vtpm', instance.uuid, password=value,
                                 uuid=secret_uuid, ephemeral=not keep,
                                 private=not keep)


def _drop_value(migrate_data):
    """Remove the secret value from ``migrate_data``; True if it held one.

    The UUID stays, so that nova's cleanup still sees a vTPM migration.
    """
    if (migrate_data is not None and
            migrate_data.obj_attr_is_set('vtpm_secret_value') and
            migrate_data.vtpm_secret_value is not None):
        migrate_data.vtpm_secret_value = None
        return True
    return False


def _secret_of(instance, flavor=None):
    """(secret UUID, security mode) of a vTPM instance, else None."""
    flavor = flavor or instance.flavor
    if not hardware.get_vtpm_constraint(flavor, instance.image_meta):
        return None
    secret_uuid = instance.system_metadata.get('vtpm_secret_uuid')
    if not secret_uuid:
        return None
    return secret_uuid, nova_vtpm.get_instance_tpm_secret_security(flavor)


def _same_host_resize(instance):
    """Whether the resize being reverted stayed on one host."""
    migration_context = instance.migration_context
    if migration_context is None:
        return False
    try:
        migration = objects.Migration.get_by_id(
            nova_context.get_admin_context(),
            migration_context.migration_id)
    except nova_exc.MigrationNotFound:
        return False
    return migration.source_compute == migration.dest_compute
