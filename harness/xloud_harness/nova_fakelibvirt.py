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

"""nova 34's own functional harness, computes on fakelibvirt, any driver.

Real: nova's API (over its WSGI app), conductor, scheduler, placement, RPC
(oslo.messaging's fake driver, casts stay casts), the compute manager and
nova's whole libvirt driver, with the subclass ``COMPUTE_DRIVER`` names on
top (nova's ``compute_driver`` option: nova loads it, the harness never
imports it). Fake, as in nova's own functional tests: libvirt (nova's
fakelibvirt, extended where a test needs more), glance, neutron and cinder
(nova's fixtures).

Two edges need care because all fake computes live in one process:

* They share one ``instances_path``, so nova would see shared storage;
  :meth:`MigrationTestBase.use_local_storage` makes the computes answer
  as hosts with local disks, which block migration needs.
* fakelibvirt does not move domains; :meth:`_migrate_stub` moves the domain
  to the compute named in the migration URI, as libvirt would, and sends
  the source the completed-job event libvirt sends when it is done.
"""

import time
from urllib import parse

import fixtures
from nova.tests import fixtures as nova_fixtures
from nova.tests.fixtures import libvirt as fakelibvirt
from nova.tests.functional import integrated_helpers
from nova.tests.functional.libvirt import base as libvirt_base

from xloud_harness import poll

PARENT = 'nova.virt.libvirt.driver.LibvirtDriver'
# libvirt's public ABI numbers (include/libvirt/libvirt-domain.h), which
# nova's fakelibvirt lacks.
VIR_DOMAIN_EVENT_ID_JOB_COMPLETED = 21
VIR_DOMAIN_JOB_OPERATION_MIGRATION_OUT = 5


def send_completed_job(domain, stats):
    """libvirt's completed-job event, to whoever registered for it.

    On the domain's connection of nova's fakelibvirt; nova's own driver
    never registers for it.
    """
    conn = domain._connection
    registered = conn._event_callbacks.get(VIR_DOMAIN_EVENT_ID_JOB_COMPLETED)
    if registered:
        callback, opaque = registered
        callback(conn, domain, dict(stats), opaque)


class LocalStorage(fixtures.Fixture):
    """The computes behave as hosts with local instance disks.

    All fake computes share one instances_path, which nova detects as shared
    storage; a block migration needs it not to be. The harness creates no
    disk files (nova's harness stubs image creation), so the source reports
    no local disks unless a test says otherwise.
    """

    def _setUp(self):
        self.useFixture(fixtures.MockPatch(
            PARENT + '._check_shared_storage_test_file', return_value=False))
        self.useFixture(fixtures.MockPatch(
            PARENT + '._get_instance_disk_info', return_value=[]))


def _power_off_without_copy(driver, context, instance, *args, **kwargs):
    driver.power_off(instance)
    return '{}'


class SwtpmHosts(fixtures.Fixture):
    """Computes that offer vTPM, as hosts with swtpm installed do.

    Use before the computes start: they report their TPM traits at start.
    """

    def _setUp(self):
        self.useFixture(nova_fixtures.ConfPatcher(
            swtpm_enabled=True,
            supported_tpm_secret_security=['user', 'host', 'deployment'],
            group='libvirt'))
        # What swtpm_enabled checks on a real host (swtpm binaries, users).
        self.useFixture(fixtures.MockPatch(
            PARENT + '._check_vtpm_support'))
        self.useFixture(fixtures.MonkeyPatch(
            'nova.tests.fixtures.libvirt.virConnect._domain_capability_tpm',
            fakelibvirt.virConnect._domain_capability_tpm_supported))


def _managed_save_remove(domain, flags=0):
    domain._has_saved_state = False


