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


# Serial: a disabled compute service would starve tests running alongside.
@decorators.serial
class DrainHostTest(base.LiveMigrationTestBase):
    """Drain a host before maintenance, as an operator does."""

    block_migration = 'auto'

    def _test_drain_host(self, count):
        first = self.create_guest(host=self.source_host())
        host = self.get_host_for_server(first.id)
        guests = [first] + [self.create_guest(host=host)
                            for _ in range(count - 1)]
        with self.compute_service_disabled(host):
            for guest in guests:
                move = self.live_migrate(guest)
                self.assert_survived(guest, move, 'completed')
            left = [g.id for g in guests
                    if self.get_host_for_server(g.id) == host]
            self.assertEqual([], left, 'Servers still on %s.' % host)
        self.assertEqual('enabled', self.compute_service(host)['status'])

    @decorators.attr(type=['multinode', 'slow'])
    @decorators.idempotent_id('645dbb2a-916a-4b0e-8dba-f74a3aaffe20')
    def test_drain_host(self):
        """Disable a host, live-migrate all its servers away, re-enable."""
        self._test_drain_host(CONF.xloud_migration.drain_server_count)
