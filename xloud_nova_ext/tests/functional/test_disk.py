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

"""The block-migration disk preflight through nova's whole migration flow.

Real: nova's API, conductor, scheduler, placement, RPC, compute manager and
libvirt driver with XloudLibvirtDriver on top, our DiskGuard and its ledger.
Fake, at the edges the harness cannot provide (all computes share one
instances_path in one process and no disk file exists):

* each compute's filesystem (free space, which files exist, their
  allocation) is a FakeFS behind its DiskGuard's ``fs``;
* nova's ``_get_instance_disk_info`` (qemu-img on the guest's files) answers
  realistic per-server disks from ServerDisks;
* the destination's answer to the cold-migration ssh probe is computed from
  its FakeFS.
"""

import os
import re
import shlex
import threading

import fixtures
from nova import context as nova_context
from nova.tests.functional.api import client
from nova.virt.libvirt import driver as libvirt_driver

import nova.conf

from xloud_harness import nova_fakelibvirt

from xloud_nova_ext import exception
from xloud_nova_ext.tests.fixtures import disk as disk_fx
from xloud_nova_ext.tests.functional import base

CONF = nova.conf.CONF
MiB = disk_fx.MiB
GiB = disk_fx.GiB
CODE = 'xloud.disk.insufficient'
BASE = 'c0ffee0000000000000000000000000000000000'

#: A server's disks: 600 MiB allocated in its qcow2 root disk over a 300
#: MiB base image, a 1 MiB config drive; headroom 256 MiB. The pre-check
#: (root disk + headroom) needs 856 MiB, the destination (everything, base
#: image missing from its cache) 1157 MiB.
ROOT = 600 * MiB
BASE_SIZE = 300 * MiB
CONFIG = 1 * MiB
HEADROOM = 256 * MiB
PRECHECK_NEED = ROOT + HEADROOM
FULL_NEED = ROOT + CONFIG + BASE_SIZE + HEADROOM


