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

"""XloudLibvirtDriver's wiring: which safeguard step runs in which hook.

The driver is real (on nova's fakelibvirt); nova's own hook (the parent
method) and the three safeguards are recording stand-ins with their real
signatures, reached through the driver's real Failsafe wrappers, so each
test reads as the order of calls a hook makes. The safeguards' behaviour is
tested in their own modules, end to end in the functional tier.
"""

import inspect
from unittest import mock

import fixtures
from nova import exception as nova_exc
from nova import objects
from nova.tests import fixtures as nova_fixtures
from nova.tests.fixtures import libvirt as fakelibvirt
from nova.virt import fake
from nova.virt.libvirt import driver as libvirt_driver
from oslo_config import fixture as config_fixture

import nova.conf

from xloud_harness import testing

from xloud_nova_ext import connection
from xloud_nova_ext.cpu import guard as cpu_guard
from xloud_nova_ext.disk import guard as disk_guard
from xloud_nova_ext import exception
from xloud_nova_ext.virt.libvirt import driver as xloud_driver
from xloud_nova_ext.virt.libvirt import failsafe
from xloud_nova_ext.virt.libvirt import migration_stats
from xloud_nova_ext.vtpm import transfer as vtpm_transfer

CONF = nova.conf.CONF
REFUSAL = exception.VTPMSecretMissing(secret_uuid='s1')


