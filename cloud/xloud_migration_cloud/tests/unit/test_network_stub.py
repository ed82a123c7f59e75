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


import json

from xloud_harness import testing

from xloud_migration_cloud import network_stub


def call(method, path):
    seen = {}

    def start_response(status, headers):
        seen['status'] = status

    body = b''.join(network_stub.application(
        {'REQUEST_METHOD': method, 'PATH_INFO': path}, start_response))
    return seen['status'], json.loads(body)


class NetworkStubTest(testing.TestCase):

    def test_security_groups_of_any_project_are_empty(self):
        status, body = call('GET', '/v2.0/security-groups')
        self.assertEqual('200 OK', status)
        self.assertEqual({'security_groups': []}, body)

    def test_no_extension(self):
        # nova's API lists them before a server moves (real cloud).
        status, body = call('GET', '/v2.0/extensions')
        self.assertEqual('200 OK', status)
        self.assertEqual({'extensions': []}, body)

    def test_anything_else_is_not_found_and_says_why(self):
        status, body = call('POST', '/v2.0/ports')
        self.assertEqual('404 Not Found', status)
        self.assertIn('no network service', body['NeutronError']['message'])
        status, _ = call('DELETE', '/v2.0/security-groups/abc')
        self.assertEqual('404 Not Found', status)
