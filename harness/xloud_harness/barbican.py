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

"""A real Barbican server (127.0.0.1 by default), and how clients talk to it.

:class:`BarbicanServer` runs barbican 23's own API application (pecan app,
sqlite database or the one given, ``store_crypto`` with ``simple_crypto``
and a generated Fernet KEK, the real policy with its new defaults) in a
child process served by :mod:`xloud_harness.wsgi`. It is a small class with
``start()``/``stop()`` so that the functional tests and both demo clouds
can use it (a cloud that records its children itself starts
``prepare()``'s service on its own); :func:`shared_server` starts one per
process (about 1-2 s, 130 MB) and stops it at exit.

The one fake edge is keystone: instead of keystonemiddleware's ``authtoken``
the pipeline uses barbican's own ``context`` middleware, which trusts the
identity headers (``X-Identity-Status: Confirmed``, ``X-Project-Id``,
``X-User-Id``, ``X-Roles``) that authtoken would set after validating a
token. :class:`IdentityHeadersAuth` is the keystoneauth plugin that sends
them, so castellan's BarbicanKeyManager and python-barbicanclient run
unmodified, and Barbican's policy decides with the caller's real project,
user and roles (another project really gets 403).
"""

import atexit
import base64
import os
import shutil
import tempfile
import threading

import fixtures
from keystoneauth1 import plugin as ks_plugin
import nova.conf
from nova import context as nova_context
from nova import service_auth

from xloud_harness import keystone
from xloud_harness import process

_CONF = """\
[DEFAULT]
sql_connection = {connection}
db_auto_create = True
log_file = {workdir}/barbican.log
debug = False

[secretstore]
enabled_secretstore_plugins = store_crypto

[crypto]
enabled_crypto_plugins = simple_crypto

[simple_crypto_plugin]
kek = {kek}
"""

# barbican's shipped pipeline minus authtoken (keystone), see module doc.
_PASTE = """\
[composite:main]
use = egg:Paste#urlmap
/: barbican_version
/v1: barbican_api

[pipeline:barbican_version]
pipeline = request_id http_proxy_to_wsgi microversion versionapp

[pipeline:barbican_api]
pipeline = request_id http_proxy_to_wsgi {auth}context microversion apiapp

[app:apiapp]
paste.app_factory = barbican.api.app:create_main_app

[app:versionapp]
paste.app_factory = barbican.api.app:create_version_app

[filter:context]
paste.filter_factory = {mw}.context:ContextMiddleware.factory

[filter:microversion]
paste.filter_factory = {mw}.microversion:MicroversionMiddleware.factory

[filter:request_id]
paste.filter_factory = oslo_middleware.request_id:RequestId.factory

[filter:http_proxy_to_wsgi]
paste.filter_factory = oslo_middleware:HTTPProxyToWSGI.factory
"""


class BarbicanStartError(process.ServiceError):
    pass


class BarbicanServer(object):
    """One Barbican API server process on ``address`` (a free port default)."""

    def __init__(self, start_timeout=60.0, keystone=None, tmpdir=None,
                 address='127.0.0.1', port=None, connection=None):
        """A server; tokens are validated by keystone when given.

        :param keystone: (url, barbican's service password): keystonemiddleware
            validates tokens there; None trusts identity headers instead.
        :param tmpdir: where its work directory goes (default: $TMPDIR).
        :param port: the port to serve; None: a free one, chosen by the
            server itself.
        :param connection: its database's SQLAlchemy URL; None: sqlite in
            its work directory.
        """
        self.start_timeout = start_timeout
        self.keystone = keystone
        self.tmpdir = tmpdir
        self.address = address
        self.connection = connection
        self._port = port
        self.workdir = None
        self._service = None

    @property
    def port(self):
        return self._service.port if self._service else None

    @property
    def endpoint(self):
        return 'http://%s:%d' % (self.address, self.port)

    @property
    def log_path(self):
        return os.path.join(self.workdir, 'barbican.log')

    @property
    def running(self):
        return self._service is not None and self._service.running

    def start(self):
        if self.running:
            return self
        service = self.prepare()
        try:
            service.start()
        except process.ServiceError as e:
            self.stop(keep_workdir=True)
            raise BarbicanStartError(str(e))
        except BaseException:
            self.stop()
            raise
        return self

    def prepare(self):
        """Write the work directory; the (not started) Service serving it.

        start() starts it; a caller that records its children itself starts
        ``service.argv`` with ``service.env`` in ``service.cwd`` and waits
        for ``running`` and an answer on :attr:`endpoint`.
        """
        # Not tempfile's default: oslotest's NestedTempfile points it at a
        # directory removed after each test, and this server outlives tests.
        self.workdir = tempfile.mkdtemp(
            prefix='xloud-barbican-',
            dir=self.tmpdir or os.environ.get('TMPDIR', '/tmp'))
        # barbican parses its configuration when it is imported: oslo.config
        # finds $HOME/.barbican/barbican.conf.
        os.makedirs(os.path.join(self.workdir, '.barbican'))
        kek = base64.urlsafe_b64encode(os.urandom(32)).decode()
        with open(os.path.join(self.workdir, '.barbican',
                               'barbican.conf'), 'w') as f:
            f.write(_CONF.format(
                workdir=self.workdir, kek=kek, connection=self.connection or
                'sqlite:///%s/barbican.sqlite' % self.workdir))
        paste_path = os.path.join(self.workdir, 'barbican-api-paste.ini')
        with open(paste_path, 'w') as f:
            paste = _PASTE.format(mw='barbican.api.middleware',
                                  auth='authtoken ' if self.keystone else '')
            if self.keystone:
                url, password = self.keystone
                paste += keystone.authtoken_filter(url, 'barbican', password)
            f.write(paste)
        env = dict(os.environ, HOME=self.workdir)
        # Not inherited: a parent's oslo.config arguments or paste config.
        env.pop('OS_WSGI__API_PASTE_CONFIG', None)
        port_file = None if self._port else os.path.join(self.workdir,
                                                         'port')
        self._service = process.Service(
            'Barbican', process.python_argv(
                'xloud_harness.wsgi', '--address', self.address,
                'paste:%s#main' % paste_path, self._port or 0,
                *([port_file] if port_file else [])),
            self.log_path, port=self._port, port_file=port_file, env=env,
            cwd=self.workdir, timeout=self.start_timeout,
            address=self.address)
        return self._service

    def stop(self, keep_workdir=False):
        service, self._service = self._service, None
        if service is not None:
            service.stop()
        if self.workdir and not keep_workdir:
            shutil.rmtree(self.workdir, ignore_errors=True)
            self.workdir = None

    def client_auth(self, project_id, user_id, roles):
        """A keystoneauth plugin acting as that identity towards us."""
        return IdentityHeadersAuth(project_id, user_id, roles,
                                   endpoint=self.endpoint)


