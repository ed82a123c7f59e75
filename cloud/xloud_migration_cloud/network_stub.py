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


"""A stand-in for the network API, named as the fake it is.

The embedded cloud has no neutron server (nova's computes use nova's
NeutronFixture in-process). Tempest still calls the network API from the
catalog when it cleans up dynamic credentials: it lists and deletes the
project's security groups. In the real cloud (``--hypervisor libvirt``)
nova's own API asks too: for the extensions before a server moves, and for
ports. This answers those calls with an empty world and everything else
with 404, so a test never passes by talking to it.
"""

import json

EMPTY_LISTS = {
    '/v2.0/security-groups': 'security_groups',
    '/v2.0/security-group-rules': 'security_group_rules',
    '/v2.0/networks': 'networks',
    '/v2.0/subnets': 'subnets',
    '/v2.0/ports': 'ports',
    '/v2.0/routers': 'routers',
    '/v2.0/floatingips': 'floatingips',
    # No extension: nova then asks for no extended resource requests.
    '/v2.0/extensions': 'extensions',
}


def application(environ, start_response):
    path = environ.get('PATH_INFO', '').rstrip('/')
    if path.endswith('.json'):
        path = path[:-len('.json')]
    if environ['REQUEST_METHOD'] == 'GET' and path in EMPTY_LISTS:
        status, body = '200 OK', {EMPTY_LISTS[path]: []}
    elif environ['REQUEST_METHOD'] == 'GET' and path in ('', '/v2.0'):
        status, body = '200 OK', {'versions': [
            {'id': 'v2.0', 'status': 'CURRENT', 'links': []}]}
    else:
        status, body = '404 Not Found', {'NeutronError': {
            'type': 'NotFound', 'detail': '',
            'message': 'the embedded cloud has no network service: '
                       '%s %s' % (environ['REQUEST_METHOD'], path)}}
    data = json.dumps(body).encode()
    start_response(status, [('Content-Type', 'application/json'),
                            ('Content-Length', str(len(data)))])
    return [data]
