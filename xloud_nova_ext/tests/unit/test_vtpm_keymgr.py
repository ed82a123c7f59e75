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

"""keymgr: how key-manager failures become refusals.

The errors are the real classes castellan, python-barbicanclient and
keystoneauth raise, chained the way castellan chains them; the HTTP session
is the one fake edge here. The functional and integration tests read from a
real Barbican.
"""

import socket
import time

from barbicanclient import exceptions as barbican_exc
from castellan.common import exception as castellan_exc
import fixtures
from keystoneauth1 import exceptions as ks_exc
from keystoneauth1.identity import v3
from keystoneauth1 import loading as ks_loading
from keystoneauth1 import token_endpoint
import nova.conf
from nova import service_auth
from oslo_config import cfg
from oslo_config import fixture as config_fixture
from requests_mock.contrib import fixture as rm_fixture

from xloud_harness import testing

from xloud_nova_ext.conf import vtpm as vtpm_conf
from xloud_nova_ext import exception
from xloud_nova_ext.vtpm import keymgr


def castellan_error_from(original):
    """A KeyManagerError raised while handling ``original``.

    As castellan does: it keeps only the message; the status code stays in
    the exception chain.
    """
    try:
        try:
            raise original
        except Exception as e:
            raise castellan_exc.KeyManagerError(reason=e)
    except castellan_exc.KeyManagerError as wrapped:
        return wrapped


class ClassifyTest(testing.TestCase):

    def test_not_found(self):
        self.assertEqual(keymgr.MISSING, keymgr.classify(
            castellan_exc.ManagedObjectNotFoundError(uuid='x')))
        self.assertEqual(keymgr.MISSING, keymgr.classify(castellan_error_from(
            barbican_exc.HTTPClientError('Not Found', status_code=404))))

    def test_forbidden(self):
        self.assertEqual(keymgr.FORBIDDEN, keymgr.classify(
            castellan_error_from(barbican_exc.HTTPClientError(
                'Forbidden', status_code=403))))
        self.assertEqual(keymgr.FORBIDDEN, keymgr.classify(
            castellan_error_from(barbican_exc.HTTPAuthError('Unauthorized'))))
        self.assertEqual(keymgr.FORBIDDEN, keymgr.classify(
            castellan_exc.Forbidden()))

    def test_forbidden_known_only_by_its_text(self):
        # What nova.crypto relies on when the chain is lost.
        self.assertEqual(keymgr.FORBIDDEN, keymgr.classify(
            castellan_exc.KeyManagerError(
                reason='Forbidden: Secret payload retrieval attempt not '
                       'allowed')))

    def test_unreachable(self):
        for error in (ks_exc.ConnectFailure('refused'),
                      ks_exc.ConnectTimeout('timed out'),
                      ks_exc.EndpointNotFound('no key-manager endpoint'),
                      castellan_error_from(barbican_exc.HTTPServerError(
                          'Service Unavailable', status_code=503)),
                      ValueError('anything else')):
            self.assertEqual(keymgr.UNREACHABLE, keymgr.classify(error),
                             error)

    def test_summary_is_short(self):
        self.assertEqual('HTTP 503', keymgr.summary(castellan_error_from(
            barbican_exc.HTTPServerError('x', status_code=503))))
        self.assertEqual('ConnectFailure',
                         keymgr.summary(ks_exc.ConnectFailure('x' * 500)))

    def test_detail_is_bounded(self):
        self.assertLessEqual(
            len(keymgr.detail(ks_exc.ConnectFailure('x' * 1000))), 240)


class FakeResponse(object):
    def __init__(self, status_code, content=b''):
        self.status_code = status_code
        self.content = content
        self.text = content.decode()


class FakeSession(object):
    """The HTTP edge: records the request, answers or raises."""

    def __init__(self, answer):
        self.answer = answer
        self.requests = []

    def get(self, url, **kwargs):
        self.requests.append((url, kwargs))
        if isinstance(self.answer, Exception):
            raise self.answer
        return self.answer


def private_conf(test):
    """A ConfigOpts of our own: [xloud], and castellan's via KeyManager."""
    conf = test.useFixture(config_fixture.Config(cfg.ConfigOpts()))
    conf.register_opt(cfg.StrOpt('host', default='cmp1'))
    conf.register_opts(vtpm_conf.OPTS, group='xloud')
    return conf


