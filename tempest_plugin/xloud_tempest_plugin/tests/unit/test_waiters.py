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

import fixtures

from tempest.lib import decorators
from tempest.lib import exceptions as lib_exc

from xloud_tempest_plugin.common import exceptions
from xloud_tempest_plugin.common import waiters
from xloud_tempest_plugin.tests.unit import base
from xloud_tempest_plugin.tests.unit import fake_nova

LIVE = 'live-migration'


class TestWaitForMigrationStatus(base.TestCase):

    def setUp(self):
        super().setUp()
        self.nova = self.useFixture(fake_nova.FakeNova())
        self.servers, self.migrations = self.nova.clients(build_interval=3,
                                                          build_timeout=30)
        self.server_id = self.nova.add_server('src')
        self.clock = FakeClock()
        self.useFixture(fixtures.MockPatchObject(waiters, 'time',
                                                 self.clock))

    def _wait(self, status='completed', **kwargs):
        kwargs.setdefault('servers_client', self.servers)
        return waiters.wait_for_migration_status(
            self.migrations, self.server_id, LIVE, status, **kwargs)

    @decorators.idempotent_id('41c4cd1d-0b3e-4a24-be62-8052bf6522bd')
    def test_returns_record_once_completed_sleeping_between_polls(self):
        self.nova.add_migration(self.server_id,
                                ['accepted', 'running', 'completed'],
                                'src', 'dest')
        record = self._wait()
        self.assertEqual('completed', record['status'])
        self.assertEqual([3, 3], self.clock.sleeps)

    @decorators.idempotent_id('3da3c162-95cd-4824-9bc1-bf019dd84415')
    def test_waits_for_a_record_that_does_not_exist_yet(self):
        def record_appears():
            if len(self.clock.sleeps) == 2:
                self.nova.add_migration(self.server_id, 'completed', 'src',
                                        'dest')
        self.clock.on_sleep = record_appears
        self.assertEqual('completed', self._wait()['status'])
        self.assertEqual([3, 3], self.clock.sleeps)

    @decorators.idempotent_id('bf6a7b50-a5a9-47b5-94d2-3e9477c39309')
    def test_never_takes_another_instance_record(self):
        self.nova.add_migration(self.server_id, ['running', 'completed'],
                                'src', 'dest')
        # Newer than ours: a waiter reading the last row would take it.
        other = self.nova.add_server('src')
        self.nova.add_migration(other, 'completed', 'src', 'dest')
        self.nova.ignore_filters = True
        record = self._wait()
        self.assertEqual(self.server_id, record['instance_uuid'])
        self.assertEqual([3], self.clock.sleeps)

    @decorators.idempotent_id('d515f7eb-0066-4c47-8ecb-09eb739ed6e8')
    def test_never_takes_an_earlier_record_of_the_server(self):
        old = self.nova.add_migration(self.server_id, 'completed', 'src',
                                      'dest')
        self.nova.add_migration(self.server_id, ['running', 'completed'],
                                'dest', 'src')
        record = self._wait(known_ids={old['id']})
        self.assertNotEqual(old['id'], record['id'])
        self.assertEqual([3], self.clock.sleeps)

    @decorators.idempotent_id('9b1ca2da-8eb0-4a3a-a968-09c414067706')
    def test_fails_fast_on_error_with_the_action_events(self):
        self.nova.add_migration(self.server_id, ['running', 'error'], 'src',
                                'dest')
        self.nova.add_action(self.server_id, 'req-1', [
            ('conductor_live_migrate_instance', 'Error',
             'Migration pre-check error: [xloud.disk.insufficient] no room',
             None)])
        e = self.assertRaises(exceptions.MigrationFailed, self._wait)
        self.assertIn('ended error, expected completed', str(e))
        self.assertIn(self.server_id, str(e))
        self.assertIn('[xloud.disk.insufficient] no room', str(e))
        self.assertEqual([3], self.clock.sleeps)

    @decorators.idempotent_id('6e3d803f-2c61-44d9-abf7-341f1acf08e5')
    def test_any_of_several_statuses_at_the_given_interval(self):
        self.nova.add_migration(
            self.server_id, ['accepted', 'queued', 'preparing', 'running',
                             'completed'], 'src', 'dest')
        record = self._wait(status=('preparing', 'running'), interval=0.2)
        self.assertEqual('preparing', record['status'])
        self.assertEqual([0.2, 0.2], self.clock.sleeps)

    @decorators.idempotent_id('f86beda5-d200-410b-be9e-bdbac8b681a1')
    def test_several_statuses_missed_fails_naming_them(self):
        self.nova.add_migration(self.server_id, 'completed', 'src', 'dest')
        e = self.assertRaises(exceptions.MigrationFailed, self._wait,
                              status=('running', 'preparing'))
        self.assertIn('ended completed, expected preparing or running',
                      str(e))

    @decorators.idempotent_id('50bd7ae2-40b3-460d-ba35-75b21836d637')
    def test_any_other_final_status_fails(self):
        self.nova.add_migration(self.server_id, 'completed', 'src', 'dest')
        e = self.assertRaises(exceptions.MigrationFailed, self._wait,
                              status='error')
        self.assertIn('ended completed, expected error', str(e))

    @decorators.idempotent_id('b80c0f43-2ee1-4584-a23f-a91bac52ec38')
    def test_error_is_returned_when_awaited(self):
        self.nova.add_migration(self.server_id, 'error', 'src', 'dest')
        self.assertEqual('error', self._wait(status='error')['status'])

    @decorators.idempotent_id('1302caec-bcd6-48dc-a173-2e91ac12f878')
    def test_times_out_with_id_expected_and_current_status(self):
        record = self.nova.add_migration(self.server_id, 'running', 'src',
                                         'dest')
        e = self.assertRaises(lib_exc.TimeoutException, self._wait,
                              timeout=25)
        self.assertIn('Migration %s' % record['id'], str(e))
        self.assertIn('server %s' % self.server_id, str(e))
        self.assertIn('did not reach status completed within 25 s', str(e))
        self.assertIn('current status: running', str(e))
        self.assertEqual([3] * 9, self.clock.sleeps)

    @decorators.idempotent_id('c5942663-aaee-4a1e-a329-e9dc5e78043e')
    def test_timeout_defaults_to_the_client_build_timeout(self):
        e = self.assertRaises(lib_exc.TimeoutException, self._wait)
        self.assertIn('(no record yet)', str(e))
        self.assertIn('within 30 s', str(e))


class FakeClock(object):
    """Stands in for the time module: sleeping moves the clock on."""

    # More readings than this between two sleeps: a busy loop.
    MAX_READINGS = 20

    def __init__(self):
        self.now = 1000.0
        self.sleeps = []
        self.on_sleep = None
        self.readings = 0

    def time(self):
        self.readings += 1
        if self.readings > self.MAX_READINGS:
            raise AssertionError('The waiter polls without sleeping.')
        return self.now

    def sleep(self, seconds):
        self.readings = 0
        self.sleeps.append(seconds)
        self.now += seconds
        if self.on_sleep:
            self.on_sleep()
