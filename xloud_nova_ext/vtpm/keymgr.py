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

"""The key-manager side of the vTPM transfer: read a secret, grant a read.

Both use the options nova's castellan key manager uses (``[key_manager]
backend``, ``[barbican]``, the request context's auth plugin, the service
token wrapper), so they reach the Barbican that holds nova's secrets with
the same credentials and TLS settings. Every request, keystone's included,
is bounded by ``[xloud] vtpm_key_manager_timeout``; the nova service user's
auth plugins are loaded once, so their tokens are reused until they expire.

A read is one ``GET /v1/secrets/{uuid}/payload`` on a keystoneauth session:
it answers "exists", "may read" and the value in one request (7-10 ms on
loopback). castellan's ``get()`` answers the same with 13-15 requests
(python-barbicanclient re-reads the metadata for each lazy property
castellan touches), 150-260 ms, five times the budget of the pre-check.
castellan has no ACL API; the grant uses python-barbicanclient's.

Every failure becomes one of four refusals with a stable code; the value of
a secret is never logged or put into an exception.
"""

import math

from barbicanclient import client as barbican_client
from barbicanclient import exceptions as barbican_exc
from castellan.common import exception as castellan_exc
from castellan import options as castellan_options
from keystoneauth1 import exceptions as ks_exc
from keystoneauth1 import loading as ks_loading
from keystoneauth1 import service_token
from keystoneauth1 import session as ks_session
import nova.conf
from nova import context as nova_context
from nova import service_auth
from oslo_log import log as logging
import requests

from xloud_nova_ext.conf import vtpm as vtpm_conf
from xloud_nova_ext import exception

CONF = nova.conf.CONF
LOG = logging.getLogger(__name__)

#: ``[key_manager] backend`` values that mean Barbican.
BARBICAN_BACKENDS = (
    'barbican',
    'castellan.key_manager.barbican_key_manager.BarbicanKeyManager',
)

_DETAIL_MAX = 240
_TIMEOUT_OPT = [o for o in vtpm_conf.OPTS
                if o.name == 'vtpm_key_manager_timeout'][0]

# Outcomes of one read attempt, see classify().
MISSING = 'missing'
FORBIDDEN = 'forbidden'
UNREACHABLE = 'unreachable'


def _chain(exc):
    """``exc`` and the exceptions it was raised from or while handling.

    castellan re-raises barbicanclient's HTTP errors as KeyManagerError
    without their status code; the original stays in ``__context__``.
    """
    seen = set()
    while exc is not None and id(exc) not in seen:
        seen.add(id(exc))
        yield exc
        exc = exc.__cause__ or exc.__context__


def _status(exc):
    return getattr(exc, 'status_code', None) or getattr(
        exc, 'http_status', None)


def classify(exc):
    """MISSING, FORBIDDEN or UNREACHABLE for an error of a key-manager call.

    Anything that is neither "not found" nor "not allowed" counts as the key
    manager not answering properly: refusing then is better than failing
    after the guest has stopped.
    """
    for e in _chain(exc):
        if isinstance(e, castellan_exc.ManagedObjectNotFoundError):
            return MISSING
        # HTTPAuthError (401) carries no status_code (barbicanclient 7.6).
        if isinstance(e, (castellan_exc.Forbidden,
                          barbican_exc.HTTPAuthError)):
            return FORBIDDEN
        status = _status(e)
        if status == 404:
            return MISSING
        if status in (401, 403):
            return FORBIDDEN
        if isinstance(e, (ks_exc.ConnectionError, ks_exc.EndpointNotFound,
                          ks_exc.DiscoveryFailure,
                          requests.exceptions.ConnectionError)):
            return UNREACHABLE
    # nova.crypto relies on the same text: castellan keeps only the message.
    if 'Forbidden' in str(exc):
        return FORBIDDEN
    return UNREACHABLE


def detail(exc):
    """A value-free description of the deepest error of ``exc`` (logs)."""
    root = list(_chain(exc))[-1]
    text = '%s: %s' % (type(root).__name__, root)
    if len(text) > _DETAIL_MAX:
        text = text[:_DETAIL_MAX - 3] + '...'
    return text


def summary(exc):
    """A few words for a refusal text: an HTTP status or an error type."""
    for e in _chain(exc):
        status = _status(e)
        if status:
            return 'HTTP %s' % status
    return type(list(_chain(exc))[-1]).__name__


