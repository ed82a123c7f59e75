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

from tempest.lib import decorators
from tempest.lib import exceptions as lib_exc

from xloud_tempest_plugin.common import exceptions
from xloud_tempest_plugin.common import verify
from xloud_tempest_plugin.tests.unit import base
from xloud_tempest_plugin.tests.unit import fake_nova

BOOT = '[    0.000000] Linux version 6.1.0 (builder@cirros) #1 SMP\n'
LOGIN = 'login as cirros\nvm login: '
PATTERNS = [r'Kernel panic', r'Oops: ', r'I/O error\W+(?:on )?dev (?!fd)']
WARNINGS = [r'Call Trace:', r'BUG: soft lockup']


def check(report, name):
    """The check of that name in a verification."""
    [found] = [c for c in report.checks if c.name == name]
    return found


class VerifierTestBase(base.TestCase):

    def setUp(self):
        super().setUp()
        self.nova = self.useFixture(fake_nova.FakeNova())
        self.servers, self.migrations = self.nova.clients()
        self.sleeps = []
        self.verifier = verify.MigrationVerifier(
            self.servers, self.migrations, failure_patterns=PATTERNS,
            warning_patterns=WARNINGS, boot_marker=r'Linux version \d',
            heartbeat_timeout=0, sleep=self.sleeps.append)

    def _move(self, server_id, requested='dest', source='src',
              known=frozenset(), migration_type='live-migration',
              console=BOOT + LOGIN, uptime=None, request_id=None):
        return verify.Move(server_id, migration_type, source, requested,
                           known, verify.GuestState(console, uptime),
                           request_id=request_id, seconds=9.0)

    def _migrated(self, host='dest', status='completed', dest='dest',
                  console=BOOT + LOGIN + '\nuptime 10\n'):
        """A server that live-migrated from src to dest, as nova shows it."""
        server_id = self.nova.add_server(host)
        self.nova.add_migration(server_id, status, 'src', dest)
        self.nova.set_console(server_id, console)
        return server_id

    def assertFails(self, match, func, *args, **kwargs):
        e = self.assertRaises(exceptions.VerificationFailed, func, *args,
                              **kwargs)
        self.assertIn(match, str(e))
        return e


