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

from tempest import config
from tempest.lib import decorators

from xloud_tempest_plugin.api.compute import base

CONF = config.CONF


class LiveMigrationTest(base.LiveMigrationTestBase):
    """Live migration on shared storage: memory moves, no disk is copied."""

    block_migration = False

    def _test_live_migration(self, request_host):
        guest = self.create_guest(host=self.source_host())
        dest = self.requested_destination(guest.id) if request_host else None
        move = self.live_migrate(guest, dest)
        self.assert_survived(guest, move, 'completed')
        if CONF.compute_feature_enabled.live_migrate_back_and_forth:
            back = self.live_migrate(guest, move.source_host)
            self.assert_survived(guest, back, 'completed')

    @decorators.attr(type='multinode')
    @decorators.idempotent_id('f4d6aaea-2591-47d3-b227-f34772044419')
    def test_live_migration_scheduler_picks_host(self):
        """Live-migrate to a host the scheduler picks; the guest survives."""
        self._test_live_migration(request_host=False)

    @decorators.attr(type='multinode')
    @decorators.idempotent_id('0c007fe7-928a-4f0a-8a1d-bd66ce0f49bf')
    def test_live_migration_to_requested_host(self):
        """Live-migrate to a requested host; the guest survives there."""
        self._test_live_migration(request_host=True)


class BlockLiveMigrationTest(LiveMigrationTest):
    """Block live migration: the local disks are copied as well."""

    block_migration = True

    # The same scenarios, under their own ids: an id names one test.
    @decorators.attr(type='multinode')
    @decorators.idempotent_id('2c50c0f1-4466-43ac-be08-3015f966fbe4')
    def test_live_migration_scheduler_picks_host(self):
        """Block-migrate to a host the scheduler picks; the guest survives."""
        self._test_live_migration(request_host=False)

    @decorators.attr(type='multinode')
    @decorators.idempotent_id('df5a0122-77e7-4af6-9b7e-fdce52f86c24')
    def test_live_migration_to_requested_host(self):
        """Block-migrate to a requested host; the guest survives there."""
        self._test_live_migration(request_host=True)