class KeyManagerTest(testing.TestCase):

    def setUp(self):
        super().setUp()
        self.conf = private_conf(self)
        self.km = keymgr.KeyManager(self.conf.conf)

    def answer(self, answer):
        sess = FakeSession(answer)
        self.km._session = lambda context: (
            sess, 'http://barbican:9311', 'v1')
        return sess

    def test_barbican_is_enabled(self):
        for backend in keymgr.BARBICAN_BACKENDS:
            self.conf.config(backend=backend, group='key_manager')
            self.km.check_enabled()

    def test_other_backends_are_disabled(self):
        for backend in ('vault', 'nova.keymgr.conf_key_mgr.ConfKeyManager'):
            self.conf.config(backend=backend, group='key_manager')
            err = self.assertRaises(exception.KeyManagerDisabled,
                                    self.km.check_enabled)
            self.assertIn(backend.rsplit('.', 1)[-1], str(err))

    def test_castellan_options_are_registered_its_public_way(self):
        # castellan.options.set_defaults: [barbican] and the service token.
        self.assertIsNone(self.conf.conf.barbican.barbican_endpoint)
        self.assertFalse(self.conf.conf.barbican.send_service_user_token)
        self.assertIn('barbican_service_user', self.conf.conf)

    def test_refusal_names_this_host_as_nova_does(self):
        self.conf.config(host='compute-7')
        self.conf.config(backend='vault', group='key_manager')
        err = self.assertRaises(exception.KeyManagerDisabled,
                                self.km.check_enabled)
        self.assertIn('Host compute-7 ', str(err))

    def test_read_is_one_payload_request(self):
        sess = self.answer(FakeResponse(200, b'c2VjcmV0'))
        self.assertEqual(b'c2VjcmV0', self.km.read(None, 'uuid'))
        [(url, kwargs)] = sess.requests
        self.assertEqual('http://barbican:9311/v1/secrets/uuid/payload', url)
        self.assertEqual('application/octet-stream',
                         kwargs['headers']['Accept'])
        self.assertFalse(kwargs['raise_exc'])

    def test_http_status_outcomes(self):
        for status, outcome in ((404, keymgr.MISSING),
                                (403, keymgr.FORBIDDEN),
                                (401, keymgr.FORBIDDEN),
                                (500, keymgr.UNREACHABLE),
                                (503, keymgr.UNREACHABLE)):
            self.answer(FakeResponse(status, b'{"title": "x"}'))
            err = self.assertRaises(keymgr.KeyManagerReadError,
                                    self.km.read, None, 'uuid')
            self.assertEqual(outcome, err.outcome, status)
            self.assertEqual('HTTP %d' % status, err.summary)

    def test_connection_errors_are_unreachable(self):
        self.answer(ks_exc.ConnectFailure('refused'))
        err = self.assertRaises(keymgr.KeyManagerReadError,
                                self.km.read, None, 'uuid')
        self.assertEqual(keymgr.UNREACHABLE, err.outcome)
        self.assertEqual('ConnectFailure', err.summary)
        # Raised "from None": nothing of the session rides along.
        self.assertIsNone(err.__cause__)
        self.assertTrue(err.__suppress_context__)


class FakeContext(object):
    def __init__(self, auth):
        self.auth = auth

    def get_auth_plugin(self):
        return self.auth


class SilentServerTest(testing.TestCase):
    """A key manager that accepts connections and never answers."""

    def setUp(self):
        super().setUp()
        self.useFixture(fixtures.Timeout(20, gentle=True))
        self.server = socket.socket()
        self.addCleanup(self.server.close)
        self.server.bind(('127.0.0.1', 0))
        self.server.listen(8)
        self.endpoint = 'http://127.0.0.1:%d' % self.server.getsockname()[1]
        self.context = FakeContext(token_endpoint.Token(self.endpoint, 't'))
        self.conf = private_conf(self)
        self.km = keymgr.KeyManager(self.conf.conf)
        self.conf.config(vtpm_key_manager_timeout=0.3, group='xloud')
        self.conf.config(barbican_endpoint=self.endpoint, group='barbican')

    def test_grant_read_gives_up_after_the_timeout(self):
        # grant_read runs inside spawn: it must not block it for ever.
        start = time.monotonic()
        self.assertRaises(ks_exc.ConnectTimeout, self.km.set_readers,
                          self.context, 'uuid', add='nova-user')
        self.assertLess(time.monotonic() - start, 5)

    def test_token_request_gives_up_after_the_timeout(self):
        # The service user's plugin asks keystone for a token first.
        auth = v3.Password(auth_url=self.endpoint, username='nova',
                           password='p', project_name='service',
                           user_domain_id='default',
                           project_domain_id='default')
        start = time.monotonic()
        err = self.assertRaises(keymgr.KeyManagerReadError, self.km.read,
                                FakeContext(auth), 'uuid')
        self.assertEqual(keymgr.UNREACHABLE, err.outcome)
        self.assertLess(time.monotonic() - start, 5)


