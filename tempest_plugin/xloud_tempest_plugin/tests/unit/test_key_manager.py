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

from unittest import mock

import fixtures
from oslo_serialization import jsonutils as json

from tempest.lib import decorators
from tempest.lib import exceptions as lib_exc
from tempest.tests.lib import fake_auth_provider
from tempest.tests.lib import fake_http

from xloud_tempest_plugin.services import key_manager
from xloud_tempest_plugin.tests.unit import base

SECRET_UUID = '3016223a-b41f-4769-b044-71ba2de1f2b6'
SECRET = {'name': 'vTPM secret for instance i-1', 'status': 'ACTIVE',
          'secret_ref': 'http://kc.example/key-manager/v1/secrets/' +
          SECRET_UUID}


class TestSecretsClient(base.TestCase):

    def setUp(self):
        super().setUp()
        self.client = key_manager.SecretsClient(
            fake_auth_provider.FakeAuthProvider(), 'key-manager', 'r1')
        self.request = self.useFixture(fixtures.MockPatch(
            'tempest.lib.common.http.ClosingHttp.request')).mock

    def _reply(self, status, body):
        self.request.return_value = (
            fake_http.fake_http_response(
                {'content-type': 'application/json'}, status=status),
            json.dumps(body).encode('utf-8'))

    @decorators.idempotent_id('f55b755f-6633-4840-b6cf-e728d80d7106')
    def test_list_secrets_by_name(self):
        self._reply(200, {'secrets': [SECRET], 'total': 1})
        body = self.client.list_secrets(name='vTPM secret for instance i-1')
        self.assertEqual([SECRET], body['secrets'])
        url, method = self.request.call_args[0][:2]
        self.assertEqual('GET', method)
        self.assertEqual('v1/secrets?name=vTPM+secret+'
                         'for+instance+i-1', url)

    @decorators.idempotent_id('57e4bf45-3ddc-4604-a363-fb18d46693a0')
    def test_show_secret(self):
        self._reply(200, SECRET)
        self.assertEqual('ACTIVE',
                         self.client.show_secret(SECRET_UUID)['status'])
        url = self.request.call_args[0][0]
        self.assertEqual('v1/secrets/' + SECRET_UUID, url)

    @decorators.idempotent_id('73880388-12af-4d74-866d-df8865e2ae1a')
    def test_errors_map_to_tempest_exceptions(self):
        self._reply(404, {'code': 404, 'title': 'Not Found'})
        self.assertRaises(lib_exc.NotFound, self.client.show_secret, 'x')
        self._reply(403, {'code': 403, 'title': 'Forbidden'})
        self.assertRaises(lib_exc.Forbidden, self.client.list_secrets)

    @decorators.idempotent_id('d7e0c2b6-2b0f-4c43-9f53-6a4a3c1d2e5f')
    def test_payload_read_returns_only_the_status_and_logs_nothing(self):
        response = mock.Mock(status=403)
        self.request.return_value = (response, b'')
        with mock.patch.object(self.client, '_log_request') as logged:
            self.assertEqual(403,
                             self.client.read_payload_status(SECRET_UUID))
        url, method = self.request.call_args[0][:2]
        self.assertEqual(('v1/secrets/%s/payload' % SECRET_UUID, 'GET'),
                         (url, method))
        kwargs = self.request.call_args[1]
        self.assertEqual('application/octet-stream',
                         kwargs['headers']['Accept'])
        # Streamed: tempest neither reads nor logs the body.
        self.assertFalse(kwargs['preload_content'])
        logged.assert_not_called()
        response.close.assert_called_once_with()

    @decorators.idempotent_id('2f1eaa72-26f1-4459-b615-5d38994f4afd')
    def test_secret_uuid_from_its_ref(self):
        self.assertEqual(SECRET_UUID, key_manager.secret_uuid(SECRET))
        self.assertEqual(SECRET_UUID, key_manager.secret_uuid(
            {'secret_ref': SECRET['secret_ref'] + '/'}))