class DriverWiringTest(testing.TestCase):

    def setUp(self):
        super().setUp()
        self.useFixture(config_fixture.Config(CONF))
        self.useFixture(nova_fixtures.LibvirtFixture())
        self.driver = xloud_driver.XloudLibvirtDriver(fake.FakeVirtAPI(),
                                                      False)
        self.calls = mock.Mock()
        for name, cls in (('vtpm', vtpm_transfer.VTPMGuard),
                          ('disk', disk_guard.DiskGuard),
                          ('cpu', cpu_guard.CPUGuard),
                          ('connection', connection.ConnectionGuard),
                          ('stats', migration_stats.MigrationStats)):
            guard = mock.create_autospec(cls, instance=True)
            self.calls.attach_mock(guard, name)
            wired = getattr(self.driver, '_' + name)
            # The driver's own Failsafe (its policy), around the stand-in.
            object.__setattr__(wired, '_fs_guard', guard)
        self.instance = objects.Instance(uuid='6a1c4a3e-0d0e-4a55-8d39-'
                                              '7e7f0c4b2f10')

    def nova(self, hook, **kwargs):
        """nova's own ``hook`` (what super() calls), among the calls."""
        parent = self.useFixture(fixtures.MockPatchObject(
            libvirt_driver.LibvirtDriver, hook, **kwargs)).mock
        self.calls.attach_mock(parent, 'nova_' + hook)
        return parent

    def order(self):
        """The steps called, in order (not what they returned did)."""
        return [c[0] for c in self.calls.mock_calls if c[0].count('.') < 2]

    # Live migration, destination.

    def test_destination_check_cpu_first_then_nova_then_vtpm(self):
        self.nova('check_can_live_migrate_destination',
                  return_value='nova data')
        self.calls.vtpm.check_can_live_migrate_destination.side_effect = (
            lambda instance, data: data)
        self.calls.disk.check_can_live_migrate_destination.side_effect = (
            lambda instance, data: (data, 512))
        self.calls.connection.check_can_live_migrate_destination\
            .side_effect = lambda migrate_data: migrate_data + ('addr',)

        result = self.driver.check_can_live_migrate_destination(
            'ctx', self.instance, 'src info', 'dst info')

        self.assertEqual(('nova data', 512, 'addr'), result)
        self.assertEqual(
            ['cpu.check_can_live_migrate_destination',
             'nova_check_can_live_migrate_destination',
             'vtpm.check_can_live_migrate_destination',
             'disk.check_can_live_migrate_destination',
             'connection.check_can_live_migrate_destination'],
            self.order())

    def test_connection_destination_bug_hands_the_data_on(self):
        self.nova('check_can_live_migrate_destination',
                  return_value='nova data')
        self.calls.vtpm.check_can_live_migrate_destination.side_effect = (
            lambda instance, data: data)
        self.calls.disk.check_can_live_migrate_destination.side_effect = (
            lambda data: data)
        self.calls.connection.check_can_live_migrate_destination\
            .side_effect = KeyError('x')

        self.assertEqual('nova data',
                         self.driver.check_can_live_migrate_destination(
                             'ctx', self.instance, 'src', 'dst'))

    def test_destination_refusal_is_novas_precheck_error(self):
        parent = self.nova('check_can_live_migrate_destination')
        self.calls.cpu.check_can_live_migrate_destination.side_effect = (
            REFUSAL)

        err = self.assertRaises(
            nova_exc.MigrationPreCheckError,
            self.driver.check_can_live_migrate_destination,
            'ctx', self.instance, 'src info', 'dst info')

        self.assertIn('[xloud.vtpm.secret_missing]', str(err))
        parent.assert_not_called()

    def test_vtpm_destination_bug_refuses(self):
        self.nova('check_can_live_migrate_destination')
        self.calls.vtpm.check_can_live_migrate_destination.side_effect = (
            KeyError('x'))

        err = self.assertRaises(
            nova_exc.MigrationPreCheckError,
            self.driver.check_can_live_migrate_destination,
            'ctx', self.instance, 'src info', 'dst info')

        self.assertIn('[xloud.safeguard.failed]', str(err))
        self.calls.disk.check_can_live_migrate_destination.assert_not_called()

    def test_cpu_bug_lets_novas_check_run(self):
        parent = self.nova('check_can_live_migrate_destination',
                           return_value='nova data')
        self.calls.cpu.check_can_live_migrate_destination.side_effect = (
            KeyError('x'))
        self.calls.disk.check_can_live_migrate_destination.side_effect = (
            lambda instance, data: data)
        self.calls.vtpm.check_can_live_migrate_destination.side_effect = (
            lambda instance, data: data)
        self.calls.connection.check_can_live_migrate_destination\
            .side_effect = lambda migrate_data: migrate_data

        self.assertEqual('nova data',
                         self.driver.check_can_live_migrate_destination(
                             'ctx', self.instance, 'src', 'dst'))
        parent.assert_called_once()

    def test_pre_live_migration_nova_inside_vtpm_and_reservation(self):
        self.nova('pre_live_migration', return_value='nova data')

        result = self.driver.pre_live_migration(
            'ctx', self.instance, 'bdi', 'net', 'disk info', 'migrate data')

        self.assertEqual('nova data', result)
        self.calls.disk.pre_live_migration.assert_called_once_with(
            self.instance, 'migrate data', 'disk info')
        self.assertEqual(['vtpm.pre_live_migration', 'disk.pre_live_migration',
                          'nova_pre_live_migration'], self.order())

    def test_pre_live_migration_vtpm_bug_refuses_before_nova(self):
        parent = self.nova('pre_live_migration')
        self.calls.vtpm.pre_live_migration.side_effect = KeyError('x')
        self.assertRaises(nova_exc.MigrationPreCheckError,
                          self.driver.pre_live_migration, 'ctx',
                          self.instance, 'bdi', 'net', 'disk', 'data')
        parent.assert_not_called()

    def test_post_at_destination_nova_then_release_then_vtpm(self):
        # The guest runs here: the reservation goes, and the vTPM step
        # undefines what nova would not keep.
        self.nova('post_live_migration_at_destination')
        self.driver.post_live_migration_at_destination('ctx', self.instance,
                                                       'net')
        self.calls.vtpm.post_live_migration_at_destination\
            .assert_called_once_with(self.instance)
        self.assertEqual(['nova_post_live_migration_at_destination',
                          'disk.post_live_migration_at_destination',
                          'vtpm.post_live_migration_at_destination'],
                         self.order())

    def test_post_at_destination_releases_even_when_nova_fails(self):
        self.nova('post_live_migration_at_destination',
                  side_effect=nova_exc.NovaException())
        self.assertRaises(nova_exc.NovaException,
                          self.driver.post_live_migration_at_destination,
                          'ctx', self.instance, 'net')
        self.calls.disk.post_live_migration_at_destination\
            .assert_called_once_with(self.instance)

    def test_rollback_at_destination_cleans_up_even_when_nova_fails(self):
        self.nova('rollback_live_migration_at_destination',
                  side_effect=nova_exc.NovaException())
        self.assertRaises(nova_exc.NovaException,
                          self.driver.rollback_live_migration_at_destination,
                          'ctx', self.instance, 'net', 'bdi')
        self.calls.disk.rollback_live_migration_at_destination\
            .assert_called_once_with(self.instance)
        self.calls.vtpm.rollback_live_migration_at_destination\
            .assert_called_once_with(self.instance)

    def test_last_destination_check_nova_inside_the_vtpm_read(self):
        # The vTPM step reads the secret before nova's last checks, and
        # forgets the value if they fail (it wraps them).
        self.nova('check_source_migrate_data_at_dest',
                  return_value='nova data')

        result = self.driver.check_source_migrate_data_at_dest(
            'ctx', self.instance, 'data', 'migration', 'limits', 'allocs')

        self.assertEqual('nova data', result)
        self.calls.vtpm.check_source_migrate_data_at_dest\
            .assert_called_once_with('ctx', self.instance, 'data')
        self.assertEqual(['disk.check_source_migrate_data_at_dest',
                          'vtpm.check_source_migrate_data_at_dest',
                          'nova_check_source_migrate_data_at_dest'],
                         self.order())

    def test_last_destination_check_vtpm_bug_refuses_before_nova(self):
        parent = self.nova('check_source_migrate_data_at_dest')
        self.calls.vtpm.check_source_migrate_data_at_dest.side_effect = (
            KeyError('x'))

        err = self.assertRaises(
            nova_exc.MigrationPreCheckError,
            self.driver.check_source_migrate_data_at_dest,
            'ctx', self.instance, 'data', 'migration', 'limits', 'allocs')

        self.assertIn('[xloud.safeguard.failed]', str(err))
        parent.assert_not_called()

    def test_last_destination_check_disk_before_the_vtpm_read(self):
        # A disk refusal comes before the vTPM step reads the key manager.
        self.nova('check_source_migrate_data_at_dest',
                  return_value='nova data')
        self.calls.disk.check_source_migrate_data_at_dest.side_effect = (
            REFUSAL)
        self.assertRaises(nova_exc.MigrationPreCheckError,
                          self.driver.check_source_migrate_data_at_dest,
                          'ctx', self.instance, 'data', 'migration',
                          'limits', 'allocs')
        self.assertEqual(['disk.check_source_migrate_data_at_dest'],
                         self.order())

    # Live migration, source.

    def nova_copy_fails(self, rolls_back=True, rollback_error=None):
        """nova's live_migration as nova 34 ends when libvirt fails the copy.

        Its watcher runs the rollback (``recover_method``), then the
        worker's libvirt error is raised (the real cloud's fault cases
        show it: destination libvirtd killed, network cut, disk full).
        """
        recover = mock.Mock(side_effect=rollback_error)

        def nova_34(context, instance, dest, post_method, recover_method,
                    block_migration, migrate_data):
            if rolls_back:
                recover_method(context, instance, dest, migrate_data)
            raise fakelibvirt.make_libvirtError(
                fakelibvirt.libvirtError,
                'internal error: client socket is closed',
                error_code=fakelibvirt.VIR_ERR_INTERNAL_ERROR)
        self.nova('live_migration', side_effect=nova_34)
        return recover

    def test_copy_failure_that_nova_rolled_back_is_no_error(self):
        recover = self.nova_copy_fails()

        # Returns: the manager keeps the instance ACTIVE (not ERROR).
        self.assertIsNone(self.driver.live_migration(
            'ctx', self.instance, 'dest', 'post', recover, True, 'data'))
        recover.assert_called_once_with('ctx', self.instance, 'dest', 'data')

    def test_copy_failure_without_rollback_reaches_nova(self):
        recover = self.nova_copy_fails(rolls_back=False)

        self.assertRaises(fakelibvirt.libvirtError, self.driver.live_migration,
                          'ctx', self.instance, 'dest', 'post', recover,
                          True, 'data')
        recover.assert_not_called()

    def test_rollback_that_failed_reaches_nova(self):
        recover = self.nova_copy_fails(rollback_error=KeyError('rollback'))

        self.assertRaises(KeyError, self.driver.live_migration,
                          'ctx', self.instance, 'dest', 'post', recover,
                          True, 'data')

    def test_live_migration_statistics_watch_from_the_start(self):
        self.nova('live_migration')
        self.driver.live_migration('ctx', self.instance, 'dest', 'post',
                                   'recover', True, 'data')
        self.calls.stats.live_migration.assert_called_once_with(
            self.instance)
        self.assertEqual(['stats.live_migration', 'nova_live_migration'],
                         self.order())

    def test_post_live_migration_nova_then_the_statistics(self):
        self.nova('post_live_migration')
        self.driver.post_live_migration('ctx', self.instance, 'bdi', 'data')
        self.calls.stats.post_live_migration.assert_called_once_with(
            self.instance, 'data')
        self.assertEqual(['nova_post_live_migration',
                          'stats.post_live_migration'], self.order())

    def test_post_live_migration_statistics_even_when_nova_fails(self):
        self.nova('post_live_migration',
                  side_effect=nova_exc.NovaException())
        self.assertRaises(nova_exc.NovaException,
                          self.driver.post_live_migration, 'ctx',
                          self.instance, 'bdi', 'data')
        self.calls.stats.post_live_migration.assert_called_once_with(
            self.instance, 'data')

    def test_rollback_at_source_statistics_forget_then_nova(self):
        self.nova('rollback_live_migration_at_source')
        self.driver.rollback_live_migration_at_source('ctx', self.instance,
                                                      'data')
        self.calls.stats.rollback_live_migration_at_source\
            .assert_called_once_with(self.instance)
        self.assertEqual(['stats.rollback_live_migration_at_source',
                          'nova_rollback_live_migration_at_source'],
                         self.order())

    def test_source_check_connection_nova_and_disk_inside_vtpm(self):
        self.nova('check_can_live_migrate_source', return_value='nova data')

        result = self.driver.check_can_live_migrate_source(
            'ctx', self.instance, 'dest data', 'bdi')

        self.assertEqual('nova data', result)
        self.assertEqual(['vtpm.check_can_live_migrate_source',
                          'connection.check_can_live_migrate_source',
                          'nova_check_can_live_migrate_source',
                          'disk.check_can_live_migrate_source'],
                         self.order())
        self.calls.connection.check_can_live_migrate_source\
            .assert_called_once_with(self.instance, 'dest data')
        self.calls.disk.check_can_live_migrate_source.assert_called_once_with(
            self.instance, 'nova data', 'bdi')

    def test_source_connection_refusal_before_nova(self):
        parent = self.nova('check_can_live_migrate_source')
        self.calls.connection.check_can_live_migrate_source.side_effect = (
            exception.MigrationAddressUnreachable(
                address='10.0.0.2', port=16509, detail='connection refused'))

        err = self.assertRaises(
            nova_exc.MigrationPreCheckError,
            self.driver.check_can_live_migrate_source,
            'ctx', self.instance, 'dest data', 'bdi')

        self.assertIn('[xloud.connection.unreachable]', str(err))
        parent.assert_not_called()

    def test_source_connection_bug_lets_nova_check(self):
        parent = self.nova('check_can_live_migrate_source',
                           return_value='nova data')
        self.calls.connection.check_can_live_migrate_source.side_effect = (
            KeyError('x'))

        self.assertEqual('nova data',
                         self.driver.check_can_live_migrate_source(
                             'ctx', self.instance, 'dest data', 'bdi'))
        parent.assert_called_once()

    def test_connection_guard_builds_novas_uri(self):
        # The URI checked is the one nova migrates over: nova's own builder.
        CONF.set_override('live_migration_scheme', 'tls', group='libvirt')
        driver = xloud_driver.XloudLibvirtDriver(fake.FakeVirtAPI(), False)
        self.assertEqual('qemu+tls://h1/system',
                         driver._connection.__wrapped__._uri_for('h1'))

    def test_disk_info_is_annotated(self):
        self.nova('get_instance_disk_info', return_value='[]')
        self.calls.disk.get_instance_disk_info.return_value = '[{}]'
        self.assertEqual('[{}]', self.driver.get_instance_disk_info(
            self.instance))

    def test_disk_info_passes_unannotated_when_annotation_fails(self):
        self.nova('get_instance_disk_info', return_value='[]')
        self.calls.disk.get_instance_disk_info.side_effect = OSError('gone')
        self.assertEqual('[]', self.driver.get_instance_disk_info(
            self.instance))

    # Cold migration and resize.

    def test_cold_checks_run_before_nova_stops_the_guest(self):
        self.nova('migrate_disk_and_power_off', return_value='{}')

        self.assertEqual('{}', self.driver.migrate_disk_and_power_off(
            'ctx', self.instance, 'dest', 'flavor', 'net'))

        self.assertEqual(['vtpm.migrate_disk_and_power_off',
                          'disk.migrate_disk_and_power_off',
                          'nova_migrate_disk_and_power_off'], self.order())

    def test_cold_refusal_rolls_back_and_nova_never_runs(self):
        parent = self.nova('migrate_disk_and_power_off')
        self.calls.disk.migrate_disk_and_power_off.side_effect = REFUSAL

        err = self.assertRaises(
            nova_exc.InstanceFaultRollback,
            self.driver.migrate_disk_and_power_off,
            'ctx', self.instance, 'dest', 'flavor', 'net')

        self.assertIsInstance(err.inner_exception,
                              nova_exc.MigrationPreCheckError)
        parent.assert_not_called()

    def test_cold_vtpm_bug_rolls_back(self):
        parent = self.nova('migrate_disk_and_power_off')
        self.calls.vtpm.migrate_disk_and_power_off.side_effect = KeyError()

        err = self.assertRaises(
            nova_exc.InstanceFaultRollback,
            self.driver.migrate_disk_and_power_off,
            'ctx', self.instance, 'dest', 'flavor', 'net')

        self.assertIn('[xloud.safeguard.failed]', str(err.inner_exception))
        parent.assert_not_called()

    def test_cold_disk_bug_lets_nova_move_the_server(self):
        parent = self.nova('migrate_disk_and_power_off', return_value='{}')
        self.calls.disk.migrate_disk_and_power_off.side_effect = (
            FileNotFoundError())
        self.assertEqual('{}', self.driver.migrate_disk_and_power_off(
            'ctx', self.instance, 'dest', 'flavor', 'net'))
        parent.assert_called_once()

    def test_finish_migration_defines_before_and_records_after(self):
        self.nova('finish_migration')
        self.driver.finish_migration('ctx', 'migration', self.instance,
                                     'disk', 'net', 'meta', True)
        self.assertEqual(['vtpm.guest_starting', 'nova_finish_migration',
                          'vtpm.guest_started', 'cpu.guest_started'],
                         self.order())

    def test_finish_revert_defines_before_and_records_after(self):
        self.nova('finish_revert_migration')
        self.driver.finish_revert_migration('ctx', self.instance, 'net',
                                            'migration')
        self.assertEqual(['vtpm.guest_starting',
                          'nova_finish_revert_migration',
                          'vtpm.guest_started', 'cpu.guest_started'],
                         self.order())

    def test_confirm_then_the_source_forgets_the_secret(self):
        self.nova('confirm_migration')
        self.driver.confirm_migration('ctx', 'migration', self.instance,
                                      'net')
        self.assertEqual(['nova_confirm_migration',
                          'vtpm.confirm_migration'], self.order())

    # Starting, stopping, the host.

    def test_spawn_then_guest_started(self):
        self.nova('spawn')
        self.driver.spawn('ctx', self.instance, 'image', [], 'pw', {})
        self.assertEqual(['nova_spawn', 'vtpm.guest_started',
                          'cpu.guest_started'], self.order())

    def test_spawn_survives_failing_safeguards(self):
        self.nova('spawn')
        self.calls.cpu.guest_started.side_effect = RuntimeError()
        self.calls.vtpm.guest_started.side_effect = RuntimeError()
        self.driver.spawn('ctx', self.instance, 'image', [], 'pw', {})

    def test_power_on_then_guest_started(self):
        self.nova('power_on')
        self.driver.power_on('ctx', self.instance, 'net')
        self.assertEqual(['nova_power_on', 'vtpm.guest_started',
                          'cpu.guest_started'], self.order())

    def test_soft_reboot_records_the_cpu_only(self):
        self.nova('reboot')
        self.driver.reboot('ctx', self.instance, 'net', 'SOFT')
        self.assertEqual(['nova_reboot', 'cpu.guest_started'], self.order())

    def test_hard_reboot_tells_both(self):
        self.nova('reboot')
        self.driver.reboot('ctx', self.instance, 'net', 'HARD')
        self.assertEqual(['nova_reboot', 'vtpm.guest_started',
                          'cpu.guest_started'], self.order())

    def test_host_boot_records_and_saves(self):
        self.nova('resume_state_on_host_boot')
        self.driver.resume_state_on_host_boot('ctx', self.instance, 'net')
        self.calls.cpu.guest_started.assert_called_once_with(
            self.instance, save=True)

    def test_destroy_then_the_secret_goes(self):
        self.nova('destroy')
        self.driver.destroy('ctx', self.instance, 'net')
        self.assertEqual(['nova_destroy', 'vtpm.destroy'], self.order())

    def test_periodic_prunes_then_publishes_the_host_model(self):
        self.nova('get_available_resource', return_value={'r': 1})
        self.assertEqual({'r': 1},
                         self.driver.get_available_resource('node'))
        self.assertEqual(['disk.update_available_resource',
                          'vtpm.update_available_resource',
                          'nova_get_available_resource',
                          'cpu.update_available_resource'], self.order())

    def test_init_host(self):
        self.nova('init_host')
        self.driver.init_host('cmp1')
        self.assertEqual(['nova_init_host', 'vtpm.init_host',
                          'cpu.init_host'], self.order())