class IdentityHeadersAuth(ks_plugin.BaseAuthPlugin):
    """keystoneauth plugin sending the identity keystone would vouch for.

    FAKE EDGE (keystone): no token is issued or validated; the headers are
    those keystonemiddleware's authtoken sets on a validated request.
    """

    def __init__(self, project_id, user_id, roles, endpoint=None):
        super().__init__()
        self.project_id = project_id
        self.user_id = user_id
        self.roles = list(roles or [])
        self.endpoint = endpoint

    def get_headers(self, session, **kwargs):
        return {
            'X-Identity-Status': 'Confirmed',
            'X-Project-Id': self.project_id or '',
            'X-User-Id': self.user_id or '',
            'X-Roles': ','.join(self.roles),
        }

    def get_endpoint(self, session, **kwargs):
        return self.endpoint

    def get_user_id(self, session, **kwargs):
        return self.user_id

    def get_project_id(self, session, **kwargs):
        return self.project_id


_shared = None
_shared_lock = threading.Lock()


def shared_server():
    """The Barbican server of this process, started on first use."""
    global _shared
    with _shared_lock:
        if _shared is None or not _shared.running:
            _shared = BarbicanServer().start()
            atexit.register(_shared.stop)
        return _shared


class NovaKeyManagerFixture(fixtures.Fixture):
    """Point nova (castellan, our vTPM code) at a real Barbican server.

    Sets ``[key_manager] backend = barbican`` and ``[barbican]
    barbican_endpoint``, makes every nova RequestContext authenticate as its
    own project, user and roles (:class:`IdentityHeadersAuth`, the fake
    keystone edge), and makes ``get_nova_service_user_context()`` and the
    ``[service_user]`` auth plugin of ``nova.service_auth`` stand for the nova
    service user: project ``SERVICE_PROJECT``, with the roles devstack gives
    it, so Barbican's policy treats it as it would in a cloud.
    """

    SERVICE_PROJECT = 'service'
    SERVICE_USER = 'nova'
    SERVICE_ROLES = ('admin', 'member', 'reader', 'service')

    def __init__(self, server, conf=None):
        super().__init__()
        self.server = server
        self._conf = conf

    def _setUp(self):
        conf = self._conf or nova.conf.CONF
        for group, name, value in (
                ('key_manager', 'backend', 'barbican'),
                ('barbican', 'barbican_endpoint', self.server.endpoint),
                ('barbican', 'barbican_api_version', 'v1')):
            conf.set_override(name, value, group=group)
            self.addCleanup(conf.clear_override, name, group=group)
        # nova caches its castellan key manager per process.
        self.useFixture(fixtures.MonkeyPatch('nova.crypto._KEYMGR', None))

        server = self.server

        def get_auth_plugin(context):
            return context.user_auth_plugin or server.client_auth(
                context.project_id, context.user_id, context.roles)

        self.useFixture(fixtures.MonkeyPatch(
            'nova.context.RequestContext.get_auth_plugin', get_auth_plugin))
        self.useFixture(fixtures.MonkeyPatch(
            'nova.context.get_nova_service_user_context',
            self.service_context))
        # The [service_user] auth plugin, as nova.service_auth loads it.
        real_plugin = service_auth.get_service_auth_plugin

        def get_service_auth_plugin(conf_group):
            if conf_group == 'service_user':
                return self.service_auth()
            return real_plugin(conf_group)

        self.useFixture(fixtures.MonkeyPatch(
            'nova.service_auth.get_service_auth_plugin',
            get_service_auth_plugin))

    def service_auth(self):
        return self.server.client_auth(
            self.SERVICE_PROJECT, self.SERVICE_USER, self.SERVICE_ROLES)

    def service_context(self):
        # is_admin given, as nova would compute it from the roles: without
        # it nova loads its policy, which needs a parsed configuration.
        return nova_context.RequestContext(
            user_id=self.SERVICE_USER, project_id=self.SERVICE_PROJECT,
            roles=list(self.SERVICE_ROLES),
            is_admin='admin' in self.SERVICE_ROLES,
            user_auth_plugin=self.service_auth(), overwrite=False)