class DiskPreflightTestBase(base.XloudMigrationTestBase):

    #: Computes that run stock nova's LibvirtDriver (a rolling install).
    STOCK = ()

    def start_compute(self, hostname='compute1', *args, **kwargs):
        # nova's restart_compute_service passes its arguments by position.
        if hostname not in self.STOCK:
            return super().start_compute(hostname, *args, **kwargs)
        self.flags(compute_driver='libvirt.LibvirtDriver')
        try:
            # nova's own start_compute, without our driver's assertion.
            return super(base.XloudMigrationTestBase, self).start_compute(
                hostname, *args, **kwargs)
        finally:
            self.flags(compute_driver='xloud.XloudLibvirtDriver')

    def setUp(self):
        super().setUp()
        self.use_local_storage()
        self.flags(disk_headroom_mb=HEADROOM // MiB, group='xloud')
        self.flags(reserved_host_disk_mb=0)
        self.disks = self.useFixture(disk_fx.ServerDisks(
            CONF.instances_path,
            os.path.join(CONF.instances_path,
                         CONF.image_cache.subdirectory_name)))
        self.fs = {}
        for hostname in self.COMPUTES:
            self.fs[hostname] = disk_fx.FakeFS(free=100 * GiB)
            if hostname not in self.STOCK:
                self.guard(hostname).fs = self.fs[hostname]
        # Calls of nova's own pre_live_migration (which creates the
        # instance directory and its images), by host.
        self.nova_pre_live_migration = []
        self.nova_pre_live_migration_ids = []  # their instances' UUIDs
        original = libvirt_driver.LibvirtDriver.pre_live_migration

        def spy(driver, context, instance, *args, **kwargs):
            self.nova_pre_live_migration.extend(
                h for h, c in self.computes.items() if c.driver is driver)
            self.nova_pre_live_migration_ids.append(instance.uuid)
            return original(driver, context, instance, *args, **kwargs)
        self.useFixture(fixtures.MonkeyPatch(
            nova_fakelibvirt.PARENT + '.pre_live_migration', spy))
        self.copy_hooks = []

    def guard(self, hostname):
        return self.driver(hostname)._disk.__wrapped__

    def _migrate_stub(self, domain, destination, params, flags):
        # A hook returning True makes the copy fail, as libvirt reports it.
        if any([hook(domain) for hook in self.copy_hooks]):
            domain.fail_job()
            return
        super()._migrate_stub(domain, destination, params, flags)

    def boot_with_disks(self, host, root=ROOT, virtual=1 * GiB):
        server = self.boot(host)
        fs = self.fs[host]
        self.disks.add(server['id'], fs, 'disk', root, virtual,
                       backing=BASE, backing_allocated=BASE_SIZE)
        self.disks.add(server['id'], fs, 'disk.config', CONFIG, CONFIG,
                       fmt='raw')
        return server

    def assert_nothing_reserved(self):
        for hostname in self.COMPUTES:
            if hostname not in self.STOCK:
                self.assertEqual({}, self.guard(hostname).ledger.snapshot(),
                                 hostname)

    def event_details(self, server, action='live-migration'):
        return ' '.join('%s: %s' % (e['event'], e.get('details') or '')
                        for e in self.action_events(server, action))

    def log_text(self):
        """What nova-compute logged (the refusal in full, per disk)."""
        return self.stdlog.logger.output

    def assert_refused_by_destination(self, server, code=CODE,
                                      source='src'):
        """Refused in the destination's pre_live_migration.

        nova marks such a migration ``error`` and, once its rollback is
        done, ``failed``; the server stays ACTIVE on its source.
        """
        self._wait_for_instance_action_event(
            server, 'live-migration',
            'compute_rollback_live_migration_at_destination', 'success')
        migration = self.wait_for_migration(server, 'live-migration',
                                            ('failed',))
        self.assert_refused(server, source, migration, code, status='failed')
        event = self._wait_for_instance_action_event(
            server, 'live-migration', 'compute_pre_live_migration', 'error')
        self.assertIn(code, event['details'])
        # Refused before nova created the instance directory or images.
        self.assertEqual([], self.nova_pre_live_migration)
        self.assert_nothing_reserved()
        return migration, event['details']


class BlockMigrationPreflightTest(DiskPreflightTestBase):

    def test_refused_in_precheck_when_disks_cannot_fit(self):
        server = self.boot_with_disks('src')
        self.fs['dest'].free_bytes = PRECHECK_NEED - 1
        migration = self.live_migrate(server, host='dest',
                                      block_migration=True)
        self.assert_refused(server, 'src', migration, CODE)
        details = self.event_details(server)
        # The destination judged the source's answer, still in nova's
        # pre-check (the conductor may try another host).
        self.assertIn('compute_check_can_live_migrate_destination: '
                      'Migration pre-check error: [%s] The disks of this '
                      'block migration do not fit on host dest: 856.0 MiB '
                      '(897581056 bytes) needed, 856.0 MiB (897581055 bytes) '
                      'available.' % CODE, details)
        # The rest of the text, cut from the event at 255 characters.
        self.assertIn("Needed: the source's disks 600.0 MiB (629145600 "
                      "bytes), headroom 256.0 MiB (268435456 bytes). "
                      "Available: 856.0 MiB (897581055 bytes) free",
                      self.log_text())
        self.assertIn('Fix: Free at least 1 bytes on host dest',
                      self.log_text())
        self.assertEqual([], self.nova_pre_live_migration)
        self.assert_nothing_reserved()

    def test_refused_by_destination_when_base_image_is_missing(self):
        server = self.boot_with_disks('src')
        # The pre-check's part fits; with the base image it does not.
        self.fs['dest'].free_bytes = FULL_NEED - 1
        self.live_migrate(server, host='dest')
        _migration, details = self.assert_refused_by_destination(server)
        self.assertIn('do not fit on host dest: 1.1 GiB (1213202432 bytes) '
                      'needed, 1.1 GiB (1213202431 bytes) available.',
                      details)
        self.assertIn('Needed: disk 600.0 MiB (629145600 bytes), '
                      'disk.config 1.0 MiB (1048576 bytes), backing image '
                      '%s (not in the image cache) 300.0 MiB (314572800 '
                      'bytes), headroom 256.0 MiB (268435456 bytes). '
                      'Available: 1.1 GiB (1213202431 bytes) free for '
                      'unprivileged writes in %s, less reserved_host_disk_mb '
                      '0 bytes, less 0 block migration(s) in flight there 0 '
                      'bytes.' % (BASE, CONF.instances_path), self.log_text())
        self.assertIn('Fix: Free at least 1 bytes on host dest',
                      self.log_text())

    def test_base_image_in_destination_cache_is_not_needed(self):
        server = self.boot_with_disks('src')
        self.fs['dest'].add(os.path.join(
            CONF.instances_path, CONF.image_cache.subdirectory_name, BASE),
            BASE_SIZE)
        self.fs['dest'].free_bytes = FULL_NEED - BASE_SIZE
        migration = self.live_migrate(server, host='dest')
        self.assert_migrated(server, 'src', 'dest', migration)

    def test_enough_room_completes_and_reservation_is_released(self):
        server = self.boot_with_disks('src')
        self.fs['dest'].free_bytes = FULL_NEED
        during_copy = []
        self.copy_hooks.append(lambda domain: during_copy.append(
            {uuid: r.total for uuid, r in
             self.guard('dest').ledger.snapshot().items()}))
        migration = self.live_migrate(server, host='dest',
                                      block_migration=True)
        self.assert_migrated(server, 'src', 'dest', migration)
        self.assertEqual([{server['id']: FULL_NEED}], during_copy)
        self.assertEqual(['dest'], self.nova_pre_live_migration)
        self.assert_nothing_reserved()

    def test_failed_copy_rolls_back_and_releases(self):
        server = self.boot_with_disks('src')
        reserved = []

        def fail(domain):
            reserved.append(list(self.guard('dest').ledger.snapshot()))
            return True
        self.copy_hooks.append(fail)
        migration = self.live_migrate(server, host='dest')
        self.assertEqual('failed', migration['status'])
        self.assertEqual([[server['id']]], reserved)
        self._wait_for_instance_action_event(
            server, 'live-migration',
            'compute_rollback_live_migration_at_destination', 'success')
        server = self._wait_for_state_change(server, 'ACTIVE')
        self.assertEqual('src', server['OS-EXT-SRV-ATTR:host'])
        self.assert_nothing_reserved()

    def test_disk_info_without_sizes_is_refused(self):
        server = self.boot_with_disks('src')
        for disk in self.disks.disks[server['id']]:
            disk['disk_size'] = -1
        self.live_migrate(server, host='dest')
        _migration, details = self.assert_refused_by_destination(
            server, 'xloud.disk.info_invalid')
        self.assertIn('disk_size of %s is -1, not a size in bytes'
                      % self.disks.disks[server['id']][0]['path'], details)

    def test_periodic_task_releases_what_a_silent_migration_left(self):
        """A reservation whose migration ended unseen does not leak."""
        server = self.boot_with_disks('src')
        self.fs['dest'].free_bytes = FULL_NEED
        # As if the source had died after the destination's
        # pre_live_migration: the reservation is there, nobody releases it.
        self.guard('dest').ledger.reserve(
            server['id'], [('/x/disk', FULL_NEED)], 0, lambda *a: None,
            self.fs['dest'].allocated)
        self.assertEqual(FULL_NEED, self.guard('dest').ledger.snapshot()[
            server['id']].total)
        # The server is ACTIVE on its source, not migrating: nova's own
        # periodic resource update (real database) drops the reservation.
        self.computes['dest'].manager.update_available_resource(
            nova_context.get_admin_context())
        self.assert_nothing_reserved()
        self.assertIn('that migration is over but this host was not told',
                      self.log_text())
        migration = self.live_migrate(server, host='dest')
        self.assert_migrated(server, 'src', 'dest', migration)

    def test_preflight_off_lets_nova_copy(self):
        self.flags(block_migration_disk_preflight=False, group='xloud')
        server = self.boot_with_disks('src')
        self.fs['dest'].free_bytes = 0
        migration = self.live_migrate(server, host='dest')
        self.assert_migrated(server, 'src', 'dest', migration)


class MicroversionTest(DiskPreflightTestBase):
    """Before 2.25 nova checks the disk itself; ours runs regardless."""

    def _live_migrate_224(self, server, disk_over_commit):
        self.api.microversion = '2.24'
        try:
            self.api.post_server_action(server['id'], {'os-migrateLive': {
                'host': 'dest', 'block_migration': True,
                'disk_over_commit': disk_over_commit}})
        finally:
            # Instance action event details need 2.84.
            self.api.microversion = 'latest'
        return self.wait_for_migration(server, 'live-migration',
                                       ('completed', 'error', 'failed'))

    def test_2_24_refused_by_destination(self):
        # nova reads disk_available_mb below 2.25, so ours asks nothing in
        # the pre-check; the destination refuses before the copy.
        server = self.boot_with_disks('src')
        self.fs['dest'].free_bytes = FULL_NEED - 1
        self._live_migrate_224(server, disk_over_commit=True)
        self.assert_refused_by_destination(server)

    def test_2_24_fits(self):
        server = self.boot_with_disks('src')
        self.fs['dest'].free_bytes = FULL_NEED
        migration = self._live_migrate_224(server, disk_over_commit=True)
        self.assert_migrated(server, 'src', 'dest', migration)

    def test_2_24_without_over_commit_keeps_novas_check(self):
        """nova's check compares virtual sizes with nova's own figure.

        The harness's hosts report 84 GiB free to nova; the destination's
        filesystem has 1000 GiB. A 90 GiB disk must fail nova's check as it
        does on stock nova, not pass on our figure.
        """
        server = self.boot_with_disks('src', virtual=90 * GiB)
        self.fs['dest'].free_bytes = 1000 * GiB
        err = self.assertRaises(client.OpenStackApiException,
                                self._live_migrate_224, server, False)
        self.assertEqual(400, err.response.status_code)
        self.assertIn('Disk of instance is too large', str(err))
        self.assertEqual([], self.nova_pre_live_migration)


class StockSourceTest(DiskPreflightTestBase):
    """Rolling install: a stock source sends no backing-image sizes."""

    STOCK = ('src',)

    def test_judged_on_the_virtual_size_when_that_fits(self):
        server = self.boot_with_disks('src')
        self.fs['dest'].free_bytes = ROOT + CONFIG + 1 * GiB + HEADROOM
        migration = self.live_migrate(server, host='dest')
        self.assert_migrated(server, 'src', 'dest', migration)
        self.assertNotIn('Cannot tell whether', self.log_text())

    def test_not_refused_for_a_size_the_source_did_not_send(self):
        # The bound (1 GiB) does not fit, the real image (300 MiB) does:
        # the preflight cannot judge, and lets nova copy as stock nova does.
        server = self.boot_with_disks('src')
        self.fs['dest'].free_bytes = FULL_NEED
        migration = self.live_migrate(server, host='dest')
        self.assert_migrated(server, 'src', 'dest', migration)
        self.assertIn('Cannot tell whether the block migration fits on host '
                      'dest', self.log_text())
        self.assert_nothing_reserved()

    def test_what_cannot_fit_at_all_is_refused_before_the_copy(self):
        server = self.boot_with_disks('src')
        self.fs['dest'].free_bytes = ROOT + CONFIG + HEADROOM - 1
        self.live_migrate(server, host='dest')
        self.assert_refused_by_destination(server)


class StockDestinationTest(DiskPreflightTestBase):
    """Rolling install: a stock destination publishes nova's figure only."""

    STOCK = ('dest',)

    def test_migrates_as_stock_nova_does(self):
        # nova's figure there is 84 GiB (the harness's disk_available_least)
        # and means something else: it is no ground for our refusal.
        server = self.boot_with_disks('src', root=90 * GiB,
                                      virtual=100 * GiB)
        migration = self.live_migrate(server, host='dest',
                                      block_migration=True)
        self.assert_migrated(server, 'src', 'dest', migration)


class ConcurrentBlockMigrationsTest(DiskPreflightTestBase):
    """Two sources, one destination."""

    COMPUTES = ('src', 'src2', 'dest')

    def test_two_that_fit_one_at_a_time_exactly_one_is_refused(self):
        # The harness's computes share nova's process-wide live migration
        # executor, sized by this option (1 by default, per host in real
        # life): let the two sources migrate at the same time.
        self.flags(max_concurrent_live_migrations=2)
        servers = [self.boot_with_disks('src'), self.boot_with_disks('src2')]
        self.fs['dest'].free_bytes = FULL_NEED + FULL_NEED // 2
        both_prechecked, refused = threading.Event(), threading.Event()
        prechecks = []
        for source in ('src', 'src2'):
            guard, driver = self.guard(source), self.driver(source)

            def counting_check_source(
                    *args, _check=guard.check_can_live_migrate_source):
                _check(*args)
                prechecks.append(1)
                if len(prechecks) == 2:
                    both_prechecked.set()

            def after_both_prechecks(
                    *args, _info=driver.get_instance_disk_info, **kwargs):
                # Called by the source right before the destination's
                # pre_live_migration: both pre-checks have seen the same
                # free space by now, only the ledger can tell them apart.
                both_prechecked.wait(20)
                return _info(*args, **kwargs)

            guard.check_can_live_migrate_source = counting_check_source
            driver.get_instance_disk_info = after_both_prechecks

        dest, reserve = self.guard('dest'), self.guard('dest')._reserve

        def noting_reserve(*args):
            try:
                return reserve(*args)
            except exception.InsufficientDisk:
                refused.set()
                raise
        dest._reserve = noting_reserve
        # The accepted one holds its reservation until the other settled.
        self.copy_hooks.append(lambda domain: refused.wait(20) and False)

        for server in servers:
            self.api.post_server_action(server['id'], {'os-migrateLive': {
                'host': 'dest', 'block_migration': 'auto'}})
        migrations = [self.wait_for_migration(
            s, 'live-migration', ('completed', 'failed'))
            for s in servers]

        statuses = [m['status'] for m in migrations]
        self.assertEqual(['completed', 'failed'], sorted(statuses),
                         migrations)
        self.assertEqual(2, len(prechecks))
        loser = statuses.index('failed')
        self.assertIn('less 1 block migration(s) in flight there 1.1 GiB '
                      '(%d bytes)' % FULL_NEED, self.log_text())
        self.assertEqual(['dest'], self.nova_pre_live_migration)  # winner's
        self.nova_pre_live_migration = []
        self.assert_refused_by_destination(servers[loser],
                                           source=('src', 'src2')[loser])


class SchedulerSkipsFullHostTest(DiskPreflightTestBase):
    COMPUTES = ('cmp1', 'cmp2', 'cmp3')

    # cmp2 has the most free RAM and CPUs: the scheduler tries it first.
    LARGE_HOSTS = ('cmp2',)

    def test_auto_selected_destination_skips_the_full_host(self):
        server = self.boot_with_disks('cmp1')
        self.fs['cmp2'].free_bytes = PRECHECK_NEED - 1
        asked = []
        for hostname in ('cmp2', 'cmp3'):
            guard = self.guard(hostname)
            guard.check_source_migrate_data_at_dest = (
                lambda *args, g=guard, h=hostname: (
                    asked.append(h),
                    type(g).check_source_migrate_data_at_dest(g, *args))[1])
        migration = self.live_migrate(server)
        self.assert_migrated(server, 'cmp1', 'cmp3', migration)
        self.assertEqual(['cmp2', 'cmp3'], asked)
        self.assertIn(CODE, self.event_details(server))


class ColdMigrationPreflightTest(DiskPreflightTestBase):

    def setUp(self):
        super().setUp()
        # Each fake compute gets its own address, as real hosts have.
        self.driver('dest').get_host_ip_addr = lambda: '192.0.2.30'
        self.probes = []
        self.guard('src').run_remote = self.remote

    def remote(self, host, script):
        """Host ``dest`` answering the probe from its FakeFS."""
        self.probes.append(host)
        fs = self.fs['dest']
        lines = ['%d 1' % fs.free_bytes]
        for quoted in re.findall(r"\[ -e ('[^']*'|\S+) \]", script):
            path = shlex.split(quoted)[0]
            lines.append('1' if fs.exists(path) else '0')
        return '\n'.join(lines) + '\n'

    def cold_migrate(self, server):
        self.api.post_server_action(server['id'], {'migrate': {
            'host': 'dest'}})
        return self.wait_for_migration(server, 'migration',
                                       ('finished', 'error', 'failed'))

    def test_refused_before_power_off(self):
        server = self.boot_with_disks('src')
        self.fs['dest'].free_bytes = FULL_NEED - 1
        migration = self.cold_migrate(server)
        self.assertEqual('error', migration['status'])
        self.assertEqual(['192.0.2.30'], self.probes)
        server = self._wait_for_state_change(server, 'ACTIVE')
        self.assertEqual('src', server['OS-EXT-SRV-ATTR:host'])
        # Still running: never powered off.
        self.assertIn(server['id'], self.domains_on('src'))
        event = self._wait_for_instance_action_event(
            server, 'migrate', 'compute_resize_instance', 'error')
        self.assertIn('[%s] The disks of this cold migration do not fit on '
                      'host 192.0.2.30: 1.1 GiB (1213202432 bytes) needed, '
                      '1.1 GiB (1213202431 bytes) available.' % CODE,
                      event['details'])
        self.assertIn('less migrations in flight there (not visible from '
                      'here)', self.log_text())

    def test_fits_and_migrates(self):
        server = self.boot_with_disks('src')
        self.fs['dest'].free_bytes = FULL_NEED
        migration = self.cold_migrate(server)
        self.assertEqual('finished', migration['status'])
        self.assertEqual(['192.0.2.30'], self.probes)

    def test_unreadable_disk_info_migrates_as_stock(self):
        """As in nova's own test_migration_addr: no disk files to read."""
        server = self.boot_with_disks('src')

        def missing(instance, block_device_info=None):
            raise FileNotFoundError(2, 'No such file or directory')
        self.useFixture(fixtures.MonkeyPatch(disk_fx.ServerDisks.PARENT,
                                             missing))
        migration = self.cold_migrate(server)
        self.assertEqual('finished', migration['status'])
        self._wait_for_state_change(server, 'VERIFY_RESIZE')
        self.assertEqual([], self.probes)
        self.assertIn('Cannot read the disk information of the instance',
                      self.log_text())

    def test_unreachable_destination_is_refused_with_the_fix(self):
        def refuse(host, script):
            raise OSError('ssh: connect to host %s port 22: '
                          'Connection refused' % host)
        self.guard('src').run_remote = refuse
        server = self.boot_with_disks('src')
        migration = self.cold_migrate(server)
        self.assertEqual('error', migration['status'])
        server = self._wait_for_state_change(server, 'ACTIVE')
        self.assertIn(server['id'], self.domains_on('src'))
        event = self._wait_for_instance_action_event(
            server, 'migrate', 'compute_resize_instance', 'error')
        self.assertIn('[xloud.disk.space_unknown] Cannot learn how much disk '
                      'is free on host 192.0.2.30', event['details'])
        # Our probe marker is gone again.
        self.assertEqual([], [n for n in os.listdir(CONF.instances_path)
                              if n.startswith('.xloud')])


class SameHostResizeTest(DiskPreflightTestBase):
    """nova copies every disk but swap with cp within instances_path."""

    COMPUTES = ('src',)

    def setUp(self):
        super().setUp()
        self.flags(allow_resize_to_same_host=True)

    def resize(self, server):
        flavor = self._create_flavor(memory_mb=1024, vcpu=2, disk=20)
        self.api.post_server_action(server['id'], {'resize': {
            'flavorRef': flavor}})
        return self.wait_for_migration(server, 'resize',
                                       ('finished', 'error', 'failed'))

    def test_tight_host_is_refused_before_power_off(self):
        server = self.boot_with_disks('src')
        # The copy (root disk and config drive, the base image is shared)
        # and headroom, less one byte.
        self.fs['src'].free_bytes = ROOT + CONFIG + HEADROOM - 1
        migration = self.resize(server)
        self.assertEqual('error', migration['status'])
        server = self._wait_for_state_change(server, 'ACTIVE')
        self.assertEqual('src', server['OS-EXT-SRV-ATTR:host'])
        self.assertIn(server['id'], self.domains_on('src'))
        event = self._wait_for_instance_action_event(
            server, 'resize', 'compute_resize_instance', 'error')
        self.assertIn('[%s] The disks of this resize on the same host do '
                      'not fit on host src' % CODE, event['details'])

    def test_room_for_the_copy_resizes(self):
        server = self.boot_with_disks('src')
        self.fs['src'].free_bytes = ROOT + CONFIG + HEADROOM
        migration = self.resize(server)
        self.assertEqual('finished', migration['status'])
        self._wait_for_state_change(server, 'VERIFY_RESIZE')
