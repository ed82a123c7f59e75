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

"""The Xloud safeguards refuse a doomed live migration before copying.

nova accepts the request (202); the refusal comes from the destination's
pre-check, sets the migration record to ``error`` and leaves the server
ACTIVE on its source. Admins read the refusal, with its stable code, in the
instance action events (``details``, microversion 2.84). These scenarios
need a cloud prepared for them: see the [xloud_migration] options.
"""

from tempest.common import waiters as tempest_waiters
from tempest import config
from tempest.lib import decorators

from xloud_tempest_plugin.api.compute import base

CONF = config.CONF


class RefusedMigrationTestBase(base.LiveMigrationTestBase):
    """A live migration that a safeguard must refuse up front."""

    def _test_refused_live_migration(self, source, dest, flavor, code):
        if source == dest:
            raise self.skipException(
                'The source and destination hosts are both %s.' % dest)
        guest = self.create_guest(host=source, flavor=flavor)
        move = self.request_live_migration(guest, dest)
        self.wait_for_move(move, 'error')
        tempest_waiters.wait_for_server_status(
            self.admin_servers_client, guest.id, 'ACTIVE')
        self.verified(self.verifier.verify_refused, move, code)


class CPUIncompatibleDestinationTest(RefusedMigrationTestBase):
    """A host that cannot run the guest's CPU is refused."""

    block_migration = 'auto'

    @classmethod
    def skip_checks(cls):
        super().skip_checks()
        opts = CONF.xloud_migration
        if not opts.cpu_incompatible_dest_host:
            raise cls.skipException(
                '[xloud_migration] cpu_incompatible_dest_host is not set.')
        if not (opts.cpu_incompatible_source_host or
                CONF.compute.migration_source_host):
            raise cls.skipException(
                'Neither [xloud_migration] cpu_incompatible_source_host nor '
                '[compute] migration_source_host is set.')

    @decorators.attr(type=['negative', 'multinode'])
    @decorators.idempotent_id('3f289591-691a-4763-aec7-0bca2cc1408b')
    def test_live_migration_to_cpu_incompatible_host_refused(self):
        """Refused before copying; the server stays ACTIVE on its source."""
        opts = CONF.xloud_migration
        self._test_refused_live_migration(
            source=(opts.cpu_incompatible_source_host or
                    CONF.compute.migration_source_host),
            dest=opts.cpu_incompatible_dest_host,
            flavor=opts.cpu_incompatible_flavor,
            code=opts.cpu_refusal_code)


class DiskFullDestinationTest(RefusedMigrationTestBase):
    """A block migration to a host without disk room is refused."""

    block_migration = True

    @classmethod
    def skip_checks(cls):
        super().skip_checks()
        if not CONF.xloud_migration.disk_full_dest_host:
            raise cls.skipException(
                '[xloud_migration] disk_full_dest_host is not set.')

    @decorators.attr(type=['negative', 'multinode'])
    @decorators.idempotent_id('cc1b126b-e978-4b64-b388-6f7eb7512676')
    def test_block_migration_to_host_without_disk_room_refused(self):
        """Refused before copying; the server stays ACTIVE on its source."""
        opts = CONF.xloud_migration
        dest = opts.disk_full_dest_host
        self._test_refused_live_migration(
            source=(opts.disk_full_source_host or
                    self.source_host(avoid=dest)),
            dest=dest,
            flavor=opts.disk_full_flavor,
            code=opts.disk_refusal_code)


@decorators.serial
class ConcurrentBlockMigrationTest(RefusedMigrationTestBase):
    """Two block migrations that fit one at a time, not together.

    Serial: another scenario's block migration to the same host would
    change the room this one counts on.
    """

    block_migration = True
    #: What the refusal must say: the migration in flight (its cause) and
    #: the fix (exception.InsufficientDisk in xloud-nova-ext).
    MENTIONS = ('block migration(s) in flight there',
                'Fix: Retry once those have finished')
    #: Statuses of a live migration whose destination has accepted it (and
    #: reserved its disk room) but not yet released it.
    IN_FLIGHT = ('preparing', 'running')

    @classmethod
    def skip_checks(cls):
        super().skip_checks()
        if not CONF.xloud_migration.concurrent_block_dest_host:
            raise cls.skipException(
                '[xloud_migration] concurrent_block_dest_host is not set.')

    @decorators.attr(type=['negative', 'multinode'])
    @decorators.idempotent_id('568db769-3dd0-4056-98fd-6e983a661182')
    def test_second_block_migration_refused_while_first_copies(self):
        """One completes, the other is refused in the pre-check."""
        opts = CONF.xloud_migration
        dest = opts.concurrent_block_dest_host
        source = (opts.concurrent_block_source_host or
                  self.source_host(avoid=dest))
        if source == dest:
            raise self.skipException(
                'The source and destination hosts are both %s.' % dest)
        first, second = [
            self.create_guest(host=source,
                              flavor=opts.concurrent_block_flavor)
            for _ in range(2)]
        # Both guests observed first: the second request must follow the
        # first one's acceptance closely.
        moves = [self.prepare_live_migration(g, dest)
                 for g in (first, second)]
        self.request_live_migration(first, dest, move=moves[0])
        # 'preparing': the source is asking the destination to prepare,
        # which reserves the room first; the second request's pre-check
        # (API, scheduler, both hosts) comes after that and before the
        # first copy ends.
        self.wait_for_move(moves[0], self.IN_FLIGHT, interval=0.2)
        self.request_live_migration(second, dest, move=moves[1])
        self.wait_for_move(moves[1], 'error')
        tempest_waiters.wait_for_server_status(
            self.admin_servers_client, second.id, 'ACTIVE')
        self.wait_for_move(moves[0], 'completed')
        tempest_waiters.wait_for_server_status(
            self.admin_servers_client, first.id, 'ACTIVE')
        self.assert_survived(first, moves[0], 'completed', final_host=dest)
        self.verified(self.verifier.verify_refused, moves[1],
                      opts.disk_refusal_code, mentions=self.MENTIONS)
        # The first migration's reservation is gone once it completed: the
        # refused server now fits.
        move = self.live_migrate(second, dest)
        self.assert_survived(second, move, 'completed', final_host=dest)
