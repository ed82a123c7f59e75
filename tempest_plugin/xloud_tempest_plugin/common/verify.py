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

"""Post-migration verification: did the guest really survive the move?

One verifier serves every scenario. It reads the server, its migration
records and its console through admin tempest.lib clients (and the guest's
uptime through a callable the test supplies when it can SSH), and raises
VerificationFailed, with nova's evidence, at the first thing that is wrong.
"""

import dataclasses
import time
import typing

from oslo_utils import timeutils

from tempest.lib import exceptions as lib_exc

from xloud_tempest_plugin.common import console
from xloud_tempest_plugin.common import evidence
from xloud_tempest_plugin.common import exceptions
from xloud_tempest_plugin.common import migrations

HOST = 'OS-EXT-SRV-ATTR:host'
TASK_STATE = 'OS-EXT-STS:task_state'
# Events of a live migration that only run once the pre-checks passed:
# nova preparing the destination, then copying memory and disks.
COPY_EVENTS = ('compute_pre_live_migration', 'compute_live_migration')


@dataclasses.dataclass(frozen=True)
class GuestState:
    """What was seen of the guest before it moved."""

    console: typing.Optional[str] = None
    uptime: typing.Optional[float] = None


@dataclasses.dataclass
class Move:
    """One migration request for one server, as the test made it."""

    server_id: str
    migration_type: str
    source_host: str
    requested_host: typing.Optional[str]
    known_ids: frozenset
    before: GuestState
    request_id: typing.Optional[str] = None
    started: float = dataclasses.field(default_factory=time.time)
    # Seconds from the request to the record's last awaited status, and to
    # each status awaited (e.g. cold: 'finished', then 'confirmed').
    seconds: typing.Optional[float] = None
    timings: dict = dataclasses.field(default_factory=dict)


def record_seconds(record):
    """Seconds from a migration record's creation to its last update."""
    if not (record.get('created_at') and record.get('updated_at')):
        return None
    delta = (timeutils.parse_isotime(record['updated_at']) -
             timeutils.parse_isotime(record['created_at']))
    return round(delta.total_seconds(), 3)


