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
    # Seconds of the per-test timeout kept for verifying each server and
    # for the cleanups (deleting the servers, enabling the host again).
    VERIFY_SECONDS = 30
    CLEANUP_SECONDS = 120

    def _test_drain_host(self, count):
        first = self.create_guest(host=self.source_host())
        host = self.get_host_for_server(first.id)
        guests = [first] + [self.create_guest(host=host)
                            for _ in range(count - 1)]
        self.disable_compute_service(host)
        for index, guest in enumerate(guests):
            move = self.live_migrate(
                guest, timeout=self._migration_wait(len(guests) - index))
            self.assert_survived(guest, move, 'completed')
        left = [g.id for g in guests
                if self.get_host_for_server(g.id) == host]
        self.assertEqual([], left, 'Servers still on %s.' % host)
        self.enable_compute_service(host)
        self.assertEqual('enabled', self.compute_service(host)['status'])

    def _migration_wait(self, remaining):
        """How long one of the remaining migrations may take.

        [xloud_migration] migration_timeout, cut so that all remaining
        migrations, their verification and the cleanups fit in the per-test
        timeout: a slow drain then fails with the waiter's evidence (which
        server, which status) instead of being killed by the timeout.
        """
        left = self.seconds_left()
        if left is None:
            return self.migration_timeout
        spare = left - self.CLEANUP_SECONDS - remaining * (
            self.VERIFY_SECONDS + CONF.xloud_migration.heartbeat_timeout)
        if spare < remaining:
            self.fail('%d s left of the per-test timeout (OS_TEST_TIMEOUT): '
                      'no time to drain %d more server(s); lower [xloud_'
                      'migration] drain_server_count or raise the timeout.'
                      % (left, remaining))
        return min(self.migration_timeout, int(spare / remaining))

    @decorators.attr(type=['multinode', 'slow'])
    @decorators.idempotent_id('645dbb2a-916a-4b0e-8dba-f74a3aaffe20')
    def test_drain_host(self):
        """Disable a host, live-migrate all its servers away, re-enable."""
        self._test_drain_host(CONF.xloud_migration.drain_server_count)