class KeyManager(object):
    """Reads vTPM secrets and sets their read ACL, for this host."""

    def __init__(self, conf=CONF):
        self._conf = conf
        # castellan's public way to register its options ([key_manager],
        # [barbican], [barbican_service_user]); nova.conf calls it too.
        castellan_options.set_defaults(conf)
        self._barbican_service_auth = None

    @property
    def backend(self):
        return self._conf.key_manager.backend

    @property
    def is_barbican(self):
        return self.backend in BARBICAN_BACKENDS

    def check_enabled(self):
        if not self.is_barbican:
            # A class path is long; its last part names it well enough.
            raise exception.KeyManagerDisabled(
                host=self._conf.host, backend=self.backend.rsplit('.', 1)[-1])

    def read(self, context, secret_uuid):
        """The secret's value (bytes) as ``context`` may read it.

        :raises: KeyManagerReadError carrying MISSING, FORBIDDEN or
            UNREACHABLE and a value-free detail.
        """
        try:
            sess, endpoint, version = self._session(context)
            resp = sess.get(
                '%s/%s/secrets/%s/payload' % (endpoint, version, secret_uuid),
                headers={'Accept': 'application/octet-stream'},
                raise_exc=False)
        except Exception as e:
            raise KeyManagerReadError(classify(e), detail(e),
                                      summary(e)) from None
        if resp.status_code == 200:
            return resp.content
        text = 'HTTP %s' % resp.status_code
        outcome = {404: MISSING, 401: FORBIDDEN, 403: FORBIDDEN}.get(
            resp.status_code, UNREACHABLE)
        raise KeyManagerReadError(outcome, '%s: %s' % (
            text, resp.text[:_DETAIL_MAX]), text)

    def set_readers(self, owner_context, secret_uuid, add=None, remove=()):
        """Add ``add`` to the secret's ``read`` ACL users, drop ``remove``.

        Reads the ACL first and keeps its project-access flag and the other
        users; submits only if something changes (True then). Must run with
        a context allowed to change the ACL (the owner's or its project
        admin's).
        """
        sess, endpoint, version = self._session(owner_context)
        client = barbican_client.Client(session=sess, endpoint=endpoint,
                                        version=version)
        acl = client.acls.get(secret_uuid, ref_type='secret')
        read = acl.read
        users = list(read.users or [])
        wanted = [u for u in users if u not in remove]
        if add and add not in wanted:
            wanted.append(add)
        if wanted == users:
            return False
        read.users = wanted
        acl.submit()
        return True

    def service_context(self):
        """A RequestContext of the nova service user, or None.

        As nova's ``get_nova_service_user_context`` (same ``[service_user]``
        auth plugin, loaded once by nova, so its token is reused), but the
        keystone requests that learn who it is are bounded by our timeout.
        """
        auth = service_auth.get_service_auth_plugin('service_user')
        if auth is None:
            return None
        sess = self._bounded(auth)
        # is_admin given: nova would otherwise consult its policy; Barbican
        # decides with the token, not with this flag.
        return nova_context.RequestContext(
            user_id=auth.get_user_id(sess),
            project_id=auth.get_project_id(sess), is_admin=False,
            user_auth_plugin=auth, overwrite=False)

    def _bounded(self, auth):
        """A keystoneauth session with our TLS settings and timeout.

        Every request of the session is bounded, the token and catalog
        requests of the auth plugin included.
        """
        bconf = self._conf.barbican
        verify = bconf.verify_ssl and (bconf.verify_ssl_path or True)
        return ks_session.Session(auth=auth, verify=verify,
                                  timeout=self.timeout)

    @property
    def timeout(self):
        """``[xloud] vtpm_key_manager_timeout``, a finite number of seconds.

        oslo.config's bounds let ``nan`` through, and an empty value reads
        as None; a session with either would fail every request as if
        Barbican were down, or wait for ever.
        """
        timeout = self._conf.xloud.vtpm_key_manager_timeout
        if timeout is not None and math.isfinite(timeout):
            return timeout
        default = _TIMEOUT_OPT.default
        LOG.warning('[xloud] vtpm_key_manager_timeout = %(bad)s is not a '
                    'number of seconds; using %(default)s.',
                    {'bad': timeout, 'default': default})
        return default

    def _session(self, context):
        """A keystoneauth session, the Barbican endpoint and API version.

        The same inputs castellan's BarbicanKeyManager uses: the context's
        auth plugin (a service token around it if configured), the
        ``[barbican]`` endpoint or the catalog's key-manager endpoint.
        """
        bconf = self._conf.barbican
        auth = context.get_auth_plugin()
        if bconf.send_service_user_token:
            auth = service_token.ServiceTokenAuthWrapper(
                user_auth=auth, service_auth=self._service_token_auth())
        sess = self._bounded(auth)
        endpoint = bconf.barbican_endpoint or auth.get_endpoint(
            sess, service_type='key-manager',
            interface=bconf.barbican_endpoint_type,
            region_name=bconf.barbican_region_name)
        if not endpoint:
            raise ks_exc.EndpointNotFound('no key-manager endpoint')
        return sess, endpoint.rstrip('/'), bconf.barbican_api_version or 'v1'

    def _service_token_auth(self):
        # Loaded once: a new plugin per read would fetch a token per read.
        if self._barbican_service_auth is None:
            self._barbican_service_auth = (
                ks_loading.load_auth_from_conf_options(
                    self._conf, group='barbican_service_user'))
        return self._barbican_service_auth


class KeyManagerReadError(Exception):
    """A failed read: ``outcome`` is MISSING, FORBIDDEN or UNREACHABLE.

    ``detail`` is for logs, ``summary`` (a few words) for refusal texts.
    """

    def __init__(self, outcome, detail, summary):
        super().__init__('%s: %s' % (outcome, detail))
        self.outcome = outcome
        self.detail = detail
        self.summary = summary
