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

"""A safeguard's own failure is never the user's failure.

A bug is injected into one safeguard step at a time (the step raises an
exception no safeguard raises on purpose); nova's real services then either
move the server as stock nova would, with a WARNING in the compute's log,
or refuse the migration cleanly before anything moves: server ACTIVE on its
source, migration ``error``, the cause in the action event, a cold migration
rolled back instead of ERROR. Which one, per step, is the operator's guide
table (admin/failures.rst) and ``driver.VTPM_REFUSES``.
"""

import contextlib
import functools
import inspect

import fixtures
from oslo_utils import importutils

from xloud_nova_ext.tests.functional import base

CODE = '[xloud.safeguard.failed]'


class InjectedBug(Exception):
    """What no safeguard raises on purpose."""


class FailsafeTestBase(base.XloudMigrationTestBase):

    def break_step(self, path):
        """Make the safeguard method at ``path`` raise InjectedBug.

        Same signature and kind (static, context manager) as the real one;
        a context manager fails on entry, where its work is.
        """
        path = 'xloud_nova_ext.' + path
        cls_path, name = path.rsplit('.', 1)
        original = inspect.getattr_static(importutils.import_class(cls_path),
                                          name)
        func = getattr(original, '__func__', original)

        def fail(*args, **kwargs):
            raise InjectedBug('injected into %s' % path)

        broken = functools.wraps(func)(fail)
        wrapped = getattr(func, '__wrapped__', None)
        if wrapped is not None and inspect.isgeneratorfunction(wrapped):
            def generator(*args, **kwargs):
                fail()
                yield
            broken = functools.wraps(func)(contextlib.contextmanager(
                generator))
        if isinstance(original, staticmethod):
            broken = staticmethod(broken)
        self.useFixture(fixtures.MonkeyPatch(path, broken))

    def assert_warned(self, safeguard, step):
        logs = self.stdlog.logger.output
        self.assertIn('The %s safeguard failed in %s; nova proceeds as it '
                      'would without it.' % (safeguard, step), logs)
        self.assertIn('InjectedBug', logs)

    def cold_migrate(self, server):
        self.api.post_server_action(server['id'], {'migrate': {
            'host': 'dest'}})
        return self.wait_for_migration(server, 'migration',
                                       ('finished', 'error', 'failed'))


class ProceedsAsStockTest(FailsafeTestBase):
    """CPU and disk steps, and every step after the fact: nova proceeds."""

    def test_cpu_check_failure_lets_live_migration_proceed(self):
        server = self.boot('src')
        self.break_step(
            'cpu.guard.CPUGuard.check_can_live_migrate_destination')

        migration = self.live_migrate(server, host='dest')

        self.assert_migrated(server, 'src', 'dest', migration)
        self.assert_warned('CPU', 'check_can_live_migrate_destination')

    def test_cpu_record_failure_does_not_fail_the_boot(self):
        self.break_step('cpu.guard.CPUGuard.guest_started')

        server = self.boot('src')

        self.assertEqual('ACTIVE', server['status'])
        self.assert_warned('CPU', 'guest_started')

    def test_disk_steps_failing_let_block_migration_proceed(self):
        self.use_local_storage()
        server = self.boot('src')
        for step in ('check_can_live_migrate_source',
                     'check_source_migrate_data_at_dest',
                     'pre_live_migration', 'get_instance_disk_info'):
            self.break_step('disk.guard.DiskGuard.' + step)

        migration = self.live_migrate(server, host='dest',
                                      block_migration=True)

        self.assert_migrated(server, 'src', 'dest', migration)
        for step in ('check_can_live_migrate_source',
                     'check_source_migrate_data_at_dest',
                     'pre_live_migration', 'get_instance_disk_info'):
            self.assert_warned('disk', step)

    def test_disk_publish_failure_keeps_novas_figure(self):
        self.use_local_storage()
        server = self.boot('src')
        self.break_step(
            'disk.guard.DiskGuard.check_can_live_migrate_destination')

        migration = self.live_migrate(server, host='dest',
                                      block_migration=True)

        self.assert_migrated(server, 'src', 'dest', migration)
        self.assert_warned('disk', 'check_can_live_migrate_destination')

    def test_cold_preflight_failure_lets_cold_migration_proceed(self):
        # nova's test_migration_addr: the disk info cannot be read there.
        server = self.boot('src')
        self.break_step('disk.guard.DiskGuard.migrate_disk_and_power_off')

        migration = self.cold_migrate(server)

        self.assertEqual('finished', migration['status'])
        server = self._confirm_resize(server)
        self.assertEqual('dest', server['OS-EXT-SRV-ATTR:host'])
        self.assert_warned('disk', 'migrate_disk_and_power_off')

    def test_vtpm_steps_after_the_move_let_it_complete(self):
        server = self.boot('src')
        self.break_step(
            'vtpm.transfer.VTPMGuard.post_live_migration_at_destination')

        migration = self.live_migrate(server, host='dest')

        self.assert_migrated(server, 'src', 'dest', migration)
        self.assert_warned('vTPM', 'post_live_migration_at_destination')


class RefusesCleanlyTest(FailsafeTestBase):
    """vTPM steps whose failure could send or lose the secret: refuse."""

    def assert_safeguard_refused(self, server, migration, status='error'):
        events = self.assert_refused(server, 'src', migration, CODE, status)
        self.assertNotIn(server['id'], self.domains_on('dest'))
        details = ' '.join(e.get('details') or '' for e in events)
        self.assertIn('(InjectedBug in ', details)
        # Only the type: a message could quote what the safeguard handles.
        self.assertNotIn('injected into', details)
        self.assertIn('nova-compute log', details)
        return events

    def test_destination_check_failure_refuses_before_anything(self):
        server = self.boot('src')
        self.break_step(
            'vtpm.transfer.VTPMGuard.check_can_live_migrate_destination')

        migration = self.live_migrate(server, host='dest')

        events = self.assert_safeguard_refused(server, migration)
        self.assertNotIn('compute_pre_live_migration',
                         [e['event'] for e in events])

    def test_source_check_failure_refuses_before_anything(self):
        server = self.boot('src')
        self.break_step(
            'vtpm.transfer.VTPMGuard.check_can_live_migrate_source')

        migration = self.live_migrate(server, host='dest')

        events = self.assert_safeguard_refused(server, migration)
        self.assertNotIn('compute_pre_live_migration',
                         [e['event'] for e in events])

    def test_pre_live_migration_failure_rolls_back(self):
        server = self.boot('src')
        self.break_step('vtpm.transfer.VTPMGuard.pre_live_migration')

        self.live_migrate(server, host='dest')
        # nova marks the record ``error``, rolls back, then ``failed``: wait
        # for the end of the rollback, not its first step.
        migration = self.wait_for_migration(server, 'live-migration',
                                            ('failed',))

        self.assert_safeguard_refused(server, migration, status='failed')
        self.assertFalse(getattr(self, 'migrate_stub_ran', False))

    def test_cold_check_failure_rolls_back_instead_of_error(self):
        server = self.boot('src')
        self.break_step(
            'vtpm.transfer.VTPMGuard.migrate_disk_and_power_off')

        migration = self.cold_migrate(server)

        self.assertEqual('error', migration['status'])
        server = self._wait_for_state_change(server, 'ACTIVE')
        self.assertEqual('src', server['OS-EXT-SRV-ATTR:host'])
        self.assertIn(server['id'], self.domains_on('src'))
        event = self._wait_for_instance_action_event(
            server, 'migrate', 'compute_resize_instance', 'Error')
        self.assertIn(CODE, event['details'])
