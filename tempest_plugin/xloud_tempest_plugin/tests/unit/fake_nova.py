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

"""A fake nova compute API behind tempest's HTTP layer.

Real tempest.lib clients (and their response schemas at microversion 2.84)
talk to it through tempest.lib.common.http.ClosingHttp.request, answered
with tempest's fake_http responses.
"""

from urllib import parse
import uuid

import fixtures
from oslo_serialization import jsonutils as json

from tempest.lib.common import api_microversion_fixture
from tempest.lib.services.compute import migrations_client
from tempest.lib.services.compute import servers_client
from tempest.tests.lib import fake_auth_provider
from tempest.tests.lib import fake_http

MICROVERSION = '2.84'
T0 = '2026-01-01T00:00:00.000000'
T1 = '2026-01-01T00:00:07.500000'


def server_body(server_id, host, status, task_state=None, fault=None):
    body = {
        'id': server_id, 'name': 'vm', 'status': status, 'addresses': {},
        'created': T0, 'updated': T1, 'description': None, 'hostId': 'h',
        'flavor': {'original_name': 'm1.tiny', 'disk': 1, 'ephemeral': 0,
                   'ram': 512, 'swap': 0, 'vcpus': 1},
        'image': '', 'links': [], 'locked_reason': None, 'metadata': {},
        'server_groups': [], 'tags': [], 'tenant_id': 'project',
        'trusted_image_certificates': None, 'user_id': 'user',
        'OS-EXT-SRV-ATTR:host': host,
        'OS-EXT-STS:task_state': task_state,
        'OS-EXT-STS:vm_state': status.lower(),
    }
    if fault:
        body['fault'] = {'code': 500, 'created': T1, 'message': fault}
    return body


