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

"""Base classes of the migration scenarios: boot, move, prove survival."""

import dataclasses
import os
import time
import typing

from oslo_log import log as logging
from testtools import content

from tempest.api.compute import base
from tempest.common.utils.linux import remote_client
from tempest.common import waiters as tempest_waiters
from tempest import config
from tempest.lib.common.utils import test_utils

from xloud_tempest_plugin.common import exceptions
from xloud_tempest_plugin.common import migrations
from xloud_tempest_plugin.common import verify
from xloud_tempest_plugin.common import waiters

CONF = config.CONF
LOG = logging.getLogger(__name__)


@dataclasses.dataclass
class Guest:
    """A server a scenario booted, and what is needed to reach it."""

    server: dict
    clients: typing.Any
    validation_resources: typing.Optional[dict] = None

    @property
    def id(self):
        return self.server['id']


class MigrationTestBase(base.BaseV2ComputeAdminTest):
    """Boots servers, migrates them and proves that they survived."""

    # 2.84: instance action events carry 'details' (evidence, refusal
    # codes); it also gives 2.74 (boot on a host), 2.56 (cold migration to a
    # host), 2.53 (services by id) and 2.34 (asynchronous live migration).
    min_microversion = '2.84'
    max_microversion = 'latest'
    create_default_network = True

    @classmethod
    def skip_checks(cls):
        super().skip_checks()
        if CONF.compute.min_compute_nodes < 2:
            raise cls.skipException(
                '%s needs 2 compute nodes; [compute] min_compute_nodes is '
                '%d.' % (cls.__name__, CONF.compute.min_compute_nodes))
        source = CONF.compute.migration_source_host
        if source and source == CONF.compute.migration_dest_host:
            raise cls.skipException(
                '[compute] migration_source_host and migration_dest_host '
                'must differ.')

    @classmethod
    def setup_clients(cls):
        super().setup_clients()
        cls.admin_migrations_client = cls.os_admin.migrations_client
        cls.admin_services_client = cls.os_admin.services_client

    @classmethod
    def resource_setup(cls):
        super().resource_setup()
        opts = CONF.xloud_migration
        cls.migration_timeout = opts.migration_timeout
        cls.verifier = verify.MigrationVerifier(
            cls.admin_servers_client, cls.admin_migrations_client,
            failure_patterns=opts.console_failure_patterns,
            warning_patterns=opts.console_warning_patterns,
            boot_marker=opts.console_boot_marker,
            check_console=CONF.compute_feature_enabled.console_output,
            heartbeat_timeout=opts.heartbeat_timeout,
            heartbeat_before_move_timeout=opts.heartbeat_before_move_timeout,
            poll_interval=min(CONF.compute.build_interval, 1))

    # Hosts

    def compute_hosts(self):
        """Hosts of the enabled, up nova-compute services tempest may use."""
        avoid = CONF.compute.target_hosts_to_avoid
        services = self.admin_services_client.list_services(
            binary='nova-compute')['services']
        return [s['host'] for s in services
                if s['state'] == 'up' and s['status'] == 'enabled' and
                not (avoid and avoid in s['host'])]

    def source_host(self, avoid=None):
        """Where to boot a server that will migrate.

        ``[compute] migration_source_host``; else, when a host must be
        avoided (default ``migration_dest_host``), another host; else None,
        the scheduler's choice.
        """
        if CONF.compute.migration_source_host:
            return CONF.compute.migration_source_host
        avoid = avoid or CONF.compute.migration_dest_host
        if not avoid:
            return None
        others = [h for h in self.compute_hosts() if h != avoid]
        self.assertNotEqual([], others, 'No enabled, up compute host other '
                            'than %s to boot on.' % avoid)
        return others[0]

    def requested_destination(self, server_id):
        """The host a 'requested destination' scenario migrates to."""
        if CONF.compute.migration_dest_host:
            return CONF.compute.migration_dest_host
        if not CONF.compute_feature_enabled.can_migrate_between_any_hosts:
            raise self.skipException(
                'Set [compute] migration_dest_host, or [compute-feature-'
                'enabled] can_migrate_between_any_hosts, to request a '
                'destination.')
        dest = self.get_host_other_than(server_id)
        self.assertIsNotNone(dest, 'No enabled, up compute host other than '
                             'the source of server %s.' % server_id)
        return dest

    # Servers

    def create_guest(self, host=None, flavor=None, clients=None):
        """Boot a server (on host when given), deleted when the test ends.

        By default the admin boots it when a host is asked for (only an
        admin may, microversion 2.74), the primary user otherwise.
        """
        if clients is None:
            clients = self.os_admin if host else self.os_primary
        kwargs = {'clients': clients, 'wait_until': 'ACTIVE'}
        if host:
            kwargs['host'] = host
        if flavor:
            kwargs['flavor'] = flavor
        resources = None
        if CONF.validation.run_validation:
            # Each guest its own keypair, security group and floating IP:
            # the class's shared set has one floating IP per client, which
            # the next boot would move to the next guest.
            resources = self.get_test_validation_resources(clients)
            kwargs.update(validatable=True, validation_resources=resources,
                          wait_until='SSHABLE')
        server = self.create_test_server(**kwargs)
        # Free the hosts after each test, not each class: moves need room.
        self.addCleanup(self._delete_server, clients.servers_client,
                        server['id'])
        server = clients.servers_client.show_server(server['id'])['server']
        return Guest(server, clients, resources)

    @staticmethod
    def _delete_server(client, server_id):
        test_utils.call_and_ignore_notfound_exc(client.delete_server,
                                                server_id)
        tempest_waiters.wait_for_server_termination(client, server_id)

    def uptime_reader(self, guest):
        """A callable reading the guest's uptime over SSH, or None."""
        if not guest.validation_resources:
            return None

        def read_uptime():
            ssh = remote_client.RemoteClient(
                self.get_server_ip(guest.server, guest.validation_resources),
                self.image_ssh_user, password=self.image_ssh_password,
                pkey=guest.validation_resources['keypair']['private_key'],
                server=guest.server,
                servers_client=guest.clients.servers_client)
            return float(ssh.exec_command('cat /proc/uptime').split()[0])
        return read_uptime

    # Migrations

    def _start_move(self, guest, migration_type, host):
        source = self.get_host_for_server(guest.id)
        known = migrations.migration_ids(self.admin_migrations_client,
                                         guest.id, migration_type)
        before = self.verifier.observe(guest.id, self.uptime_reader(guest))
        LOG.info('%s of server %s from %s to %s', migration_type, guest.id,
                 source, host or 'a host the scheduler picks')
        return verify.Move(guest.id, migration_type, source, host, known,
                           before)

    def prepare_live_migration(self, guest, host=None):
        """What request_live_migration notes before asking: the Move.

        For a request that must follow another one closely: the guest is
        observed (console, heartbeat) beforehand.
        """
        return self._start_move(guest, migrations.LIVE, host)

    def request_live_migration(self, guest, host=None, block_migration=None,
                               move=None):
        """Ask nova to live-migrate; returns the Move without waiting.

        ``move``: one prepare_live_migration returned for this guest and
        host (by default it is prepared now).
        """
        if move is None:
            move = self.prepare_live_migration(guest, host)
        move.started = time.time()
        if block_migration is None:
            block_migration = self.block_migration
        body = self.admin_servers_client.live_migrate_server(
            guest.id, host=host, block_migration=block_migration)
        move.request_id = body.response.get('x-openstack-request-id')
        return move

    def live_migrate(self, guest, host=None, block_migration=None,
                     timeout=None):
        """Live-migrate and wait until the record is completed."""
        move = self.request_live_migration(guest, host, block_migration)
        self.wait_for_move(move, 'completed', timeout=timeout)
        tempest_waiters.wait_for_server_status(
            self.admin_servers_client, guest.id, 'ACTIVE')
        return move

    def cold_migrate(self, guest, host=None):
        """Cold-migrate and wait until the server awaits confirmation."""
        move = self._start_move(guest, migrations.COLD, host)
        kwargs = {'host': host} if host else {}
        body = self.admin_servers_client.migrate_server(guest.id, **kwargs)
        move.request_id = body.response.get('x-openstack-request-id')
        self.wait_for_move(move, 'finished')
        tempest_waiters.wait_for_server_status(
            self.admin_servers_client, guest.id, 'VERIFY_RESIZE')
        return move

    def confirm_migration(self, move):
        """Confirm a cold migration; wait for ACTIVE and 'confirmed'."""
        self.admin_servers_client.confirm_resize_server(move.server_id)
        tempest_waiters.wait_for_server_status(
            self.admin_servers_client, move.server_id, 'ACTIVE')
        self.wait_for_move(move, 'confirmed')

    def revert_migration(self, move):
        """Revert a cold migration; wait for ACTIVE and 'reverted'."""
        self.admin_servers_client.revert_resize_server(move.server_id)
        tempest_waiters.wait_for_server_status(
            self.admin_servers_client, move.server_id, 'ACTIVE')
        self.wait_for_move(move, 'reverted')

    def wait_for_move(self, move, status, timeout=None, interval=None):
        """Wait for the move's record; note the seconds it took.

        ``status``: one status or several (see
        waiters.wait_for_migration_status), ``interval``: seconds between
        polls (default ``[compute] build_interval``).
        """
        record = waiters.wait_for_migration_status(
            self.admin_migrations_client, move.server_id,
            move.migration_type, status, known_ids=move.known_ids,
            servers_client=self.admin_servers_client,
            timeout=timeout or self.migration_timeout,
            request_id=move.request_id, interval=interval)
        move.seconds = round(time.time() - move.started, 3)
        move.timings[record['status']] = move.seconds
        return record

    # Verification

    def assert_survived(self, guest, move, status, final_host=None,
                        guest_restarted=False):
        """The post-migration verification that every scenario runs."""
        return self.verified(
            self.verifier.verify, move, status, final_host=final_host,
            guest_restarted=guest_restarted,
            read_uptime=self.uptime_reader(guest))

    def verified(self, verify, *args, **kwargs):
        """Run a verifier method; its results go in the details either way."""
        try:
            result = verify(*args, **kwargs)
        except exceptions.VerificationFailed as e:
            if e.verification:
                self.record_report(e.verification)
            raise
        self.record_report(result)
        return result

    def record_report(self, result):
        """Put a verification (checks, durations) in the test's details.

        As JSON (``xloud-migration-<migration id>``) for reports, and as
        text, one line per check, for whoever reads the test's output.
        """
        LOG.info('Migration verification: %s', result.summary())
        name = result.migration.get('id') or result.server
        self.addDetail('xloud-migration-%s' % name,
                       content.json_content(result.as_dict()))
        self.addDetail('xloud-verification-%s' % name,
                       content.text_content(result.summary()))

    # Time

    def seconds_left(self):
        """Seconds until the per-test timeout (OS_TEST_TIMEOUT) fires.

        None when there is no such timeout. tempest starts it in setUp,
        shortly before the test: counted from now, a little is left over.
        """
        try:
            timeout = int(os.environ.get('OS_TEST_TIMEOUT', 0))
        except ValueError:
            return None
        if timeout <= 0:
            return None
        timeout *= self.TIMEOUT_SCALING_FACTOR
        started = getattr(self, '_test_started', None) or time.time()
        return timeout - (time.time() - started)

    def setUp(self):
        self._test_started = time.time()
        super().setUp()

    # Hosts under maintenance

    def compute_service(self, host):
        return self.admin_services_client.list_services(
            binary='nova-compute', host=host)['services'][0]

    def disable_compute_service(self, host):
        """Disable host's nova-compute service until the test ends.

        Re-enabled by a cleanup, which runs however the test ends (failure,
        error or per-test timeout); enable_compute_service does it earlier.
        """
        service = self.compute_service(host)
        self.assertEqual('enabled', service['status'],
                         'Host %s is already disabled; not touching it.' %
                         host)
        self.admin_services_client.update_service(
            service['id'], status='disabled',
            disabled_reason='tempest %s is draining this host' % self.id())
        self.addCleanup(self.enable_compute_service, host)
        return service

    def enable_compute_service(self, host):
        """Enable host's nova-compute service unless it already is."""
        service = self.compute_service(host)
        if service['status'] != 'enabled':
            self.admin_services_client.update_service(
                service['id'], status='enabled')


class LiveMigrationTestBase(MigrationTestBase):
    """Live migration scenarios; block_migration says what they ask for."""

    # True (copy local disks), False (shared storage) or 'auto'.
    block_migration = 'auto'

    @classmethod
    def skip_checks(cls):
        super().skip_checks()
        if not CONF.compute_feature_enabled.live_migration:
            raise cls.skipException(
                '[compute-feature-enabled] live_migration is false.')
        if (cls.block_migration is True and not
                CONF.compute_feature_enabled.
                block_migration_for_live_migration):
            raise cls.skipException(
                '[compute-feature-enabled] '
                'block_migration_for_live_migration is false.')
        if (cls.block_migration is False and not
                CONF.xloud_migration.shared_storage_live_migration):
            raise cls.skipException(
                '[xloud_migration] shared_storage_live_migration is false.')

    def requested_destination(self, server_id):
        """A block migration may need its own destination (see config)."""
        block_dest = CONF.xloud_migration.block_migration_dest_host
        if self.block_migration is True and block_dest:
            return block_dest
        return super().requested_destination(server_id)