class TestVerifyLiveMigration(VerifierTestBase):

    @decorators.idempotent_id('0e272db7-0b24-4a94-9eb1-942d0d579da0')
    def test_survivor_on_requested_host(self):
        server_id = self._migrated()
        report = self.verifier.verify(self._move(server_id), 'completed')
        self.assertEqual('dest', report.host)
        self.assertEqual('completed', report.migration['status'])
        self.assertEqual(9.0, report.seconds)
        self.assertEqual(7.5, report.record_seconds)
        self.assertEqual(
            'No panic, oops or other failure pattern in the 2 lines written '
            'since the move started.',
            check(report, 'console-no-panic-or-oops').evidence)
        self.assertIsNone(check(report, 'guest-heartbeat').ok)
        self.assertTrue(check(report, 'guest-not-rebooted').ok)

    @decorators.idempotent_id('c5a65347-1bcb-4e47-bccc-1a2b82c81751')
    def test_server_on_another_host_than_requested_fails(self):
        server_id = self._migrated(host='other', dest='other')
        self.assertFails('is on host other, expected dest',
                         self.verifier.verify, self._move(server_id),
                         'completed')

    @decorators.idempotent_id('79cacc7e-93b6-4bf4-9125-7ee5b44f909f')
    def test_scheduler_choice_still_on_source_fails(self):
        server_id = self._migrated(host='src', dest='src')
        self.assertFails('still on its source host src',
                         self.verifier.verify,
                         self._move(server_id, requested=None), 'completed')

    @decorators.idempotent_id('9f804d74-e061-4408-8dd0-c641a4878b81')
    def test_scheduler_choice_elsewhere_passes(self):
        server_id = self._migrated(host='other', dest='other')
        report = self.verifier.verify(self._move(server_id, requested=None),
                                      'completed')
        self.assertEqual('other', report.host)

    @decorators.idempotent_id('aea752d3-ae63-4422-ba31-e2ddc8f4f79f')
    def test_server_in_error_fails(self):
        server_id = self._migrated()
        self.nova.move_server(server_id, 'dest', status='ERROR')
        self.assertFails('is ERROR', self.verifier.verify,
                         self._move(server_id), 'completed')

    @decorators.idempotent_id('23151651-0fc9-4c54-8ea9-25b9526f70b9')
    def test_server_with_a_task_fails(self):
        server_id = self._migrated()
        self.nova.move_server(server_id, 'dest', task_state='migrating')
        self.assertFails('task state migrating', self.verifier.verify,
                         self._move(server_id), 'completed')

    @decorators.idempotent_id('b4d44698-03b4-4d4e-a7c0-35791858ea3b')
    def test_other_instance_record_is_not_taken(self):
        server_id = self.nova.add_server('dest')
        other = self.nova.add_server('dest')
        self.nova.add_migration(other, 'completed', 'src', 'dest')
        self.nova.ignore_filters = True
        self.assertFails('found 0', self.verifier.verify,
                         self._move(server_id), 'completed')

    @decorators.idempotent_id('acf06ca4-80b4-4be3-bcdc-58e4b7b22bbd')
    def test_other_instance_completed_while_ours_failed(self):
        server_id = self._migrated(status='error')
        other = self.nova.add_server('dest')
        self.nova.add_migration(other, 'completed', 'src', 'dest')
        self.nova.ignore_filters = True
        self.assertFails('is error, expected completed',
                         self.verifier.verify, self._move(server_id),
                         'completed')

    @decorators.idempotent_id('6302f035-62a7-4fd7-9a7e-b367e62c81e4')
    def test_earlier_record_of_same_server_is_not_taken(self):
        server_id = self.nova.add_server('dest')
        old = self.nova.add_migration(server_id, 'completed', 'src', 'dest')
        self.nova.add_migration(server_id, 'error', 'src', 'dest')
        self.assertFails('is error', self.verifier.verify,
                         self._move(server_id, known={old['id']}),
                         'completed')

    @decorators.idempotent_id('412363a3-2bcc-47e3-bcde-edf85b29e250')
    def test_record_towards_another_host_fails(self):
        server_id = self.nova.add_server('dest')
        self.nova.add_migration(server_id, 'completed', 'src', 'elsewhere')
        self.assertFails('went to elsewhere', self.verifier.verify,
                         self._move(server_id), 'completed')

    @decorators.idempotent_id('9ee389d4-19f7-46fa-b79c-21c536168440')
    def test_record_from_another_source_fails(self):
        server_id = self.nova.add_server('dest')
        self.nova.add_migration(server_id, 'completed', 'third', 'dest')
        self.assertFails('left from third', self.verifier.verify,
                         self._move(server_id), 'completed')

    @decorators.idempotent_id('55671959-2f34-46b7-8fdf-f46c68394d3e')
    def test_failure_message_carries_evidence(self):
        server_id = self._migrated(status='error')
        self.nova.add_action(server_id, 'req-1', [
            ('compute_live_migration', 'Error', 'libvirt said no', None)])
        e = self.assertFails('Evidence for server %s' % server_id,
                             self.verifier.verify, self._move(server_id),
                             'completed')
        self.assertIn("'status': 'error'", str(e))
        self.assertIn('details: libvirt said no', str(e))