class VTPMPolicyTest(testing.TestCase):
    """The refusing vTPM steps are real ones, and every step is decided."""

    #: The vTPM steps whose failure lets nova proceed (see the driver).
    PROCEEDS = {'init_host', 'post_live_migration_at_destination',
                'rollback_live_migration_at_destination', 'guest_starting',
                'guest_started', 'confirm_migration', 'destroy',
                'update_available_resource'}

    def test_every_public_vtpm_step_is_decided(self):
        steps = {name for name, _ in inspect.getmembers(
            vtpm_transfer.VTPMGuard, callable) if not name.startswith('_')}
        refuses = set(xloud_driver.VTPM_REFUSES)
        self.assertEqual(set(), refuses - steps,
                         'VTPM_REFUSES names steps VTPMGuard lacks')
        self.assertEqual(set(), steps - refuses - self.PROCEEDS,
                         'a new vTPM step: decide whether its failure '
                         'refuses (driver.VTPM_REFUSES) or proceeds')

    def test_passthrough_names_real_arguments(self):
        for step, params in failsafe.PASSTHROUGH.items():
            found = [param for cls in (disk_guard.DiskGuard,
                                       vtpm_transfer.VTPMGuard,
                                       connection.ConnectionGuard)
                     if hasattr(cls, step) for param in params
                     if param in inspect.signature(
                         getattr(cls, step)).parameters]
            self.assertTrue(found, step)