class TLSTest(testing.TestCase):
    """The [barbican] TLS settings reach every session (castellan's)."""

    def setUp(self):
        super().setUp()
        self.conf = private_conf(self)
        self.km = keymgr.KeyManager(self.conf.conf)
        self.conf.config(barbican_endpoint='https://barbican:9311',
                         group='barbican')
        self.context = FakeContext(token_endpoint.Token(
            'https://barbican:9311', 't'))

    def verify(self):
        sess, _endpoint, _version = self.km._session(self.context)
        return sess.verify

    def test_verification_is_on_by_default(self):
        self.assertIs(True, self.verify())

    def test_configured_ca_is_used(self):
        self.conf.config(verify_ssl_path='/etc/ssl/barbican-ca.pem',
                         group='barbican')
        self.assertEqual('/etc/ssl/barbican-ca.pem', self.verify())

    def test_off_only_when_configured_off(self):
        self.conf.config(verify_ssl=False,
                         verify_ssl_path='/etc/ssl/barbican-ca.pem',
                         group='barbican')
        self.assertIs(False, self.verify())

    def test_service_user_session_verifies_too(self):
        self.conf.config(verify_ssl_path='/etc/ssl/barbican-ca.pem',
                         group='barbican')
        sess = self.km._bounded(token_endpoint.Token('https://x', 't'))
        self.assertEqual('/etc/ssl/barbican-ca.pem', sess.verify)


KEYSTONE = 'http://keystone.test/v3'
BARBICAN = 'http://barbican.test:9311'


def _token_body():
    return {'token': {
        'methods': ['password'], 'expires_at': '2999-01-01T00:00:00Z',
        'issued_at': '2026-01-01T00:00:00Z',
        'user': {'id': 'nova-id', 'name': 'nova',
                 'domain': {'id': 'default', 'name': 'Default'}},
        'project': {'id': 'service-id', 'name': 'service',
                    'domain': {'id': 'default', 'name': 'Default'}},
        'roles': [{'id': 'r', 'name': 'service'}],
        'catalog': [{'type': 'key-manager', 'id': 'km', 'endpoints': [
            {'interface': 'public', 'region': 'RegionOne',
             'region_id': 'RegionOne', 'url': BARBICAN, 'id': 'e'}]}]}}


def service_user_conf(test, auth_url):
    """nova's CONF with [service_user] password credentials."""
    conf = test.useFixture(config_fixture.Config(nova.conf.CONF))
    conf.register_opts(ks_loading.get_auth_plugin_conf_options('v3password'),
                       group='service_user')
    conf.config(auth_type='v3password', auth_url=auth_url, username='nova',
                password='p', user_domain_id='default',
                project_name='service', project_domain_id='default',
                group='service_user')
    return conf


