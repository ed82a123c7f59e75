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

"""xloud-drain-host: move every server off a compute host, and say so truly.

Through the compute API only (admin credentials: OS_* variables or
clouds.yaml, as for ``openstack``). One server at a time: ACTIVE and PAUSED
servers are live-migrated (block migration ``auto``), SHUTOFF servers are
cold-migrated and confirmed; nova moves no other state. A server counts as
moved only when its host changed and its newest migration record is
``completed`` (live) or ``confirmed``/``finished`` (cold): a refused or
rolled-back live migration leaves the server ACTIVE on its source, which
``openstack server migrate --wait`` reports as done. For each server not
moved it prints the cause and the fix, from the instance action events
(microversion 2.84) or the migration record.

Exit status: 0 the host holds no server any more; 1 some servers are still
on it; 2 bad usage, credentials or compute API errors.
"""

import argparse
import re
import sys
import time

from keystoneauth1 import adapter
from keystoneauth1 import exceptions as ks_exc
import openstack.config
from openstack import exceptions as sdk_exc

PROG = 'xloud-drain-host'
# 2.84: instance action events carry their details (the refusal's text);
# it also has os-migrations filtered by instance_uuid (2.59), the live
# migration body without disk_over_commit (2.25) and cold migration to a
# named host (2.56).
MICROVERSION = '2.84'
PAGE = 1000

LIVE = 'live-migration'
COLD = 'migration'
#: What each migration type ends in when it moved the server.
DONE = {LIVE: ('completed',), COLD: ('finished', 'confirmed')}
#: Migration statuses after which nothing more happens.
FINAL = {'completed', 'finished', 'confirmed', 'error', 'failed',
         'cancelled', 'reverted', 'done'}

# Code, cause and fix; the figures after " Detail:" (cut short by nova's
# 255 characters, and in the compute's log in full) are left out.
XLOUD_REFUSAL = re.compile(
    r'\[(?P<code>xloud\.[\w.]+)\]\s*(?P<cause>.*?)'
    r'(?:\s+Fix:\s*(?P<fix>.*?))?(?:\s+Detail:.*)?$', re.S)


class APIError(Exception):
    """The compute API answered something this command cannot go on with."""


class NotMoved(Exception):
    """This server stays on the host; the text says why and what fixes it."""


class Compute:
    """The few compute API calls a drain needs."""

    def __init__(self, adapter):
        self.adapter = adapter

    def _call(self, method, path, **kwargs):
        resp = self.adapter.request(
            path, method, raise_exc=False,
            headers={'OpenStack-API-Version': 'compute ' + MICROVERSION},
            **kwargs)
        if resp.status_code >= 400:
            raise APIError('%s %s: HTTP %s: %s' % (
                method, path, resp.status_code, _fault(resp)))
        return resp

    def get(self, path):
        return self._call('GET', path).json()

    def action(self, server_id, body):
        """POST a server action; returns its request id."""
        resp = self._call('POST', '/servers/%s/action' % server_id,
                          json=body)
        return resp.headers.get('x-openstack-request-id')

    def servers_on(self, host):
        servers, marker = [], None
        while True:
            path = '/servers/detail?all_tenants=1&host=%s' % host
            if marker:
                path += '&marker=%s' % marker
            page = self.get(path)['servers']
            servers += page
            # nova pages at [api] max_limit (1000 by default).
            if len(page) < PAGE:
                return servers
            marker = page[-1]['id']

    def server(self, server_id):
        return self.get('/servers/%s' % server_id)['server']

    def migrations(self, server_id, migration_type):
        migrations = self.get('/os-migrations?instance_uuid=%s'
                              '&migration_type=%s' % (server_id,
                                                      migration_type))
        return sorted(migrations['migrations'], key=lambda m: m['id'])

    def action_events(self, server_id, request_id, action):
        """Message and events of the request (else newest such action)."""
        if request_id:
            try:
                return self._action(server_id, request_id)
            except APIError:
                # Behind some proxies the response's request id is not the
                # one nova recorded the action under.
                pass
        actions = self.get('/servers/%s/os-instance-actions'
                           % server_id)['instanceActions']
        actions = [a for a in actions if a['action'] == action]
        if not actions:
            return None, []
        request_id = max(actions, key=lambda a: a['start_time'])[
            'request_id']
        return self._action(server_id, request_id)

    def _action(self, server_id, request_id):
        found = self.get('/servers/%s/os-instance-actions/%s' % (
            server_id, request_id))['instanceAction']
        return found.get('message'), found.get('events') or []


