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

"""The scenario base's host choices and its host-changing context."""

import itertools
from unittest import mock

import testtools

from tempest.lib import decorators

from xloud_tempest_plugin.api.compute import test_live_migration as live
from xloud_tempest_plugin.tests.unit import base


class FakeServicesClient(object):
    """nova-compute services; update_service changes their status."""

    def __init__(self, *hosts):
        self.services = [
            {'id': 'svc-%s' % h, 'host': h, 'state': 'up',
             'status': 'enabled', 'binary': 'nova-compute'} for h in hosts]
        self.updates = []

    def list_services(self, binary=None, host=None):
        return {'services': [s for s in self.services
                             if host in (None, s['host'])]}

    def update_service(self, service_id, **kwargs):
        self.updates.append((service_id, kwargs))
        for s in self.services:
            if s['id'] == service_id:
                s.update(kwargs)


class TestHostChoices(base.TestCase):

    def setUp(self):
        super().setUp()
        self.test = live.LiveMigrationTest(
            'test_live_migration_to_requested_host')
        self.test.admin_services_client = FakeServicesClient(
            'cmp1', 'cmp2', 'cmp3-ironic')

    @decorators.idempotent_id('7181f54e-875e-42b8-a452-60c9a65f2589')
    def test_scheduler_places_the_server_by_default(self):
        self.assertIsNone(self.test.source_host())

    @decorators.idempotent_id('b11b8847-3a02-443f-a4ef-87ad32c828cd')
    def test_configured_source_host(self):
        self.flags('compute', migration_source_host='cmp2')
        self.assertEqual('cmp2', self.test.source_host())

    @decorators.idempotent_id('8049280a-eb94-4b38-81fd-8db66b3f6132')
    def test_source_avoids_the_destination(self):
        self.flags('compute', migration_dest_host='cmp1')
        self.assertEqual('cmp2', self.test.source_host())

    @decorators.idempotent_id('f2a8f854-ed95-493c-bdaa-ad72ee5cac1d')
    def test_source_skips_down_disabled_and_avoided_hosts(self):
        services = self.test.admin_services_client.services
        services[1]['state'] = 'down'
        self.assertRaises(testtools.TestCase.failureException,
                          self.test.source_host, avoid='cmp1')
        services[1]['state'] = 'up'
        services[1]['status'] = 'disabled'
        self.assertRaises(testtools.TestCase.failureException,
                          self.test.source_host, avoid='cmp1')

    @decorators.idempotent_id('9cb5498a-f03f-47de-99a9-112d06eca947')
    def test_configured_destination(self):
        self.flags('compute', migration_dest_host='cmp2')
        self.assertEqual('cmp2', self.test.requested_destination('srv'))

    @decorators.idempotent_id('5d0f3e2a-8c41-4b7e-9a6f-2e1c7b9d4a30')
    def test_block_scenario_has_its_own_destination(self):
        self.flags('compute', migration_dest_host='cmp2')
        self.flags('xloud_migration', block_migration_dest_host='cmp3')
        block = live.BlockLiveMigrationTest(
            'test_live_migration_to_requested_host')
        self.assertEqual('cmp3', block.requested_destination('srv'))
        # The shared-storage scenario keeps tempest's destination.
        self.assertEqual('cmp2', self.test.requested_destination('srv'))

    @decorators.idempotent_id('3b235ffd-0610-46f3-bb22-d43065c1afe5')
    def test_no_destination_to_request_skips(self):
        self.flags('compute-feature-enabled',
                   can_migrate_between_any_hosts=False)
        e = self.assertRaises(testtools.TestCase.skipException,
                              self.test.requested_destination, 'srv')
        self.assertIn('migration_dest_host', str(e))

    @decorators.idempotent_id('efd5510c-18f1-429b-9640-ff6e981c00f0')
    def test_any_other_host_as_destination(self):
        with mock.patch.object(self.test, 'get_host_other_than',
                               return_value='cmp2') as other:
            self.assertEqual('cmp2', self.test.requested_destination('srv'))
        other.assert_called_once_with('srv')

    @decorators.idempotent_id('7de5ae46-4b35-4719-8fe4-c8c9960b05d9')
    def test_no_other_host_fails(self):
        with mock.patch.object(self.test, 'get_host_other_than',
                               return_value=None):
            self.assertRaises(testtools.TestCase.failureException,
                              self.test.requested_destination, 'srv')


