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

"""xloud-drain-host against a fake compute API at the HTTP edge.

The fake (requests-mock) answers as nova 2.84 does for the calls the command
makes; each server's fate is scripted. The functional tier runs the command
against nova's real API instead (tests/functional/test_drain_host.py).
"""

import io
import json
import re

import fixtures
from requests_mock.contrib import fixture as rm_fixture

from xloud_harness import testing

from xloud_nova_ext.cmd import drain_host

ENDPOINT = 'http://nova.test/v2.1'
REFUSAL = ('Migration pre-check error: [xloud.disk.insufficient] Host '
           'dest has 1.0 GiB free for disks needing 5.0 GiB. Fix: Free at '
           'least 4.0 GiB on dest, migrate to a host with more room.')


class FakeNova:
    """Servers on hosts, migration records, instance actions.

    ``fate[server_id]``: 'move' (moves on the second poll), 'refuse' (the
    pre-check fails: record ``error``, server stays ACTIVE on its source,
    the refusal in the action's event), 'hang' (record stays ``running``),
    'reject' (the API answers 409).
    """

    def __init__(self, mocker):
        self.servers = {}
        self.fate = {}
        self.migrations = []
        self.actions = {}
        self.posts = []
        self.polls = {}
        m = mocker
        m.get(re.compile(ENDPOINT + r'/servers/detail'), json=self.list)
        m.get(re.compile(ENDPOINT + r'/servers/[\w-]+$'), json=self.show)
        m.post(re.compile(ENDPOINT + r'/servers/[\w-]+/action'),
               text=self.action)
        m.get(re.compile(ENDPOINT + r'/os-migrations'), json=self.list_mig)
        m.get(re.compile(ENDPOINT + r'/servers/[\w-]+/os-instance-actions/'),
              json=self.show_action)

    def add(self, sid, host, status, fate='move'):
        self.servers[sid] = {
            'id': sid, 'name': 'vm-' + sid, 'status': status,
            'OS-EXT-SRV-ATTR:host': host, 'OS-EXT-STS:task_state': None}
        self.fate[sid] = fate

    def list(self, request, context):
        self.check_version(request)
        host = request.qs['host'][0]
        return {'servers': [s for s in self.servers.values()
                            if s['OS-EXT-SRV-ATTR:host'] == host]}

    def show(self, request, context):
        sid = request.path.rsplit('/', 1)[1]
        self.step(sid)
        return {'server': dict(self.servers[sid])}

    def check_version(self, request):
        assert request.headers['OpenStack-API-Version'] == 'compute 2.84'

    def action(self, request, context):
        self.check_version(request)
        sid = request.path.split('/')[-2]
        body = request.json()
        self.posts.append((sid, body))
        server = self.servers[sid]
        if self.fate[sid] == 'reject':
            context.status_code = 409
            return json.dumps({'conflictingRequest': {
                'message': 'Cannot live-migrate: instance is locked'}})
        req = 'req-%d' % len(self.posts)
        context.headers['x-openstack-request-id'] = req
        context.status_code = 202
        if 'confirmResize' in body:
            mig = [m for m in self.migrations if m['instance_uuid'] == sid][-1]
            mig['status'] = 'confirmed'
            server['status'] = 'SHUTOFF'
            return ''
        kind = 'live-migration' if 'os-migrateLive' in body else 'migration'
        self.migrations.append({
            'id': len(self.migrations) + 1, 'instance_uuid': sid,
            'migration_type': kind, 'status': 'accepted',
            'source_compute': server['OS-EXT-SRV-ATTR:host'],
            'dest_compute': None})
        server['OS-EXT-STS:task_state'] = 'migrating'
        self.actions[sid] = req
        self.polls[sid] = 0
        return ''

    def step(self, sid):
        """The server's migration advances at each poll of the server."""
        if sid not in self.polls:
            return
        self.polls[sid] += 1
        server = self.servers[sid]
        mig = [m for m in self.migrations if m['instance_uuid'] == sid][-1]
        fate = self.fate[sid]
        if mig['status'] not in ('accepted', 'running'):
            return
        if fate == 'hang' or self.polls[sid] < 2:
            mig['status'] = 'running'
            return
        server['OS-EXT-STS:task_state'] = None
        if fate == 'refuse':
            mig['status'] = 'error'
            return
        server['OS-EXT-SRV-ATTR:host'] = mig['dest_compute'] = 'dest'
        if mig['migration_type'] == 'live-migration':
            mig['status'] = 'completed'
        else:
            mig['status'] = 'finished'
            server['status'] = 'VERIFY_RESIZE'

    def list_mig(self, request, context):
        self.check_version(request)
        sid = request.qs['instance_uuid'][0]
        kind = request.qs['migration_type'][0]
        return {'migrations': [dict(m) for m in self.migrations
                               if m['instance_uuid'] == sid and
                               m['migration_type'] == kind]}

    def show_action(self, request, context):
        sid, _, req = request.path.split('/')[-3:]
        assert req == self.actions[sid], (req, self.actions)
        return {'instanceAction': {
            'action': 'live-migration', 'request_id': req,
            'message': 'Error', 'events': [
                {'event': 'conductor_live_migrate_instance',
                 'result': 'Success', 'details': None},
                {'event': 'compute_check_can_live_migrate_destination',
                 'result': 'Error', 'details': REFUSAL}]}}