def _fault(resp):
    try:
        body = resp.json()
        return next(iter(body.values()))['message']
    except Exception:
        return resp.text[:200]


def explain(message, events, migration):
    """Cause and fix of a failed move, in one line."""
    details = [e.get('details') for e in events
               if e.get('result') == 'Error' and e.get('details')]
    for text in details:
        found = XLOUD_REFUSAL.search(text)
        if found:
            line = '[%s] %s' % (found['code'], found['cause'].strip())
            if found['fix']:
                line += ' Fix: %s' % found['fix'].strip()
            return line
    if details:
        return details[0]
    if message:
        return message
    if migration:
        return 'migration %s ended %s; see the logs of %s and %s' % (
            migration['id'], migration['status'],
            migration.get('source_compute'), migration.get('dest_compute'))
    return 'nova recorded no reason'


class Drain:

    def __init__(self, compute, host, target=None, timeout=600.0,
                 interval=2.0, confirm=True, out=sys.stdout):
        self.compute = compute
        self.host = host
        self.target = target
        self.timeout = timeout
        self.interval = interval
        self.confirm = confirm
        self.out = out

    def say(self, text):
        self.out.write(text + '\n')
        self.out.flush()

    def run(self):
        """Move every server; returns the exit status."""
        servers = self.compute.servers_on(self.host)
        self.say('%d servers on %s' % (len(servers), self.host))
        moved, stayed = [], []
        for n, server in enumerate(servers, 1):
            name = '[%d/%d] %s (%s)' % (n, len(servers), server['name'],
                                        server['id'])
            try:
                line = self.move(server, name)
                moved.append(server)
                self.say('%s: moved: %s' % (name, line))
            except NotMoved as e:
                stayed.append(server)
                self.say('%s: not moved: %s' % (name, e))
        left = self.compute.servers_on(self.host)
        self.say('Summary: %d moved, %d not moved; %s' % (
            len(moved), len(stayed),
            '%s holds no server' % self.host if not left else
            '%s still holds %d: %s' % (self.host, len(left), ', '.join(
                '%s (%s)' % (s['name'], s['status']) for s in left))))
        return 1 if left else 0

    def move(self, server, name):
        status = server['status']
        if status in ('ACTIVE', 'PAUSED'):
            kind = LIVE
            body = {'os-migrateLive': {'host': self.target,
                                       'block_migration': 'auto'}}
        elif status == 'SHUTOFF':
            kind = COLD
            body = {'migrate': {'host': self.target} if self.target
                    else None}
        else:
            raise NotMoved('state %s cannot be migrated (nova live-migrates '
                           'ACTIVE and PAUSED servers, cold-migrates '
                           'SHUTOFF ones)' % status)
        if server.get('OS-EXT-STS:task_state'):
            raise NotMoved('busy (task %s); run again when it is done' %
                           server['OS-EXT-STS:task_state'])
        self.say('%s: %s: %s' % (name, status, 'live-migrating' if
                                 kind == LIVE else 'cold-migrating'))
        before = max((m['id'] for m in self.compute.migrations(
            server['id'], kind)), default=0)
        try:
            request_id = self.compute.action(server['id'], body)
        except APIError as e:
            raise NotMoved('nova refused the request: %s' % e)
        server, migration = self.wait(server, kind, before)
        if kind == COLD and migration['status'] == 'finished':
            if not self.confirm:
                return 'to %s, left in VERIFY_RESIZE (--no-confirm)' % (
                    server['OS-EXT-SRV-ATTR:host'])
            try:
                self.compute.action(server['id'], {'confirmResize': None})
            except APIError as e:
                raise NotMoved('confirming the move to %s failed: %s' % (
                    server['OS-EXT-SRV-ATTR:host'], e))
            server, migration = self.wait(server, kind, before,
                                          until=('confirmed', 'error'))
        if (server['OS-EXT-SRV-ATTR:host'] != self.host and
                migration['status'] in DONE[kind]):
            return 'to %s (%s %s %s)' % (
                server['OS-EXT-SRV-ATTR:host'], kind, migration['id'],
                migration['status'])
        message, events = self.compute.action_events(
            server['id'], request_id, 'migrate' if kind == COLD else kind)
        raise NotMoved('%s %s ended %s, server %s on %s: %s' % (
            kind, migration['id'], migration['status'], server['status'],
            server['OS-EXT-SRV-ATTR:host'],
            explain(message, events, migration)))

    def wait(self, server, kind, before, until=FINAL):
        """Server and newest migration once both have settled."""
        deadline = time.monotonic() + self.timeout
        migration = None
        while True:
            new = [m for m in self.compute.migrations(server['id'], kind)
                   if m['id'] > before]
            migration = new[-1] if new else None
            server = self.compute.server(server['id'])
            if (migration and migration['status'] in until and
                    not server.get('OS-EXT-STS:task_state')):
                return server, migration
            if time.monotonic() >= deadline:
                raise NotMoved(
                    'still not settled after %gs (migration %s, server %s, '
                    'task %s); follow it with openstack server migration '
                    'list --server %s' % (
                        self.timeout,
                        '%s %s' % (migration['id'], migration['status'])
                        if migration else 'not recorded yet',
                        server['status'], server.get('OS-EXT-STS:task_state'),
                        server['id']))
            time.sleep(self.interval)


