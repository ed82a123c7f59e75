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
uptime through a callable the test supplies when it can SSH), records each
thing it checked in a results.Verification, and raises VerificationFailed,
with nova's evidence, when one check failed. What it could not verify (a
guest without the Xloud heartbeat, a cloud without console output) is a
check of its own, marked not verified with the reason: never a silent pass.
"""

import dataclasses
import time
import typing

from oslo_utils import timeutils

from tempest.lib import exceptions as lib_exc

from xloud_tempest_plugin.common import console
from xloud_tempest_plugin.common import evidence
from xloud_tempest_plugin.common import exceptions
from xloud_tempest_plugin.common import heartbeat
from xloud_tempest_plugin.common import migrations
from xloud_tempest_plugin.common import results

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


#: With ``heartbeat_before_move_timeout``: the guest uptime before a move.
SETTLED_UPTIME_MS = 10000


class MigrationVerifier(object):
    """Proves that a migrated server survived, on the host it should be."""

    def __init__(self, servers_client, migrations_client,
                 failure_patterns=(), boot_marker=None, check_console=True,
                 warning_patterns=(), heartbeat_timeout=10,
                 poll_interval=1.0, sleep=time.sleep,
                 heartbeat_before_move_timeout=0):
        self.servers_client = servers_client
        self.migrations_client = migrations_client
        self.failure_patterns = list(failure_patterns or ())
        self.warning_patterns = list(warning_patterns or ())
        self.boot_marker = boot_marker
        self.check_console = check_console
        self.heartbeat_timeout = heartbeat_timeout
        self.heartbeat_before_move_timeout = heartbeat_before_move_timeout
        self.poll_interval = poll_interval
        self.sleep = sleep

    def observe(self, server_id, read_uptime=None):
        """The guest's console and uptime, before it moves.

        With ``heartbeat_before_move_timeout``, first waits for the guest's
        first heartbeat, and until it has run ``SETTLED_UPTIME_MS``: a guest
        still booting is not moved.
        """
        if self.check_console and self.heartbeat_before_move_timeout:
            beat = self._wait_for_newer_beat(
                server_id, None, self.heartbeat_before_move_timeout)
            if beat is None:
                console = (self._console(server_id) or '').splitlines()
                raise exceptions.VerificationFailed(
                    'Server %s printed no xloud-heartbeat line within %d s, '
                    'before its move ([xloud_migration] heartbeat_before_'
                    'move_timeout). Last console lines:\n%s' % (
                        server_id, self.heartbeat_before_move_timeout,
                        '\n'.join(console[-10:])))
            # Under QEMU's TCG, guests moved 3 to 5 s after boot oopsed
            # twice in the real cloud: a heartbeat guest gets to this age.
            if beat.uptime_ms < SETTLED_UPTIME_MS:
                self.sleep((SETTLED_UPTIME_MS - beat.uptime_ms) / 1000.0)
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
        :returns: the results.Verification, all checks passed or not
            verifiable.
        :raises: VerificationFailed, carrying it, when a check failed.
        """
        result = self._result(move)
        server = self._check_active(result, move)
        host = result.host = server.get(HOST)
        expected = final_host or move.requested_host
        if expected:
            result.add('server-host', host == expected,
                       'Server %s is on host %s, expected %s.' % (
                           move.server_id, host, expected))
        else:
            result.add('server-host', host != move.source_host,
                       'Server %s is on host %s; its source was %s.' % (
                           move.server_id, host, move.source_host)
                       if host != move.source_host else
                       'Server %s is still on its source host %s.' % (
                           move.server_id, host))
        record = self._check_record(result, move, status)
        if record:
            self._check_record_destination(result, move, record, host)
        self._check_guest(result, move, guest_restarted, read_uptime)
        return self._finish(result, move)

    def verify_refused(self, move, code, copy_events=COPY_EVENTS,
                       mentions=()):
        """Check that a safeguard refused the move before copying anything.

        The server is ACTIVE on its source, its new record is ``error``,
        and an event of the request's instance action carries ``code`` in
        its details (microversion 2.84) or traceback, while none of
        ``copy_events`` ran; the guest kept running. Each of ``mentions``
        must be in that event's details or traceback (the refusal's cause
        and fix, which nova may cut from the 255-character details).
        """
        result = self._result(move)
        result.destination = move.requested_host
        server = self._check_active(result, move)
        host = result.host = server.get(HOST)
        result.add('server-stayed-on-source', host == move.source_host,
                   'Server %s is on %s, its source.' % (move.server_id, host)
                   if host == move.source_host else
                   'Server %s moved to %s although the migration was '
                   'refused; it must stay on %s.' % (
                       move.server_id, host, move.source_host))
        self._check_record(result, move, 'error')
        events = self._request_events(move)
        carriers = [e for e in events
                    if code in (e.get('details') or '') or
                    code in (e.get('traceback') or '')]
        if carriers:
            result.add('refusal-code', True, 'Events %s carry %s: %s' % (
                ', '.join(e['event'] for e in carriers), code,
                carriers[0].get('details') or 'in the traceback'))
        else:
            result.add('refusal-code', False,
                       'No event of request %s carries the refusal code %s.'
                       % (move.request_id, code))
        if mentions:
            texts = ['%s\n%s' % (e.get('details') or '',
                                 e.get('traceback') or '') for e in carriers]
            absent = [m for m in mentions
                      if not any(m in text for text in texts)]
            result.add('refusal-says', bool(carriers) and not absent,
                       'The refusal does not say %s.' % ', '.join(
                           repr(m) for m in absent or mentions)
                       if absent or not carriers else
                       'The refusal says %s.' % ', '.join(
                           repr(m) for m in mentions))
        copied = [e['event'] for e in events if e.get('event') in copy_events]
        result.add('refused-before-copying', not copied,
                   'The migration was not refused before copying: events %s '
                   'ran.' % ', '.join(copied) if copied else
                   'None of %s ran.' % ', '.join(copy_events))
        result.refusal = {'code': code,
                          'events': [e['event'] for e in carriers],
                          'details': (carriers[0].get('details')
                                      if carriers else None)}
        self._check_guest(result, move, False, None)
        return self._finish(result, move)

    # The server and its record

    def _result(self, move):
        return results.Verification(
            server=move.server_id, kind=move.migration_type,
            source=move.source_host, requested_host=move.requested_host,
            seconds=move.seconds, timings=dict(move.timings))

    def _check_active(self, result, move):
        server = self.servers_client.show_server(move.server_id)['server']
        active = server['status'] == 'ACTIVE' and not server.get(TASK_STATE)
        result.add('server-active', active,
                   'Server %s is %s (task state %s)%s.' % (
                       move.server_id, server['status'],
                       server.get(TASK_STATE),
                       '' if active else ', expected ACTIVE with no task. '
                       'Fault: %s' % server.get('fault')))
        return server

    def _check_record(self, result, move, status):
        records = migrations.new_migrations(
            self.migrations_client, move.server_id, move.migration_type,
            move.known_ids)
        if len(records) != 1:
            result.add('migration-record', False,
                       'Expected one new %s record for server %s, found %d.'
                       % (move.migration_type, move.server_id, len(records)))
            return None
        record = records[0]
        result.migration = {k: record.get(k)
                            for k in evidence.MIGRATION_FIELDS}
        result.status = record['status']
        result.record_seconds = record_seconds(record)
        if result.destination is None:
            result.destination = record.get('dest_compute')
        problems = []
        if record['status'] != status:
            problems.append('Migration %s of server %s is %s, expected %s.'
                            % (record['id'], move.server_id,
                               record['status'], status))
        if record.get('source_compute') != move.source_host:
            problems.append('Migration %s left from %s, but server %s was '
                            'on %s.' % (record['id'],
                                        record.get('source_compute'),
                                        move.server_id, move.source_host))
        result.add('migration-record', not problems, ' '.join(problems) or
                   'Migration %s of server %s is %s, from %s to %s.' % (
                       record['id'], move.server_id, record['status'],
                       record.get('source_compute'),
                       record.get('dest_compute')))
        return record

    def _check_record_destination(self, result, move, record, host):
        dest = record.get('dest_compute')
        if record['status'] == 'reverted':
            # It went away and came back: the record must name another host.
            result.add('record-destination', dest != move.source_host,
                       'Migration %s of server %s went to %s and back.' % (
                           record['id'], move.server_id, dest)
                       if dest != move.source_host else
                       'Migration %s of server %s never left %s.' % (
                           record['id'], move.server_id, dest))
        else:
            result.add('record-destination', dest == host,
                       'Migration %s went to %s, where server %s is.' % (
                           record['id'], dest, move.server_id)
                       if dest == host else
                       'Migration %s went to %s but server %s is on %s.' % (
                           record['id'], dest, move.server_id, host))

    # The guest

    def _check_guest(self, result, move, guest_restarted, read_uptime):
        if not self.check_console:
            result.add('console', None, 'Not verified: [compute-feature-'
                       'enabled] console_output is false, so the guest\'s '
                       'console (heartbeat, panics, reboots) was not read.')
        else:
            try:
                after = self._console(move.server_id)
            except lib_exc.TempestException as e:
                result.add('console', False, 'The console output of server '
                           '%s cannot be read: %s' % (move.server_id, e))
            else:
                new = console.new_output(move.before.console, after)
                self._check_console_lines(result, new)
                if heartbeat.parse(move.before.console):
                    self._check_heartbeat(result, move, after,
                                          guest_restarted)
                else:
                    self._check_without_heartbeat(result, new,
                                                  guest_restarted)
        if read_uptime:
            self._check_uptime(result, move, guest_restarted, read_uptime)

    def _check_console_lines(self, result, new):
        bad = console.matching_lines(new, self.failure_patterns)
        warnings = [line for line in
                    console.matching_lines(new, self.warning_patterns)
                    if line not in bad]
        result.console_warnings = warnings
        if bad:
            result.add('console-no-panic-or-oops', False,
                       'The console shows failures since the move started:'
                       '\n%s' % '\n'.join(bad))
            return
        text = ('No panic, oops or other failure pattern in the %d lines '
                'written since the move started.' % len(new.splitlines()))
        if warnings:
            text += (' %d kernel warning(s) reported, not failed: %s' % (
                len(warnings), ' | '.join(warnings[:5])))
        result.add('console-no-panic-or-oops', True, text)

    def _check_without_heartbeat(self, result, new, guest_restarted):
        result.add('guest-heartbeat', None, 'Not verified: the guest printed '
                   'no xloud-heartbeat line before the move (a guest '
                   'without the heartbeat, such as CirrOS), so its boot '
                   'identity, memory checksum, running state on the new '
                   'host and pause were not checked.')
        if guest_restarted:
            return
        if not self.boot_marker:
            result.add('guest-not-rebooted', None, 'Not verified: '
                       '[xloud_migration] console_boot_marker is empty.')
            return
        boots = console.matching_lines(new, [self.boot_marker])
        result.add('guest-not-rebooted', not boots,
                   'The guest rebooted during its migration; its console '
                   'shows: %s' % '\n'.join(boots) if boots else
                   'No boot banner (%s) in the %d lines written since the '
                   'move started.' % (self.boot_marker, len(new.splitlines())))

    def _check_heartbeat(self, result, move, after, guest_restarted):
        before = heartbeat.parse(move.before.console)
        last = before[-1]
        beats = heartbeat.parse(after)
        if not guest_restarted and not heartbeat.since(last, beats) and \
                not heartbeat.other_boots(last, beats):
            # The destination's console log may be new and still without a
            # line when nova reports the move completed: wait for one.
            beats = self._beats_after(move.server_id, last) or beats
        if not guest_restarted:
            self._check_same_boot(result, last, before, beats)
        latest = beats[-1] if beats else None
        newer = self._wait_for_newer_beat(move.server_id, latest)
        if newer:
            text = 'The heartbeat advanced to %s on host %s after the move.' \
                % (newer, result.host)
            if guest_restarted and newer.boot_id != last.boot_id:
                text += (' The guest booted again, as a cold migration does '
                         '(boot %s before, %s after).' % (
                             last.boot_id[:8], newer.boot_id[:8]))
            result.add('guest-running', True, text)
        else:
            result.add('guest-running', False, 'The heartbeat did not '
                       'advance within %d s after the move (last: %s): the '
                       'guest is not running.' % (self.heartbeat_timeout,
                                                  latest or last))

    def _check_same_boot(self, result, last, before, beats):
        known = {b.boot_id for b in before}
        others = [b for b in heartbeat.other_boots(last, beats)
                  if b not in known]
        if others or (beats and beats[-1].boot_id != last.boot_id):
            result.add('guest-not-rebooted', False, 'The guest rebooted '
                       'during its migration: boot %s before, %s since.' % (
                           last.boot_id, ', '.join(others or
                                                   [beats[-1].boot_id])))
            return
        newer = heartbeat.since(last, beats)
        if not newer:
            result.add('guest-not-rebooted', False, 'The guest printed '
                       'heartbeats before the move (last: %s) and none in '
                       'the console output since.' % last)
            return
        latest = newer[-1]
        result.add('guest-not-rebooted', True, 'Same boot %s before (%s) and '
                   'after (%s).' % (last.boot_id, last, latest))
        result.add('guest-uptime-grew', latest.uptime_ms > last.uptime_ms,
                   'Uptime %d ms at seq %d before the move, %d ms at seq %d '
                   'after.' % (last.uptime_ms, last.seq, latest.uptime_ms,
                               latest.seq))
        changed = [b for b in newer if b.memsum != last.memsum]
        result.add('guest-memory-intact', not changed,
                   'Memory checksum %s before the move, %s at %s.' % (
                       last.memsum, changed[0].memsum, changed[0])
                   if changed else
                   'Memory checksum %s before the move and in all %d '
                   'heartbeats since.' % (last.memsum, len(newer)))
        self._measure_pause(result, last, newer)

    def _measure_pause(self, result, last, newer):
        gap = heartbeat.largest_gap(last, newer)
        if not gap:
            result.add('guest-pause', None, 'Not measured: no heartbeat '
                       'since the move started.')
            return
        result.guest_pause_ms, a, b = gap
        text = ('Largest heartbeat gap %d ms, between seq %d and %d (the '
                'guest writes one line per %d ms tick), over %d heartbeats '
                'since the move started.' % (gap[0], a.seq, b.seq,
                                             heartbeat.INTERVAL_MS,
                                             len(newer)))
        if b.seq - a.seq > 1:
            text += (' Seq %d-%d are not in the console output (a log '
                     'restarted on the new host): the gap is their %d ms '
                     'less their ticks, an upper bound of the pause.' % (
                         a.seq + 1, b.seq - 1, b.uptime_ms - a.uptime_ms))
        result.add('guest-pause', True, text)

    def _poll(self, probe, timeout):
        """probe()'s first true answer within timeout seconds, or None."""
        deadline = time.time() + timeout
        while True:
            found = probe()
            if found or time.time() >= deadline:
                return found or None
            self.sleep(self.poll_interval)

    def _beats_after(self, server_id, last):
        """Console heartbeats once one newer than last is in it, or None."""
        def newer():
            beats = heartbeat.parse(self._console(server_id))
            if heartbeat.since(last, beats) or \
                    heartbeat.other_boots(last, beats):
                return beats
        return self._poll(newer, self.heartbeat_timeout)

    def _wait_for_newer_beat(self, server_id, latest, timeout=None):
        """A heartbeat written after latest (any, if None), or None."""
        def newer():
            for beat in reversed(heartbeat.parse(self._console(server_id))):
                if (latest is None or beat.boot_id != latest.boot_id or
                        beat.seq > latest.seq):
                    return beat
        return self._poll(newer, self.heartbeat_timeout if timeout is None
                          else timeout)

    def _check_uptime(self, result, move, guest_restarted, read_uptime):
        try:
            uptime = read_uptime()
        except lib_exc.TempestException as e:
            result.add('guest-uptime-ssh', False, 'Server %s cannot be '
                       'reached over SSH after its migration: %s' % (
                           move.server_id, e))
            return
        before = move.before.uptime
        went_back = (not guest_restarted and before is not None and
                     uptime < before)
        result.add('guest-uptime-ssh', not went_back,
                   'Server %s rebooted during its migration: uptime %.1f s '
                   'before, %.1f s after.' % (move.server_id, before, uptime)
                   if went_back else
                   'Uptime over SSH %s s before, %.1f s after.' % (
                       before, uptime))

    # Evidence

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

    def _finish(self, result, move):
        if not result.failed:
            return result
        raise exceptions.VerificationFailed('%s\n%s' % (
            '\n'.join(c.evidence for c in result.failed),
            evidence.describe(self.servers_client, self.migrations_client,
                              move.server_id, move.request_id)),
            verification=result)