class TestVerifyGuest(VerifierTestBase):

    @decorators.idempotent_id('3fd6a3f5-9ab9-4bac-81d1-6a230837f361')
    def test_panic_since_migration_fails(self):
        server_id = self._migrated(
            console=BOOT + LOGIN + '\nKernel panic - not syncing: Fatal\n')
        self.assertFails('Kernel panic - not syncing', self.verifier.verify,
                         self._move(server_id), 'completed')

    @decorators.idempotent_id('b0302640-d84d-4845-abe7-e2ce4d480508')
    def test_disk_error_since_migration_fails(self):
        server_id = self._migrated(
            console=BOOT + LOGIN + '\nblk_update_request: I/O error, dev '
            'vda, sector 2048\n')
        self.assertFails('dev vda', self.verifier.verify,
                         self._move(server_id), 'completed')

    @decorators.idempotent_id('82f9a1cd-b34e-434e-a8cb-306a8e2b0b3d')
    def test_failures_before_migration_are_not_blamed_on_it(self):
        before = BOOT + 'Kernel panic\n' + LOGIN
        server_id = self._migrated(console=before + '\nstill here\n')
        report = self.verifier.verify(self._move(server_id, console=before),
                                      'completed')
        self.assertTrue(check(report, 'console-no-panic-or-oops').ok)

    @decorators.idempotent_id('76ab38d7-c241-43da-b8fa-73973816367a')
    def test_reboot_during_live_migration_fails(self):
        server_id = self._migrated(console=BOOT + LOGIN + '\n' + BOOT)
        self.assertFails('rebooted during its migration',
                         self.verifier.verify, self._move(server_id),
                         'completed')

    @decorators.idempotent_id('fe984cfd-292a-4bf8-9293-86c991b42321')
    def test_reboot_seen_in_a_new_log_on_the_destination_fails(self):
        server_id = self._migrated(console=BOOT + 'vm login: ')
        self.assertFails('rebooted during its migration',
                         self.verifier.verify,
                         self._move(server_id, console='x' * 3000),
                         'completed')

    @decorators.idempotent_id('3b6f791a-fc4b-46bc-aaa2-5dd4390930d5')
    def test_cold_migration_may_boot_again(self):
        server_id = self.nova.add_server('dest')
        self.nova.add_migration(server_id, 'confirmed', 'src', 'dest',
                                migration_type='migration')
        self.nova.set_console(server_id, BOOT + LOGIN)
        report = self.verifier.verify(
            self._move(server_id, migration_type='migration'), 'confirmed',
            guest_restarted=True)
        self.assertEqual('confirmed', report.migration['status'])

    @decorators.idempotent_id('8289188d-70ed-4ab2-b94a-966ac772e2d0')
    def test_uptime_going_back_fails(self):
        server_id = self._migrated()
        self.assertFails('uptime 500.0 s before, 3.0 s after',
                         self.verifier.verify,
                         self._move(server_id, uptime=500.0), 'completed',
                         read_uptime=lambda: 3.0)

    @decorators.idempotent_id('c72592f5-d5b8-4b6e-9d90-849a1a573107')
    def test_uptime_going_on_passes(self):
        server_id = self._migrated()
        report = self.verifier.verify(self._move(server_id, uptime=500.0),
                                      'completed', read_uptime=lambda: 530.5)
        self.assertEqual(
            (True, 'Uptime over SSH 500.0 s before, 530.5 s after.'),
            (check(report, 'guest-uptime-ssh').ok,
             check(report, 'guest-uptime-ssh').evidence))

    @decorators.idempotent_id('9f78d601-5f32-4716-a64f-415b059a5677')
    def test_unreachable_guest_fails(self):
        def unreachable():
            raise lib_exc.SSHTimeout(host='10.0.0.5', user='cirros',
                                     password=None)
        server_id = self._migrated()
        self.assertFails('cannot be reached over SSH', self.verifier.verify,
                         self._move(server_id, uptime=1.0), 'completed',
                         read_uptime=unreachable)

    @decorators.idempotent_id('9f4a3348-00d5-49cb-9e18-672f7284ce03')
    def test_console_not_checked_when_disabled(self):
        server_id = self._migrated(console='Kernel panic')
        self.verifier.check_console = False
        report = self.verifier.verify(self._move(server_id), 'completed')
        self.assertIsNone(check(report, 'console').ok)
        self.assertIn('console_output is false',
                      check(report, 'console').evidence)
        self.assertEqual([], self.nova.requested('/action'))