class MigrationTestBase(
    libvirt_base.LibvirtMigrationMixin,
    libvirt_base.ServersTestBase,
    integrated_helpers.InstanceHelperMixin,
):
    """Computes running ``COMPUTE_DRIVER`` behind nova's real services.

    Admin API at the latest microversion; casts stay casts as in production,
    so a failed pre-check ends in migration status ``error``, not in an
    exception in the test.
    """

    ADMIN_API = True
    microversion = 'latest'
    CAST_AS_CALL = False
    #: Hostnames of the computes that setUp starts.
    COMPUTES = ('src', 'dest')
    #: nova's ``compute_driver`` option for every compute.
    COMPUTE_DRIVER = 'libvirt.LibvirtDriver'
    #: Modules of the driver that import libvirt as nova's do (a module
    #: global ``libvirt``): they get fakelibvirt, as nova's fixture gives
    #: nova's, so that they catch the errors fakelibvirt raises.
    LIBVIRT_MODULES = ()
    #: Migration address -> compute hostname, for tests that set ``[libvirt]
    #: live_migration_inbound_addr``: nova then migrates to that address,
    #: and fakelibvirt has no network to find the compute behind it.
    MIGRATION_ADDRESSES = {}
    #: Computes with 8 vCPUs and 32 GiB of RAM (the others: 4 and 16 GiB):
    #: the scheduler's first choice, or room for many guests.
    LARGE_HOSTS = ()
    #: The statistics of the completed-job event that libvirt sends the
    #: source when an outgoing migration completes, before the migration
    #: call returns. fakelibvirt measures nothing: by default the event
    #: names only its operation. None: no event (a libvirt older than 3.3).
    completed_job = {'operation': VIR_DOMAIN_JOB_OPERATION_MIGRATION_OUT}

    def setUp(self):
        super().setUp()
        for hostname in self.COMPUTES:
            self.start_compute(hostname=hostname, host_info=self.host_info(
                hostname))
        # fakelibvirt has no disks to copy: stand in for the copy part of a
        # cold migration (as nova's own functional tests do) but still stop
        # the guest on the source, as the real method does. Our override of
        # this hook runs and calls this through super().
        self.useFixture(fixtures.MonkeyPatch(
            PARENT + '.migrate_disk_and_power_off',
            _power_off_without_copy))
        # fakelibvirt's undefineFlags() calls managedSaveRemove() without
        # the flags argument its own signature requires, so deleting a
        # suspended server raises TypeError; libvirt's flags default to 0.
        self.useFixture(fixtures.MonkeyPatch(
            'nova.tests.fixtures.libvirt.Domain.managedSaveRemove',
            _managed_save_remove))

    def _setup_compute_service(self):
        self.flags(compute_driver=self.COMPUTE_DRIVER)
        for module in self.LIBVIRT_MODULES:
            self.useFixture(fixtures.MonkeyPatch(module + '.libvirt',
                                                 fakelibvirt))

    def host_info(self, hostname):
        """The fakelibvirt HostInfo for ``hostname``; override to vary."""
        if hostname in self.LARGE_HOSTS:
            return fakelibvirt.HostInfo(
                cpu_nodes=1, cpu_sockets=1, cpu_cores=4, cpu_threads=2,
                kB_mem=32 * 1024 * 1024)
        return fakelibvirt.HostInfo(
            cpu_nodes=1, cpu_sockets=1, cpu_cores=2, cpu_threads=2)

    def driver(self, hostname):
        return self.computes[hostname].driver

    def use_local_storage(self):
        """Make the computes behave as hosts with local instance disks."""
        self.useFixture(LocalStorage())

    def _migrate_stub(self, domain, destination, params, flags):
        """Move the domain to the compute named in the migration URI.

        The source's copy goes, as libvirt's UNDEFINE_SOURCE does.
        """
        dest_host = parse.urlparse(destination).hostname
        dest_host = self.MIGRATION_ADDRESSES.get(dest_host, dest_host)
        dest_conn = self.driver(dest_host)._host.get_connection()
        dest_conn.createXML(params['destination_xml'],
                            'fake-createXML-doesnt-care-about-flags')
        domain.complete_job()
        self._send_completed_job(domain)
        if flags & fakelibvirt.VIR_MIGRATE_UNDEFINE_SOURCE:
            domain._connection._vms.pop(domain.name(), None)
        self.migrate_stub_ran = True

    def _send_completed_job(self, domain):
        if self.completed_job is not None:
            send_completed_job(domain, self.completed_job)

    # Verbs the tests read as sentences.

    def boot(self, host, **kwargs):
        kwargs.setdefault('networks', 'none')
        server = self._create_server(host=host, **kwargs)
        self.assertEqual(host, server['OS-EXT-SRV-ATTR:host'])
        return server

    def live_migrate(self, server, host=None, block_migration='auto'):
        """POST os-migrateLive; returns when the migration record settles."""
        known = [m['id'] for m in self.migrations_of(server)]
        started = time.monotonic()
        self.api.post_server_action(server['id'], {'os-migrateLive': {
            'host': host, 'block_migration': block_migration}})
        migration = self.wait_for_migration(
            server, 'live-migration', ('completed', 'error', 'failed'),
            after_id=max(known, default=0))
        migration['duration_s'] = time.monotonic() - started
        return migration

    def migrations_of(self, server, migration_type=None):
        """The migration records of this server only (newest last)."""
        path = '/os-migrations?instance_uuid=%s' % server['id']
        if migration_type:
            path += '&migration_type=%s' % migration_type
        migrations = self.admin_api.api_get(path).body['migrations']
        return sorted(migrations, key=lambda m: m['id'])

    def wait_for_migration(self, server, migration_type, statuses,
                           timeout=30.0, after_id=0):
        """The server's newest record once it is in one of ``statuses``.

        Only records newer than ``after_id`` count, so that a second
        migration of the same server never returns the first one's record.
        """
        seen = []

        def settled():
            migrations = [m for m in self.migrations_of(server,
                                                        migration_type)
                          if m['id'] > after_id]
            if migrations:
                seen[:] = migrations[-1:]
                return migrations[-1]['status'] in statuses and seen[0]
            return None

        try:
            return poll.wait_until(settled, timeout, 0.1)
        except poll.WaitTimeout:
            self.fail('migration of %s (%s) did not reach %s; last record: '
                      '%s' % (server['id'], migration_type, statuses,
                              seen[0] if seen else None))

    def action_events(self, server, action):
        """Events of the newest instance action named ``action``."""
        actions = self.admin_api.get_instance_actions(server['id'])
        request_id = [a for a in actions if a['action'] == action][0][
            'request_id']
        return self.admin_api.get_instance_action_details(
            server['id'], request_id)['events']

    def assert_migrated(self, server, source, dest, migration,
                        expected_status='completed'):
        """The post-migration state every successful scenario must show."""
        self.assertEqual(expected_status, migration['status'], migration)
        self.assertEqual(source, migration['source_compute'])
        self.assertEqual(dest, migration['dest_compute'])
        server = self._wait_for_state_change(server, 'ACTIVE')
        self.assertEqual(dest, server['OS-EXT-SRV-ATTR:host'])
        # The guest runs on the destination's hypervisor only.
        self.assertIn(server['id'], self.domains_on(dest))
        self.assertNotIn(server['id'], self.domains_on(source))
        return server

    def assert_refused(self, server, source, migration, code,
                       status='error'):
        """The state every refused migration must show.

        Migration record ``error`` (``failed`` once nova has rolled back a
        refusal of the destination's pre_live_migration), server ACTIVE on
        its source, the reason (with its stable code) in the instance action
        events.
        """
        self.assertEqual(status, migration['status'], migration)
        server = self._wait_for_state_change(server, 'ACTIVE')
        self.assertEqual(source, server['OS-EXT-SRV-ATTR:host'])
        self.assertIn(server['id'], self.domains_on(source))
        events = self.action_events(server, 'live-migration')
        details = ' '.join(e.get('details') or '' for e in events)
        self.assertIn(code, details, events)
        return events

    def domains_on(self, hostname):
        """UUIDs of the guests running on ``hostname``'s hypervisor."""
        conn = self.driver(hostname)._host.get_connection()
        return [d.UUIDString() for d in conn.listAllDomains(
            fakelibvirt.VIR_CONNECT_LIST_DOMAINS_ACTIVE)]
