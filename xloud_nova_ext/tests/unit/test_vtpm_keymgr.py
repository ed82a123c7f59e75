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
from keystoneauth1 import token_endpoint
from oslo_config import cfg
from oslo_config import fixture as config_fixture
import testtools

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


class ClassifyTest(testtools.TestCase):

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


class KeyManagerTest(testtools.TestCase):

    def setUp(self):
        super().setUp()
        self.conf = self.useFixture(config_fixture.Config(cfg.ConfigOpts()))
        self.conf.register_opt(cfg.StrOpt('backend'), group='key_manager')
        self.conf.register_opts(vtpm_conf.OPTS, group='xloud')
        self.km = keymgr.KeyManager('cmp1', self.conf.conf)

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

    def test_read_is_one_payload_request(self):
        sess = self.answer(FakeResponse(200, b'c2VjcmV0'))
        self.assertEqual(b'c2VjcmV0', self.km.read(None, 'uuid'))
        [(url, kwargs)] = sess.requests
        self.assertEqual('http://barbican:9311/v1/secrets/uuid/payload', url)
        self.assertEqual('application/octet-stream',
                         kwargs['headers']['Accept'])
        self.assertEqual(10.0, kwargs['timeout'])
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


class SilentServerTest(testtools.TestCase):
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
        self.conf = self.useFixture(config_fixture.Config(cfg.ConfigOpts()))
        self.conf.register_opt(cfg.StrOpt('backend'), group='key_manager')
        self.conf.register_opts(vtpm_conf.OPTS, group='xloud')
        self.km = keymgr.KeyManager('cmp1', self.conf.conf)
        # The first session registers castellan's [barbican] options.
        self.km._session(self.context)
        self.conf.config(vtpm_key_manager_timeout=0.3, group='xloud')
        self.conf.config(barbican_endpoint=self.endpoint, group='barbican')

    def test_grant_read_gives_up_after_the_timeout(self):
        # grant_read runs inside spawn: it must not block it for ever.
        start = time.monotonic()
        self.assertRaises(ks_exc.ConnectTimeout, self.km.grant_read,
                          self.context, 'uuid', 'nova-user')
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