class DrainHostTest(testing.TestCase):

    def setUp(self):
        super().setUp()
        for name in ('OS_CLOUD', 'OS_AUTH_URL', 'OS_USERNAME', 'OS_TOKEN'):
            self.useFixture(fixtures.EnvironmentVariable(name))
        self.useFixture(fixtures.EnvironmentVariable(
            'HOME', self.useFixture(fixtures.TempDir()).path))
        self.useFixture(fixtures.EnvironmentVariable('OS_AUTH_TYPE', 'none'))
        self.useFixture(fixtures.EnvironmentVariable(
            'OS_COMPUTE_ENDPOINT_OVERRIDE', ENDPOINT))
        self.mocker = self.useFixture(rm_fixture.Fixture())
        self.nova = FakeNova(self.mocker)

    def drain(self, *argv):
        out, err = io.StringIO(), io.StringIO()
        code = drain_host.main(['--poll-interval', '0.01'] + list(argv) +
                               ['src'], out, err)
        return code, out.getvalue(), err.getvalue()

    def test_every_movable_state_moved_and_host_empty(self):
        self.nova.add('a', 'src', 'ACTIVE')
        self.nova.add('p', 'src', 'PAUSED')
        self.nova.add('s', 'src', 'SHUTOFF')
        self.nova.add('x', 'dest', 'ACTIVE')
        code, out, err = self.drain()
        self.assertEqual(0, code, out + err)
        self.assertEqual([
            ('a', {'os-migrateLive': {'host': None,
                                      'block_migration': 'auto'}}),
            ('p', {'os-migrateLive': {'host': None,
                                      'block_migration': 'auto'}}),
            ('s', {'migrate': None}),
            ('s', {'confirmResize': None})], self.nova.posts)
        self.assertIn('vm-a (a): moved: to dest (live-migration 1 '
                      'completed)', out)
        self.assertIn('vm-p (p): moved: to dest', out)
        self.assertIn('vm-s (s): moved: to dest (migration 3 confirmed)',
                      out)
        self.assertIn('Summary: 3 moved, 0 not moved; src holds no server',
                      out)
        self.assertEqual('SHUTOFF', self.nova.servers['s']['status'])

    def test_refused_server_not_moved_with_cause_and_fix(self):
        # The headline of issue 15: the server is ACTIVE again when the
        # refusal ends the migration, which `openstack server migrate
        # --wait` reports as done.
        self.nova.add('a', 'src', 'ACTIVE', fate='refuse')
        self.nova.add('b', 'src', 'ACTIVE')
        code, out, err = self.drain()
        self.assertEqual(1, code, out + err)
        self.assertIn(
            'vm-a (a): not moved: live-migration 1 ended error, server '
            'ACTIVE on src: [xloud.disk.insufficient] Host dest has 1.0 GiB '
            'free for disks needing 5.0 GiB. Fix: Free at least 4.0 GiB on '
            'dest, migrate to a host with more room.', out)
        self.assertIn('vm-b (b): moved: to dest', out)
        self.assertIn('Summary: 1 moved, 1 not moved; src still holds 1: '
                      'vm-a (ACTIVE)', out)

    def test_refusal_detail_cut_by_nova_is_left_out(self):
        text = ('Migration pre-check error: [xloud.disk.insufficient] The '
                'disks do not fit on host dest: 5.2 GiB needed, 2.0 GiB '
                'available. Fix: Free at least 3.2 GiB on host dest. '
                'Detail: Needed: the source\'s di')
        self.assertEqual(
            '[xloud.disk.insufficient] The disks do not fit on host dest: '
            '5.2 GiB needed, 2.0 GiB available. Fix: Free at least 3.2 GiB '
            'on host dest.',
            drain_host.explain(None, [{'result': 'Error', 'details': text}],
                               None))

    def test_cold_migration_left_unconfirmed(self):
        self.nova.add('s', 'src', 'SHUTOFF')
        code, out, _ = self.drain('--no-confirm', '--target', 'dest')
        self.assertEqual(0, code, out)
        self.assertEqual([('s', {'migrate': {'host': 'dest'}})],
                         self.nova.posts)
        self.assertIn('left in VERIFY_RESIZE (--no-confirm)', out)
        self.assertEqual('VERIFY_RESIZE', self.nova.servers['s']['status'])

    def test_states_nova_cannot_migrate_are_reported_not_moved(self):
        self.nova.add('u', 'src', 'SUSPENDED')
        self.nova.add('e', 'src', 'ERROR')
        code, out, _ = self.drain()
        self.assertEqual(1, code)
        self.assertEqual([], self.nova.posts)
        self.assertIn('vm-u (u): not moved: state SUSPENDED cannot be '
                      'migrated', out)
        self.assertIn('vm-e (e): not moved: state ERROR cannot be migrated',
                      out)

    def test_api_refusal_reported_not_moved(self):
        self.nova.add('a', 'src', 'ACTIVE', fate='reject')
        code, out, _ = self.drain()
        self.assertEqual(1, code)
        self.assertIn('not moved: nova refused the request: POST '
                      '/servers/a/action: HTTP 409: Cannot live-migrate: '
                      'instance is locked', out)

    def test_timeout_per_server(self):
        self.nova.add('h', 'src', 'ACTIVE', fate='hang')
        self.nova.add('b', 'src', 'ACTIVE')
        code, out, _ = self.drain('--server-timeout', '0.3')
        self.assertEqual(1, code, out)
        self.assertIn('vm-h (h): not moved: still not settled after 0.3s '
                      '(migration 1 running, server ACTIVE, task migrating)',
                      out)
        # The next server still gets its own time.
        self.assertIn('vm-b (b): moved: to dest', out)

    def test_empty_host(self):
        code, out, _ = self.drain()
        self.assertEqual(0, code)
        self.assertIn('0 servers on src', out)

    def test_usage_and_api_errors_exit_2(self):
        err = io.StringIO()
        self.useFixture(fixtures.MockPatch('sys.stderr', err))
        self.assertEqual(2, drain_host.main([], io.StringIO(), err))
        self.mocker.get(re.compile(ENDPOINT + r'/servers/detail'),
                        status_code=403,
                        json={'forbidden': {'message': 'Policy does not '
                                            'allow this'}})
        code, out, err = self.drain()
        self.assertEqual(2, code)
        self.assertIn('xloud-drain-host: error: GET /servers/detail?'
                      'all_tenants=1&host=src: HTTP 403: Policy does not '
                      'allow this', err)

    def test_missing_credentials_exit_2(self):
        self.useFixture(fixtures.EnvironmentVariable('OS_AUTH_TYPE',
                                                     'password'))
        self.useFixture(fixtures.EnvironmentVariable(
            'OS_COMPUTE_ENDPOINT_OVERRIDE'))
        code, out, err = self.drain()
        self.assertEqual(2, code, out + err)
        self.assertIn('xloud-drain-host: error:', err)