class FakeNova(fixtures.Fixture):
    """Servers, migration records, instance actions and console logs."""

    def __init__(self):
        super().__init__()
        self.servers = {}
        self.migrations = []
        self.actions = {}
        self.consoles = {}
        # Like an API that ignores os-migrations filters: the clients must
        # still never take another instance's record.
        self.ignore_filters = False
        self.requests = []
        # Hosts the fake scheduler picks from, and destinations whose
        # pre-check refuses with the given text.
        self.hosts = ['cmp1', 'cmp2', 'cmp3']
        self.refusals = {}
        # Destinations with room for one block migration at a time: the
        # pre-check refuses another one, with the given text, while one
        # is in flight there.
        self.room_for_one = {}
        self._pending = {}
        self.actions_requested = []

    def _setUp(self):
        self.useFixture(fixtures.MockPatch(
            'tempest.lib.common.http.ClosingHttp.request',
            side_effect=self._request))
        self.useFixture(api_microversion_fixture.APIMicroversionFixture(
            compute_microversion=MICROVERSION))

    def clients(self, build_interval=1, build_timeout=10):
        """Admin servers and migrations clients of this fake."""
        auth = fake_auth_provider.FakeAuthProvider()
        kwargs = dict(build_interval=build_interval,
                      build_timeout=build_timeout)
        return (servers_client.ServersClient(auth, 'compute', 'r1', **kwargs),
                migrations_client.MigrationsClient(auth, 'compute', 'r1',
                                                   **kwargs))

    def add_server(self, host, status='ACTIVE', task_state=None, fault=None):
        server_id = str(uuid.uuid4())
        self.servers[server_id] = server_body(server_id, host, status,
                                              task_state, fault)
        return server_id

    def move_server(self, server_id, host, status='ACTIVE', task_state=None):
        self.servers[server_id].update({
            'OS-EXT-SRV-ATTR:host': host, 'status': status,
            'OS-EXT-STS:task_state': task_state})

    def add_migration(self, server_id, statuses, source, dest,
                      migration_type='live-migration'):
        """A record whose status steps through statuses, one per listing."""
        statuses = [statuses] if isinstance(statuses, str) else statuses
        record = {
            'id': len(self.migrations) + 100, 'uuid': str(uuid.uuid4()),
            'status': statuses[0], 'instance_uuid': server_id,
            'migration_type': migration_type,
            'source_compute': source, 'source_node': source,
            'dest_compute': dest, 'dest_node': dest, 'dest_host': None,
            'old_instance_type_id': 1, 'new_instance_type_id': 1,
            'created_at': T0, 'updated_at': T1,
            'user_id': 'user', 'project_id': 'project',
        }
        self.migrations.append((record, list(statuses[1:])))
        return record

    def add_action(self, server_id, request_id, events,
                   action='live-migration'):
        """An instance action; events are (name, result, details, tb)."""
        self.actions.setdefault(server_id, []).append({
            'action': action, 'request_id': request_id, 'user_id': 'user',
            'project_id': 'project', 'start_time': T0, 'updated_at': T1,
            'message': 'Error' if any(e[1] == 'Error' for e in events)
            else None,
            'instance_uuid': server_id,
            'events': [{'event': name, 'result': result, 'details': details,
                        'traceback': tb, 'start_time': T0,
                        'finish_time': T1, 'hostId': 'h', 'host': 'h'}
                       for name, result, details, tb in events]})

    def set_console(self, server_id, *outputs):
        """Console logs returned in turn; the last one stays."""
        self.consoles[server_id] = list(outputs)

    def requested(self, fragment):
        return [r for r in self.requests if fragment in r]

    def _request(self, url, method, headers=None, body=None, **kwargs):
        parts = parse.urlsplit(url)
        query = dict(parse.parse_qsl(parts.query))
        path = parts.path.strip('/').split('/')
        self.requests.append('%s %s' % (method, url))
        if path == ['os-migrations']:
            return self._reply(200, {'migrations': self._list(query)})
        server_id = path[1]
        if server_id not in self.servers:
            return self._reply(404, {'itemNotFound': {
                'code': 404, 'message': 'Instance could not be found.'}})
        if len(path) == 2:
            return self._reply(200, {'server': self.servers[server_id]})
        if path[2] == 'action':
            return self._action(server_id, json.loads(body))
        if path[2] == 'os-instance-actions':
            return self._actions(server_id, path[3:])
        raise AssertionError('Unexpected request %s %s' % (method, url))

    def _action(self, server_id, body):
        [(name, args)] = body.items()
        self.actions_requested.append((server_id, name, args))
        if name == 'os-getConsoleOutput':
            outputs = self.consoles.get(server_id) or ['']
            output = outputs.pop(0) if len(outputs) > 1 else outputs[0]
            return self._reply(200, {'output': output})
        request_id = 'req-%d' % len(self.requests)
        if name == 'os-migrateLive':
            self._live_migrate(server_id, (args or {}).get('host'),
                               request_id)
        elif name == 'migrate':
            self._migrate(server_id, (args or {}).get('host'), request_id)
        elif name in ('confirmResize', 'revertResize'):
            self._finish_resize(server_id, name == 'confirmResize')
            if name == 'confirmResize':
                return self._reply(204, None, request_id=request_id)
        else:
            raise AssertionError('Unexpected action %s' % name)
        return self._reply(202, None, request_id=request_id)

    def _pick(self, server_id, host):
        source = self.servers[server_id]['OS-EXT-SRV-ATTR:host']
        return source, host or next(h for h in self.hosts if h != source)

    def _live_migrate(self, server_id, host, request_id):
        source, dest = self._pick(server_id, host)
        refusal = self.refusals.get(dest)
        if dest in self.room_for_one and any(
                r['dest_compute'] == dest and
                r['status'] not in ('completed', 'error', 'failed')
                for r, _ in self.migrations):
            refusal = self.room_for_one[dest]
        if refusal:
            self.add_migration(server_id, ['accepted', 'error'], source, dest)
            detail = 'Migration pre-check error: %s' % refusal
            self.add_action(server_id, request_id, [
                ('conductor_live_migrate_instance', 'Error', detail, None),
                ('compute_check_can_live_migrate_destination', 'Error',
                 detail, None)])
            return
        # One listing longer in flight where another one may be refused.
        running = ['running'] * (2 if dest in self.room_for_one else 1)
        self.add_migration(server_id, ['accepted'] + running + ['completed'],
                           source, dest)
        self.add_action(server_id, request_id, [
            ('conductor_live_migrate_instance', 'Success', None, None),
            ('compute_live_migration', 'Success', None, None)])
        self.move_server(server_id, dest)

    def _migrate(self, server_id, host, request_id):
        source, dest = self._pick(server_id, host)
        record = self.add_migration(server_id, ['pre-migrating', 'finished'],
                                    source, dest, migration_type='migration')
        self.add_action(server_id, request_id, [
            ('compute_resize_instance', 'Success', None, None)],
            action='migrate')
        self._pending[server_id] = record
        self.move_server(server_id, dest, status='VERIFY_RESIZE')

    def _finish_resize(self, server_id, confirm):
        record = self._pending.pop(server_id)
        record['status'] = 'confirmed' if confirm else 'reverted'
        host = record['dest_compute'] if confirm else record['source_compute']
        self.move_server(server_id, host)

    def _list(self, query):
        records = [dict(r) for r, _ in self.migrations]
        if not self.ignore_filters:
            records = [r for r in records
                       if all(r.get(k) == v for k, v in query.items())]
        # The next listing shows each record one step further.
        for record, script in self.migrations:
            if script:
                record['status'] = script.pop(0)
        return records

    def _actions(self, server_id, rest):
        actions = self.actions.get(server_id, [])
        if not rest:
            return self._reply(200, {'instanceActions': [
                {k: v for k, v in a.items() if k != 'events'}
                for a in actions]})
        for action in actions:
            if action['request_id'] == rest[0]:
                return self._reply(200, {'instanceAction': action})
        return self._reply(404, {'itemNotFound': {
            'code': 404, 'message': 'Action not found.'}})

    def _reply(self, status, body, request_id='req-0'):
        headers = {'content-type': 'application/json',
                   'x-openstack-nova-api-version': MICROVERSION,
                   'x-openstack-request-id': request_id}
        return (fake_http.fake_http_response(headers, status=status),
                b'' if body is None else json.dumps(body).encode('utf-8'))
