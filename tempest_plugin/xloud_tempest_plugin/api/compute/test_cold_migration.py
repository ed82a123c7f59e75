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


class ColdMigrationTest(base.MigrationTestBase):
    """Cold migration: the guest is stopped, moved, then confirmed or not."""

    @classmethod
    def skip_checks(cls):
        super().skip_checks()
        if not CONF.compute_feature_enabled.cold_migration:
            raise cls.skipException(
                '[compute-feature-enabled] cold_migration is false.')

    def _test_cold_migration(self, revert):
        guest = self.create_guest(host=self.source_host())
        move = self.cold_migrate(guest, CONF.compute.migration_dest_host)
        if revert:
            self.revert_migration(move)
            self.assert_survived(guest, move, 'reverted',
                                 final_host=move.source_host,
                                 guest_restarted=True)
        else:
            self.confirm_migration(move)
            self.assert_survived(guest, move, 'confirmed',
                                 guest_restarted=True)

    @decorators.attr(type='multinode')
    @decorators.idempotent_id('e42a6b5d-382c-450c-99cf-4b6d8706ca61')
    def test_cold_migration_confirmed(self):
        """Cold-migrate and confirm; the guest runs on the new host."""
        self._test_cold_migration(revert=False)

    @decorators.attr(type='multinode')
    @decorators.idempotent_id('bfec32dd-fd61-47ce-8f4b-e69156e93936')
    def test_cold_migration_reverted(self):
        """Cold-migrate and revert; the guest runs on its source again."""
        self._test_cold_migration(revert=True)
