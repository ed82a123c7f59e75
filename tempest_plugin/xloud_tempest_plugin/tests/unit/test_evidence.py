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

from xloud_tempest_plugin.common import evidence
from xloud_tempest_plugin.common import migrations
from xloud_tempest_plugin.tests.unit import base
from xloud_tempest_plugin.tests.unit import fake_nova


class TestServerMigrations(base.TestCase):

    def setUp(self):
        super().setUp()
        self.nova = self.useFixture(fake_nova.FakeNova())
        self.servers, self.migrations = self.nova.clients()
        self.server_id = self.nova.add_server('src')
        self.other = self.nova.add_server('src')

    @decorators.idempotent_id('19b900c4-e01f-47d7-889f-67ca95c937cf')
    def test_only_this_server_and_type_even_if_the_api_ignores_filters(self):
        mine = self.nova.add_migration(self.server_id, 'completed', 'a', 'b')
        self.nova.add_migration(self.server_id, 'confirmed', 'b', 'a',
                                migration_type='migration')
        self.nova.add_migration(self.other, 'completed', 'a', 'b')
        self.nova.ignore_filters = True
        records = migrations.server_migrations(
            self.migrations, self.server_id, migrations.LIVE)
        self.assertEqual([mine['id']], [r['id'] for r in records])
        self.assertIn('instance_uuid=%s' % self.server_id,
                      self.nova.requests[-1])
        self.assertIn('migration_type=live-migration',
                      self.nova.requests[-1])

    @decorators.idempotent_id('03f4db1a-b69a-4499-a666-951074b8ebf2')
    def test_new_records_leave_out_known_ones(self):
        old = self.nova.add_migration(self.server_id, 'completed', 'a', 'b')
        known = migrations.migration_ids(self.migrations, self.server_id,
                                         migrations.LIVE)
        self.assertEqual({old['id']}, known)
        new = self.nova.add_migration(self.server_id, 'running', 'b', 'a')
        self.assertEqual([new['id']], [r['id'] for r in
                                       migrations.new_migrations(
                                           self.migrations, self.server_id,
                                           migrations.LIVE, known)])


class TestDescribe(base.TestCase):

    def setUp(self):
        super().setUp()
        self.nova = self.useFixture(fake_nova.FakeNova())
        self.servers, self.migrations = self.nova.clients()
        self.server_id = self.nova.add_server('src')
        self.nova.add_migration(self.server_id, 'error', 'src', 'dest')

    @decorators.idempotent_id('bdd49463-99ce-41a8-bdcd-88f54225a00d')
    def test_records_and_event_details(self):
        self.nova.add_action(self.server_id, 'req-1', [
            ('compute_check_can_live_migrate_destination', 'Error',
             '[xloud.cpu.incompatible] no', 'Traceback\nError: no')])
        text = evidence.describe(self.servers, self.migrations,
                                 self.server_id)
        self.assertIn("'status': 'error'", text)
        self.assertIn('action live-migration (req-1) Error', text)
        self.assertIn('compute_check_can_live_migrate_destination: Error',
                      text)
        self.assertIn('details: [xloud.cpu.incompatible] no', text)

    @decorators.idempotent_id('6ce192dc-513e-49ba-95e3-61d0af15a96f')
    def test_traceback_when_no_details(self):
        self.nova.add_action(self.server_id, 'req-1', [
            ('conductor_live_migrate_instance', 'Error', None,
             'Traceback (most recent call last):\nMigrationPreCheckError: '
             '[xloud.disk.insufficient] full\n')])
        text = evidence.describe(self.servers, self.migrations,
                                 self.server_id, request_id='req-1')
        self.assertIn('traceback: MigrationPreCheckError: '
                      '[xloud.disk.insufficient] full', text)

    @decorators.idempotent_id('720b50ae-e934-4e88-bad1-ff9a29cfbbee')
    def test_never_raises(self):
        text = evidence.describe(self.servers, self.migrations,
                                 self.server_id, request_id='req-missing')
        self.assertIn('instance actions unavailable', text)
        text = evidence.describe(self.servers, self.migrations, 'gone')
        self.assertIn('instance actions unavailable', text)