class TestVerifyColdMigration(VerifierTestBase):

    def _cold(self, host, status, dest):
        server_id = self.nova.add_server(host)
        self.nova.add_migration(server_id, status, 'src', dest,
                                migration_type='migration')
        self.nova.set_console(server_id, BOOT + LOGIN)
        return self._move(server_id, requested=None,
                          migration_type='migration')

    @decorators.idempotent_id('95878cfd-690f-42b3-b121-c49e8fe8064e')
    def test_reverted_back_on_source_passes(self):
        move = self._cold('src', 'reverted', 'dest')
        report = self.verifier.verify(move, 'reverted', final_host='src',
                                      guest_restarted=True)
        self.assertEqual('src', report.host)

    @decorators.idempotent_id('a5e0d4c8-5280-4cfc-b446-28e7a3b81152')
    def test_revert_that_never_left_fails(self):
        move = self._cold('src', 'reverted', 'src')
        self.assertFails('never left src', self.verifier.verify, move,
                         'reverted', final_host='src', guest_restarted=True)

    @decorators.idempotent_id('1763fcf1-4b02-46e7-bdba-713cd53f266d')
    def test_confirmed_but_record_finished_fails(self):
        move = self._cold('dest', 'finished', 'dest')
        self.assertFails('is finished, expected confirmed',
                         self.verifier.verify, move, 'confirmed',
                         guest_restarted=True)


class TestVerifyRefused(VerifierTestBase):

    CODE = 'xloud.cpu.incompatible'
    REFUSAL = ('Migration pre-check error: [xloud.cpu.incompatible] '
               'Destination host dest cannot run the guest CPU.')

    def _refused(self, events, host='src', status='error'):
        server_id = self.nova.add_server(host)
        self.nova.add_migration(server_id, status, 'src', 'dest')
        self.nova.add_action(server_id, 'req-9', events)
        self.nova.set_console(server_id, BOOT + LOGIN)
        return self._move(server_id, request_id='req-9')

    def _events(self, details=REFUSAL, traceback=None):
        return [('conductor_live_migrate_instance', 'Error', details,
                 traceback),
                ('compute_check_can_live_migrate_destination', 'Error',
                 details, traceback)]

    @decorators.idempotent_id('f067b333-4623-470c-895b-43f432ea83e6')
    def test_refusal_with_code_passes(self):
        report = self.verifier.verify_refused(
            self._refused(self._events()), self.CODE)
        self.assertEqual('src', report.host)
        self.assertEqual('error', report.migration['status'])
        self.assertIn('compute_check_can_live_migrate_destination',
                      report.refusal['events'])

    @decorators.idempotent_id('d365853f-8089-42e1-aa86-3ca8547811b0')
    def test_code_in_traceback_only_passes(self):
        tb = 'Traceback...\nMigrationPreCheckError: %s\n' % self.REFUSAL
        report = self.verifier.verify_refused(
            self._refused(self._events(details=None, traceback=tb)),
            self.CODE)
        self.assertEqual(self.CODE, report.refusal['code'])

    @decorators.idempotent_id('6f5f1ec3-78bf-453e-90a6-5cc4bf97a5bf')
    def test_mentions_found_in_the_traceback_pass(self):
        # nova cuts the details at 255 characters; the traceback has all.
        tb = ('Traceback...\nMigrationPreCheckError: %s Less 1 block '
              'migration(s) in flight there. Fix: retry later.\n'
              % self.REFUSAL)
        report = self.verifier.verify_refused(
            self._refused(self._events(traceback=tb)), self.CODE,
            mentions=('in flight there', 'Fix: retry'))
        [check] = [c for c in report.checks if c.name == 'refusal-says']
        self.assertTrue(check.ok)

    @decorators.idempotent_id('34b47aae-ee51-4d57-b698-66c36c3a0daf')
    def test_refusal_not_saying_a_mention_fails(self):
        move = self._refused(self._events())
        self.assertFails("does not say 'in flight there'",
                         self.verifier.verify_refused, move, self.CODE,
                         mentions=('in flight there', 'cannot run'))

    @decorators.idempotent_id('05cc0490-ba08-420a-851c-0e4bedb3b1e2')
    def test_refusal_without_code_fails(self):
        move = self._refused(self._events(details='CPU does not have '
                                          'compatibility.'))
        self.assertFails('carries the refusal code xloud.cpu.incompatible',
                         self.verifier.verify_refused, move, self.CODE)

    @decorators.idempotent_id('f60122bf-a31f-4405-b73d-8985d1c7c2ce')
    def test_server_that_moved_fails(self):
        move = self._refused(self._events(), host='dest')
        self.assertFails('moved to dest', self.verifier.verify_refused, move,
                         self.CODE)

    @decorators.idempotent_id('48ff3508-f358-4735-a215-091672ccf8ee')
    def test_refusal_after_copying_started_fails(self):
        events = self._events() + [
            ('compute_live_migration', 'Error', self.REFUSAL, None)]
        self.assertFails('not refused before copying',
                         self.verifier.verify_refused,
                         self._refused(events), self.CODE)

    @decorators.idempotent_id('911d66f1-2ebe-4e4c-a680-fc67c5db275a')
    def test_completed_record_fails(self):
        self.assertFails('is completed, expected error',
                         self.verifier.verify_refused,
                         self._refused(self._events(), status='completed'),
                         self.CODE)

    @decorators.idempotent_id('734d866a-0c8b-4952-bd77-ef52bfc28185')
    def test_other_instance_error_record_is_not_taken(self):
        server_id = self.nova.add_server('src')
        self.nova.add_action(server_id, 'req-9', self._events())
        other = self.nova.add_server('src')
        self.nova.add_migration(other, 'error', 'src', 'dest')
        self.nova.ignore_filters = True
        self.assertFails('found 0', self.verifier.verify_refused,
                         self._move(server_id, request_id='req-9'),
                         self.CODE)

    @decorators.idempotent_id('34af13c8-abb9-412b-b24a-7208370ccb8a')
    def test_latest_action_used_without_request_id(self):
        move = self._refused(self._events())
        move.request_id = None
        report = self.verifier.verify_refused(move, self.CODE)
        self.assertEqual(self.CODE, report.refusal['code'])