class MigrationVerifier(object):
    """Proves that a migrated server survived, on the host it should be."""

    def __init__(self, servers_client, migrations_client,
                 failure_patterns=(), boot_marker=None, check_console=True):
        self.servers_client = servers_client
        self.migrations_client = migrations_client
        self.failure_patterns = list(failure_patterns or ())
        self.boot_marker = boot_marker
        self.check_console = check_console

    def observe(self, server_id, read_uptime=None):
        """The guest's console and uptime, before it moves."""
        return GuestState(console=self._console(server_id),
                          uptime=read_uptime() if read_uptime else None)

    def verify(self, move, status, final_host=None, guest_restarted=False,
               read_uptime=None):
        """Check everything a completed migration must leave true.

        :param status: the record's expected final status: ``completed``
            (live), ``confirmed`` or ``reverted`` (cold).
        :param final_host: where the server must be; by default the
            requested host, or any host but the source when the scheduler
            chose.
        :param guest_restarted: True for a cold migration, which stops the
            guest; a live one must not reboot it.
        :returns: a report for the test's details.
        """
        server = self._active_server(move)
        host = server.get(HOST)
        expected = final_host or move.requested_host
        if expected and host != expected:
            self._fail(move, 'Server %s is on host %s, expected %s.' % (
                move.server_id, host, expected))
        if not expected and host == move.source_host:
            self._fail(move, 'Server %s is still on its source host %s.' % (
                move.server_id, host))
        record = self._the_new_record(move, status)
        self._check_record_destination(move, record, host)
        report = self._report(move, host, record)
        report.update(self._check_guest(move, guest_restarted, read_uptime))
        return report

    def verify_refused(self, move, code, copy_events=COPY_EVENTS):
        """Check that a safeguard refused the move before copying anything.

        The server is ACTIVE on its source, its new record is ``error``,
        and an event of the request's instance action carries ``code`` in
        its details (microversion 2.84) or traceback, while none of
        ``copy_events`` ran.
        """
        server = self._active_server(move)
        if server.get(HOST) != move.source_host:
            self._fail(move, 'Server %s moved to %s although the migration '
                       'was refused; it must stay on %s.' % (
                           move.server_id, server.get(HOST),
                           move.source_host))
        record = self._the_new_record(move, 'error')
        events = self._request_events(move)
        carriers = [e for e in events
                    if code in (e.get('details') or '') or
                    code in (e.get('traceback') or '')]
        if not carriers:
            self._fail(move, 'No event of request %s carries the refusal '
                       'code %s.' % (move.request_id, code))
        copied = [e['event'] for e in events if e.get('event') in copy_events]
        if copied:
            self._fail(move, 'The migration was not refused before copying: '
                       'events %s ran.' % ', '.join(copied))
        report = self._report(move, server.get(HOST), record)
        report['refusal'] = {'code': code,
                             'events': [e['event'] for e in carriers],
                             'details': carriers[0].get('details')}
        report.update(self._check_guest(move, False, None))
        return report

    def _active_server(self, move):
        server = self.servers_client.show_server(move.server_id)['server']
        if server['status'] != 'ACTIVE' or server.get(TASK_STATE):
            self._fail(move, 'Server %s is %s (task state %s), expected '
                       'ACTIVE with no task. Fault: %s' % (
                           move.server_id, server['status'],
                           server.get(TASK_STATE), server.get('fault')))
        return server

    def _the_new_record(self, move, status):
        records = migrations.new_migrations(
            self.migrations_client, move.server_id, move.migration_type,
            move.known_ids)
        if len(records) != 1:
            self._fail(move, 'Expected one new %s record for server %s, '
                       'found %d.' % (move.migration_type, move.server_id,
                                      len(records)))
        record = records[0]
        if record['status'] != status:
            self._fail(move, 'Migration %s of server %s is %s, expected '
                       '%s.' % (record['id'], move.server_id,
                                record['status'], status))
        if record.get('source_compute') != move.source_host:
            self._fail(move, 'Migration %s left from %s, but server %s was '
                       'on %s.' % (record['id'], record.get('source_compute'),
                                   move.server_id, move.source_host))
        return record

    def _check_record_destination(self, move, record, host):
        dest = record.get('dest_compute')
        if record['status'] == 'reverted':
            # It went away and came back: the record must name another host.
            if dest == move.source_host:
                self._fail(move, 'Migration %s of server %s never left %s.'
                           % (record['id'], move.server_id, dest))
        elif dest != host:
            self._fail(move, 'Migration %s went to %s but server %s is on '
                       '%s.' % (record['id'], dest, move.server_id, host))

    def _check_guest(self, move, guest_restarted, read_uptime):
        result = {}
        try:
            after = self._console(move.server_id)
        except lib_exc.TempestException as e:
            self._fail(move, 'The console output of server %s cannot be '
                       'read: %s' % (move.server_id, e))
        if after is None:
            result['console'] = 'not checked ([compute-feature-enabled] ' \
                                'console_output is false)'
        else:
            new = console.new_output(move.before.console, after)
            bad = console.matching_lines(new, self.failure_patterns)
            if bad:
                self._fail(move, 'The console of server %s shows failures '
                           'since the migration:\n%s' % (
                               move.server_id, '\n'.join(bad)))
            boots = console.matching_lines(new, [self.boot_marker])
            if boots and not guest_restarted:
                self._fail(move, 'Server %s rebooted during its migration; '
                           'its console shows: %s' % (
                               move.server_id, '\n'.join(boots)))
            result['console'] = 'clean, %d new lines' % len(new.splitlines())
        if read_uptime:
            try:
                uptime = read_uptime()
            except lib_exc.TempestException as e:
                self._fail(move, 'Server %s cannot be reached over SSH '
                           'after its migration: %s' % (move.server_id, e))
            result['uptime'] = {'before': move.before.uptime, 'after': uptime}
            if (not guest_restarted and move.before.uptime is not None and
                    uptime < move.before.uptime):
                self._fail(move, 'Server %s rebooted during its migration: '
                           'uptime %.1f s before, %.1f s after.' % (
                               move.server_id, move.before.uptime, uptime))
        return result

    def _request_events(self, move):
        request_id = move.request_id
        if not request_id:
            request_id = evidence.recent_request_ids(
                self.servers_client, move.server_id, limit=1)[0]
        return evidence.action_events(self.servers_client, move.server_id,
                                      request_id)

    def _console(self, server_id):
        if not self.check_console:
            return None
        return self.servers_client.get_console_output(server_id)['output']

    def _report(self, move, host, record):
        return {
            'server': move.server_id,
            'type': move.migration_type,
            'source_host': move.source_host,
            'requested_host': move.requested_host,
            'host': host,
            'migration': {k: record.get(k) for k in evidence.MIGRATION_FIELDS},
            'seconds': move.seconds,
            'timings': dict(move.timings),
            'record_seconds': record_seconds(record),
        }

    def _fail(self, move, message):
        raise exceptions.VerificationFailed('%s\n%s' % (
            message, evidence.describe(
                self.servers_client, self.migrations_client,
                move.server_id, move.request_id)))
