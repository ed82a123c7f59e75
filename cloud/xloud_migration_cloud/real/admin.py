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


"""The cloud's admin, through nova's API: boot, move, watch, delete.

For what drives a running :class:`~.cloud.RealCloud` from outside (the
fault cases, the benchmarks), as its admin, with the heartbeat guest.
"""

from xloud_harness import poll

#: A migration record's statuses that nova never leaves.
TERMINAL = ('completed', 'error', 'failed', 'cancelled')
MICROVERSION = 'compute 2.93'
FLAVOR = 'xl1'
IMAGE = 'xloud-heartbeat'


class Admin(object):
    """The admin's view of a running real cloud, through nova's API."""

    def __init__(self, real):
        self.real = real
        self.session = real.control.admin_session()
        self.compute = real.urls['compute']
        images = self.session.get(real.urls['image'] + '/v2/images',
                                  params={'name': IMAGE}).json()['images']
        self.image = images[0]['id']

    def api(self, method, path, **kwargs):
        response = self.session.request(
            self.compute + path, method, raise_exc=False,
            headers={'OpenStack-API-Version': MICROVERSION}, **kwargs)
        if response.status_code >= 400:
            raise AssertionError('%s %s: HTTP %d %s' % (
                method, path, response.status_code, response.text[:500]))
        return response.json() if response.content else None

    def server(self, server_id):
        return self.api('GET', '/servers/' + server_id)['server']

    def boot(self, host, name):
        """A heartbeat guest ACTIVE on ``host``."""
        server = self.api('POST', '/servers', json={'server': {
            'name': name, 'imageRef': self.image, 'flavorRef': FLAVOR,
            'networks': 'none', 'host': host}})['server']
        return self.wait_settled(server['id'])

    def wait_settled(self, server_id, timeout=300):
        """The server once it is ACTIVE with no task; ERROR fails at once."""
        def settled():
            server = self.server(server_id)
            if server['status'] == 'ERROR':
                raise AssertionError('server %s is in ERROR: %s' % (
                    server_id, server.get('fault')))
            if server['status'] == 'ACTIVE' and not server.get(
                    'OS-EXT-STS:task_state'):
                return server
            return None
        # Every 0.2 s: a benchmark waits here after each move it times.
        return poll.wait_until(settled, timeout, 0.2,
                               what='server %s ACTIVE with no task'
                               % server_id)

    def live_migrate(self, server_id, host, block_migration):
        self.api('POST', '/servers/%s/action' % server_id, json={
            'os-migrateLive': {'host': host,
                               'block_migration': block_migration}})

    def migration(self, server_id):
        """The newest migration record of this server (filtered by id)."""
        found = self.api('GET', '/os-migrations', params={
            'instance_uuid': server_id})['migrations']
        return max(found, key=lambda m: m['id']) if found else None

    def wait_migration_over(self, server_id, timeout=240):
        def over():
            migration = self.migration(server_id)
            if migration and migration['status'] in TERMINAL:
                return migration
            return None
        return poll.wait_until(over, timeout, 1,
                               what='a terminal migration record of %s'
                               % server_id)

    def delete(self, server_id, timeout=120):
        self.api('DELETE', '/servers/' + server_id)

        def gone():
            response = self.session.get(
                self.compute + '/servers/' + server_id, raise_exc=False)
            return response.status_code == 404
        poll.wait_until(gone, timeout, 1, what='server %s deleted'
                        % server_id)