BOOT_ID = 'a' * 32
REBOOT_ID = 'b' * 32


def beats(first, last, boot_id=BOOT_ID, memsum='0badcafe', start_ms=5000,
          step_ms=100, jump=None):
    """Heartbeat lines seq first..last; jump=(seq, ms) delays that one."""
    lines, uptime = [], start_ms
    for seq in range(first, last + 1):
        if jump and seq == jump[0]:
            uptime += jump[1] - step_ms
        lines.append('xloud-heartbeat boot_id=%s uptime_ms=%d seq=%d '
                     'memsum=%s' % (boot_id, uptime, seq, memsum))
        uptime += step_ms
    return '\n'.join(lines) + '\n'


class TestVerifyHeartbeat(VerifierTestBase):
    """A guest that prints the Xloud heartbeat testifies for itself."""

    BEFORE = BOOT + beats(1, 10)

    def _verify(self, *consoles, guest_restarted=False,
                migration_type='live-migration'):
        status = 'completed' if not guest_restarted else 'confirmed'
        server_id = self.nova.add_server('dest')
        self.nova.add_migration(server_id, status, 'src', 'dest',
                                migration_type=migration_type)
        self.nova.set_console(server_id, *consoles)
        return self.verifier.verify(
            self._move(server_id, console=self.BEFORE,
                       migration_type=migration_type),
            status, guest_restarted=guest_restarted)

    @decorators.idempotent_id('fb35337e-1295-4a94-aa35-b3043738c4a0')
    def test_live_migration_proven_and_pause_measured(self):
        after = self.BEFORE + beats(11, 20, start_ms=6000, jump=(14, 730))
        report = self._verify(after, after + beats(21, 22, start_ms=7630))
        self.assertEqual([], report.failed)
        self.assertEqual([], report.not_verified)
        self.assertEqual(730, report.guest_pause_ms)
        self.assertIn('between seq 13 and 14',
                      check(report, 'guest-pause').evidence)
        self.assertIn('seq 22', check(report, 'guest-running').evidence)
        self.assertIn('Same boot ' + BOOT_ID,
                      check(report, 'guest-not-rebooted').evidence)
        as_json = report.as_dict()
        self.assertEqual(730, as_json['guest_pause_ms'])
        self.assertIn({'name': 'guest-memory-intact', 'ok': True,
                       'evidence': 'Memory checksum 0badcafe before the '
                       'move and in all 10 heartbeats since.'},
                      as_json['checks'])

    def _waiting_verifier(self, timeout):
        return verify.MigrationVerifier(
            self.servers, self.migrations, heartbeat_timeout=0,
            heartbeat_before_move_timeout=timeout, sleep=self.sleeps.append)

    @decorators.idempotent_id('ebb3b07b-29f2-40ad-a5ee-f7c08bcf79c6')
    def test_observe_waits_for_the_first_heartbeat(self):
        server_id = self.nova.add_server('src')
        self.nova.set_console(server_id, BOOT, BOOT, self.BEFORE)
        state = self._waiting_verifier(60).observe(server_id)
        self.assertEqual(self.BEFORE, state.console)
        # Two polls for the first heartbeat (uptime 5900 ms), then until the
        # guest has run 10 s.
        self.assertEqual(3, len(self.sleeps))
        self.assertAlmostEqual(4.1, self.sleeps[-1])

    @decorators.idempotent_id('0f6d1c52-8a4e-4c1b-9d0e-2b7f5a3c9e41')
    def test_observe_does_not_wait_for_a_settled_guest(self):
        server_id = self.nova.add_server('src')
        self.nova.set_console(server_id, BOOT + beats(1, 3, start_ms=12000))
        self._waiting_verifier(60).observe(server_id)
        self.assertEqual([], self.sleeps)

    @decorators.idempotent_id('c86cb324-c554-4b74-ba6b-1bf12ba91a5c')
    def test_observe_without_heartbeat_fails_before_the_move(self):
        server_id = self.nova.add_server('src')
        self.nova.set_console(server_id, BOOT + LOGIN)
        e = self.assertRaises(exceptions.VerificationFailed,
                              self._waiting_verifier(1).observe, server_id)
        self.assertIn('printed no xloud-heartbeat line within 1 s', str(e))
        self.assertIn('vm login:', str(e))
        # Not waiting (the default): a guest without heartbeat is observed.
        self.assertEqual(BOOT + LOGIN, self.verifier.observe(
            server_id).console)

    @decorators.idempotent_id('342da385-cd8d-4267-abaf-1c99f86d8ab1')
    def test_new_boot_id_fails(self):
        after = self.BEFORE + BOOT + beats(1, 5, boot_id=REBOOT_ID)
        e = self.assertFails('rebooted during its migration',
                             self._verify, after,
                             after + beats(6, 6, boot_id=REBOOT_ID))
        self.assertFalse(check(e.verification, 'guest-not-rebooted').ok)

    @decorators.idempotent_id('cb72bfb9-cc2b-4753-bada-99f047109ab6')
    def test_memory_checksum_change_fails(self):
        after = self.BEFORE + beats(11, 12, start_ms=6000, memsum='deadbeef')
        self.assertFails('Memory checksum 0badcafe before the move, '
                         'deadbeef at seq 11', self._verify, after,
                         after + beats(13, 13, start_ms=6200))

    @decorators.idempotent_id('db4f1e62-d769-402c-99c8-a4c642ea57b9')
    def test_uptime_going_back_fails(self):
        after = self.BEFORE + beats(11, 12, start_ms=10)
        self.assertFails('Uptime 5900 ms at seq 10 before the move, 110 ms',
                         self._verify, after, after + beats(13, 13))

    @decorators.idempotent_id('6f9b836d-5ecc-42e4-b026-992a10176fdd')
    def test_stopped_heartbeat_fails(self):
        after = self.BEFORE + beats(11, 12, start_ms=6000)
        e = self.assertFails('did not advance', self._verify, after)
        self.assertTrue(check(e.verification, 'guest-not-rebooted').ok)

    @decorators.idempotent_id('ad15a10c-9038-49c0-b0ea-faa3294e8c7b')
    def test_heartbeat_gone_fails(self):
        self.assertFails('none in the console output since', self._verify,
                         self.BEFORE + 'silence\n')

    @decorators.idempotent_id('0c1f6a39-5a7e-4b1e-9f57-3f4f7f0a2d61')
    def test_waits_for_the_first_line_of_a_new_destination_log(self):
        # Read as the move completes: the destination's log is still empty.
        self.verifier.heartbeat_timeout = 60
        self.verifier.poll_interval = 0.5
        after = beats(40, 41, start_ms=9000)
        later = after + beats(42, 42, start_ms=9200)
        report = self._verify('', '', after, later)
        self.assertEqual([], report.failed)
        self.assertIn('Same boot ' + BOOT_ID,
                      check(report, 'guest-not-rebooted').evidence)
        self.assertEqual([0.5], self.sleeps)

    @decorators.idempotent_id('775fa4e8-c6dc-4489-a96d-34657b7a9c68')
    def test_new_log_on_destination_bounds_the_pause(self):
        # The destination's log starts at seq 40: seq 11-39 are not seen.
        # On their ticks they end at 8800 ms; seq 40 came 200 ms later.
        after = beats(40, 45, start_ms=9000)
        report = self._verify(after, after + beats(46, 46, start_ms=9600))
        self.assertEqual([], report.failed)
        self.assertEqual(200, report.guest_pause_ms)
        evidence = check(report, 'guest-pause').evidence
        self.assertIn('between seq 10 and 40', evidence)
        self.assertIn('Seq 11-39 are not in the console output', evidence)
        self.assertIn('an upper bound of the pause', evidence)

    @decorators.idempotent_id('b2f6f0de-3c51-4a44-8a0b-6f1de7d3c0a9')
    def test_a_line_written_twice_is_counted_once(self):
        # Two QEMUs wrote the shared log around the switchover.
        after = (self.BEFORE + beats(11, 12, start_ms=6000) +
                 beats(12, 14, start_ms=6100, jump=(13, 400)))
        report = self._verify(after, after + beats(15, 15, start_ms=6600))
        self.assertEqual([], report.failed)
        self.assertEqual(400, report.guest_pause_ms)

    @decorators.idempotent_id('45fcf8d0-87f0-44a2-bd2c-4348cc9c2a79')
    def test_waits_for_the_heartbeat_to_advance(self):
        self.verifier.heartbeat_timeout = 60
        self.verifier.poll_interval = 0.5
        after = self.BEFORE + beats(11, 12, start_ms=6000)
        report = self._verify(after, after, after,
                              after + beats(13, 13, start_ms=6200))
        self.assertTrue(check(report, 'guest-running').ok)
        self.assertEqual([0.5, 0.5], self.sleeps)

    @decorators.idempotent_id('5ee7bb34-b75b-4da6-947e-0cf292a1762a')
    def test_cold_migration_boots_again(self):
        after = BOOT + beats(1, 3, boot_id=REBOOT_ID)
        report = self._verify(after, after + beats(4, 4, boot_id=REBOOT_ID),
                              guest_restarted=True,
                              migration_type='migration')
        self.assertEqual([], report.failed)
        self.assertIn('booted again, as a cold migration does',
                      check(report, 'guest-running').evidence)

    @decorators.idempotent_id('7d8091b9-60a0-4975-96f1-9f55b1e96686')
    def test_kernel_warnings_are_reported_not_failed(self):
        after = (self.BEFORE + 'watchdog: BUG: soft lockup - CPU#0 stuck '
                 'for 23s!\nCall Trace:\n' + beats(11, 12, start_ms=6000))
        report = self._verify(after, after + beats(13, 13, start_ms=6200))
        self.assertEqual([], report.failed)
        self.assertEqual(['watchdog: BUG: soft lockup - CPU#0 stuck for 23s!',
                          'Call Trace:'], report.console_warnings)
        self.assertIn('2 kernel warning(s) reported, not failed',
                      check(report, 'console-no-panic-or-oops').evidence)

    @decorators.idempotent_id('826ac9e3-4d57-42a2-8052-cd3db9f10ab0')
    def test_oops_fails(self):
        after = (self.BEFORE + 'Oops: 0000 [#1] SMP\nCall Trace:\n' +
                 beats(11, 12, start_ms=6000))
        e = self.assertFails('Oops: 0000 [#1] SMP', self._verify, after,
                             after + beats(13, 13, start_ms=6200))
        self.assertFalse(
            check(e.verification, 'console-no-panic-or-oops').ok)

    @decorators.idempotent_id('085a5c44-aa37-4626-91c6-08945d2c6eee')
    def test_every_failed_check_is_in_the_message(self):
        server_id = self._migrated(host='other', dest='other',
                                   console=BOOT + LOGIN + 'Kernel panic\n')
        e = self.assertFails('is on host other, expected dest',
                             self.verifier.verify, self._move(server_id),
                             'completed')
        self.assertIn('Kernel panic', str(e))
        self.assertEqual(['server-host', 'console-no-panic-or-oops'],
                         [c.name for c in e.verification.failed])