class TestComputeServiceDisabled(base.TestCase):

    def setUp(self):
        super().setUp()
        self.test = live.LiveMigrationTest(
            'test_live_migration_to_requested_host')
        self.services = FakeServicesClient('cmp1', 'cmp2')
        self.test.admin_services_client = self.services

    def status(self, host):
        return self.test.compute_service(host)['status']

    @decorators.idempotent_id('a0aad661-d294-49db-a3f2-e709bc728bba')
    def test_disabled_until_the_test_cleans_up(self):
        self.test.disable_compute_service('cmp1')
        self.assertEqual('disabled', self.status('cmp1'))
        self.assertIn('draining',
                      self.services.updates[0][1]['disabled_reason'])
        self.assertEqual('enabled', self.status('cmp2'))
        self.test.doCleanups()
        self.assertEqual('enabled', self.status('cmp1'))

    @decorators.idempotent_id('6b2c5422-55c2-4f09-b648-89c491986fb3')
    def test_enabled_again_when_the_drain_fails(self):
        # A test that fails (or times out) still runs its cleanups.
        class Drain(live.LiveMigrationTest):
            def test_live_migration_to_requested_host(inner):
                inner.disable_compute_service('cmp1')
                raise RuntimeError('migration failed')

        test = Drain('test_live_migration_to_requested_host')
        test.admin_services_client = self.services
        result = testtools.TestResult()
        with mock.patch.object(live.LiveMigrationTest, 'setUpClass'), \
                mock.patch.object(live.LiveMigrationTest, 'tearDownClass'), \
                mock.patch.object(live.LiveMigrationTest, 'setUp',
                                  testtools.TestCase.setUp):
            test.run(result)
        self.assertEqual(1, len(result.errors))
        self.assertIn('migration failed', result.errors[0][1])
        self.assertEqual('enabled', self.status('cmp1'))

    @decorators.idempotent_id('ffc23d59-f15f-44c0-924d-1d5069ed3259')
    def test_enabled_early_then_cleanup_changes_nothing(self):
        self.test.disable_compute_service('cmp1')
        self.test.enable_compute_service('cmp1')
        self.test.doCleanups()
        self.assertEqual(['disabled', 'enabled'],
                         [u[1]['status'] for u in self.services.updates])

    @decorators.idempotent_id('56ecde69-eea2-463c-b646-6a4b54d34cfb')
    def test_host_disabled_by_someone_else_is_left_alone(self):
        self.services.services[0]['status'] = 'disabled'
        self.assertRaises(testtools.TestCase.failureException,
                          self.test.disable_compute_service, 'cmp1')
        self.test.doCleanups()
        self.assertEqual([], self.services.updates)


class TestCreateGuest(base.TestCase):
    """Every guest its own validation resources."""

    def setUp(self):
        super().setUp()
        self.flags('validation', run_validation=True)
        self.test = live.LiveMigrationTest(
            'test_live_migration_to_requested_host')
        self.test.os_primary = mock.Mock(name='primary')
        self.test.os_admin = mock.Mock(name='admin')
        for clients in (self.test.os_primary, self.test.os_admin):
            clients.servers_client.show_server.side_effect = (
                lambda server_id: {'server': {'id': server_id}})
        made = ({'keypair': 'k%d' % n, 'floating_ip': '192.0.2.%d' % n}
                for n in itertools.count(1))
        self.test.get_test_validation_resources = mock.Mock(
            side_effect=lambda clients: next(made))
        self.test.get_class_validation_resources = mock.Mock()
        self.test.create_test_server = mock.Mock(
            side_effect=lambda **kw: {'id': 'srv'})

    @decorators.idempotent_id('b59a2382-f67f-4ef8-8b6b-8e50f7b3414c')
    def test_each_guest_has_its_own_floating_ip(self):
        first = self.test.create_guest(host='cmp1')
        second = self.test.create_guest(host='cmp1')
        self.assertEqual(['192.0.2.1', '192.0.2.2'],
                         [g.validation_resources['floating_ip']
                          for g in (first, second)])
        self.test.get_class_validation_resources.assert_not_called()
        calls = self.test.create_test_server.call_args_list
        self.assertEqual(['192.0.2.1', '192.0.2.2'],
                         [c[1]['validation_resources']['floating_ip']
                          for c in calls])
        self.assertEqual({'SSHABLE'}, {c[1]['wait_until'] for c in calls})

    @decorators.idempotent_id('8e74cf1b-caab-4b9a-a82a-47f044700dfa')
    def test_who_boots(self):
        self.assertIs(self.test.os_admin,
                      self.test.create_guest(host='cmp1').clients)
        self.assertIs(self.test.os_primary, self.test.create_guest().clients)
        # The vTPM scenario's user, even where an admin would be needed.
        self.assertIs(self.test.os_primary, self.test.create_guest(
            clients=self.test.os_primary).clients)