def _parser(config, argv):
    parser = argparse.ArgumentParser(
        prog=PROG, description=__doc__.splitlines()[0],
        epilog='Exit status: 0 the host holds no server any more; 1 some '
               'servers are still on it; 2 bad usage, credentials or '
               'compute API errors.')
    parser.add_argument('host', metavar='HOST',
                        help='compute host to empty (as in openstack '
                             'server list --host)')
    parser.add_argument('--target', metavar='HOST',
                        help='destination host (default: the scheduler '
                             'picks one per server)')
    parser.add_argument('--server-timeout', type=float, default=600.0,
                        metavar='SECONDS',
                        help='how long to wait for each server '
                             '(default: %(default)s)')
    parser.add_argument('--poll-interval', type=float, default=2.0,
                        metavar='SECONDS',
                        help='polling interval (default: %(default)s)')
    parser.add_argument('--no-confirm', dest='confirm', action='store_false',
                        help='leave cold-migrated servers in VERIFY_RESIZE '
                             'for you to check and confirm or revert')
    # --os-cloud, --os-auth-url... as every OpenStack client has them.
    config.register_argparse_arguments(parser, argv)
    return parser


def main(argv=None, stdout=None, stderr=None):
    stdout = stdout or sys.stdout
    stderr = stderr or sys.stderr
    argv = sys.argv[1:] if argv is None else argv
    config = openstack.config.OpenStackConfig()
    try:
        args = _parser(config, argv).parse_args(argv)
    except SystemExit as e:
        return 2 if e.code else 0
    try:
        region = config.get_one(argparse=args)
        compute = Compute(adapter.Adapter(
            region.get_session(), service_type='compute',
            interface=region.get_interface('compute'),
            region_name=region.get_region_name('compute'),
            endpoint_override=region.get_endpoint('compute')))
        return Drain(compute, args.host, target=args.target,
                     timeout=args.server_timeout, interval=args.poll_interval,
                     confirm=args.confirm, out=stdout).run()
    except (APIError, ks_exc.ClientException,
            sdk_exc.SDKException) as e:
        stderr.write('%s: error: %s\n' % (PROG, e))
        return 2


if __name__ == '__main__':
    sys.exit(main())