class ServiceUserTest(testing.TestCase):
    """The nova service user: one token, reused, every request bounded.

    The HTTP edge (keystone and Barbican) is requests-mock; the auth
    plugin is the real keystoneauth password plugin nova loads from
    [service_user].
    """

    def setUp(self):
        super().setUp()
        self.conf = service_user_conf(self, KEYSTONE)
        self.conf.config(backend='barbican', group='key_manager')
        self.conf.config(barbican_endpoint_type='public', group='barbican')
        service_auth.reset_globals()
        self.addCleanup(service_auth.reset_globals)
        self.http = self.useFixture(rm_fixture.Fixture())
        self.http.post(KEYSTONE + '/auth/tokens', status_code=201,
                       json=_token_body(), headers={'X-Subject-Token': 'tk'})
        self.http.get(BARBICAN + '/v1/secrets/uuid/payload',
                      content=b'c2VjcmV0')
        self.km = keymgr.KeyManager(nova.conf.CONF)

    def token_requests(self):
        return [r for r in self.http.request_history
                if r.url.endswith('/auth/tokens')]

    def test_token_is_reused_across_reads(self):
        for _ in range(3):
            service = self.km.service_context()
            self.assertEqual('nova-id', service.user_id)
            self.assertEqual(b'c2VjcmV0', self.km.read(service, 'uuid'))
        self.assertEqual(1, len(self.token_requests()))

    def test_barbican_service_token_is_reused_across_reads(self):
        # [barbican] send_service_user_token: every read as the requester
        # carries a [barbican_service_user] token too, fetched once. The
        # group's auth options are registered as castellan's
        # BarbicanKeyManager registers them when nova loads it.
        ks_loading.register_auth_conf_options(nova.conf.CONF,
                                              'barbican_service_user')
        self.conf.register_opts(
            ks_loading.get_auth_plugin_conf_options('v3password'),
            group='barbican_service_user')
        self.conf.config(auth_type='v3password', auth_url=KEYSTONE,
                         username='nova', password='p',
                         user_domain_id='default', project_name='service',
                         project_domain_id='default',
                         group='barbican_service_user')
        self.conf.config(send_service_user_token=True, group='barbican')
        requester = FakeContext(token_endpoint.Token(BARBICAN, 'user-tk'))
        for _ in range(3):
            self.assertEqual(b'c2VjcmV0', self.km.read(requester, 'uuid'))
        reads = [r for r in self.http.request_history
                 if r.url.endswith('/payload')]
        self.assertEqual(3, len(reads))
        for read in reads:
            self.assertEqual('user-tk', read.headers['X-Auth-Token'])
            self.assertEqual('tk', read.headers['X-Service-Token'])
        self.assertEqual(1, len(self.token_requests()))

    def test_every_request_carries_the_timeout(self):
        self.conf.config(vtpm_key_manager_timeout=2.5, group='xloud')
        self.km.read(self.km.service_context(), 'uuid')
        self.assertEqual(2, len(self.http.request_history))
        for request in self.http.request_history:
            self.assertEqual(2.5, request.timeout, request.url)


class SilentKeystoneTest(testing.TestCase):
    """A keystone that accepts connections and never answers."""

    def setUp(self):
        super().setUp()
        self.useFixture(fixtures.Timeout(20, gentle=True))
        self.server = socket.socket()
        self.addCleanup(self.server.close)
        self.server.bind(('127.0.0.1', 0))
        self.server.listen(8)
        url = 'http://127.0.0.1:%d/v3' % self.server.getsockname()[1]
        self.conf = service_user_conf(self, url)
        self.conf.config(vtpm_key_manager_timeout=0.3, group='xloud')
        service_auth.reset_globals()
        self.addCleanup(service_auth.reset_globals)
        self.km = keymgr.KeyManager(nova.conf.CONF)

    def test_who_the_service_user_is_gives_up_after_the_timeout(self):
        start = time.monotonic()
        self.assertRaises(ks_exc.ConnectTimeout, self.km.service_context)
        self.assertLess(time.monotonic() - start, 5)


class TimeoutOptionTest(testing.TestCase):

    def test_not_a_number_falls_back_to_the_default(self):
        # oslo.config's min/max let 'nan' through; requests would fail with
        # it as if Barbican were down.
        conf = private_conf(self)
        conf.config(vtpm_key_manager_timeout=float('nan'), group='xloud')
        km = keymgr.KeyManager(conf.conf)
        self.assertEqual(10.0, km._bounded(None).timeout)

    def test_empty_falls_back_to_the_default(self):
        # 'vtpm_key_manager_timeout =' in a file reads as None.
        conf = private_conf(self)
        conf.config(vtpm_key_manager_timeout=None, group='xloud')
        km = keymgr.KeyManager(conf.conf)
        self.assertEqual(10.0, km._bounded(None).timeout)

    def test_infinity_is_refused_by_its_bound(self):
        conf = private_conf(self)
        self.assertRaises(ValueError, conf.config,
                          vtpm_key_manager_timeout=float('inf'),
                          group='xloud')
