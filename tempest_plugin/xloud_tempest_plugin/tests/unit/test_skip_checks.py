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

"""Single node, feature off or cloud not prepared: skip with a reason."""

import inspect

import fixtures
from oslo_config import cfg
import testtools

from tempest import config
from tempest.lib import decorators

from xloud_tempest_plugin.api.compute import test_cold_migration as cold
from xloud_tempest_plugin.api.compute import test_drain_host as drain
from xloud_tempest_plugin.api.compute import test_live_migration as live
from xloud_tempest_plugin.api.compute import \
    test_migration_safeguards_negative as negative
from xloud_tempest_plugin.api.compute import test_vtpm_live_migration as vtpm
from xloud_tempest_plugin.tests.unit import base

LIVE_CLASSES = [live.LiveMigrationTest, live.BlockLiveMigrationTest,
                vtpm.VTPMLiveMigrationTest, drain.DrainHostTest,
                negative.CPUIncompatibleDestinationTest,
                negative.DiskFullDestinationTest,
                negative.ConcurrentBlockMigrationTest]
ALL_CLASSES = LIVE_CLASSES + [cold.ColdMigrationTest]
BARBICAN = cfg.BoolOpt('barbican', default=False)


class TestSkipChecks(base.TestCase):

    def setUp(self):
        super().setUp()
        if 'barbican' not in cfg.CONF.service_available:
            # What barbican-tempest-plugin would register.
            self.conf_fixture.register_opt(BARBICAN,
                                           group='service_available')
        self.flags('service_available', barbican=True)
        self.flags('compute-feature-enabled', vtpm_live_migration=True)
        self.flags('xloud_migration', shared_storage_live_migration=True,
                   cpu_incompatible_dest_host='old-cpu',
                   cpu_incompatible_source_host='new-cpu',
                   disk_full_dest_host='full',
                   concurrent_block_dest_host='room-for-one')

    def assertSkips(self, cls, reason):
        e = self.assertRaises(testtools.TestCase.skipException,
                              cls.skip_checks)
        self.assertIn(reason, str(e), cls.__name__)

    def assertRuns(self, cls):
        cls.skip_checks()

    @decorators.idempotent_id('7f4c38cb-76a5-4c98-8585-0a824c36dba0')
    def test_prepared_cloud_runs_everything(self):
        for cls in ALL_CLASSES:
            self.assertRuns(cls)

    @decorators.idempotent_id('b5550e44-b469-44b9-9118-77302e079153')
    def test_single_compute_node_skips_everything(self):
        self.flags('compute', min_compute_nodes=1)
        for cls in ALL_CLASSES:
            self.assertSkips(cls, 'min_compute_nodes is 1')

    @decorators.idempotent_id('7c11eb74-e8d6-4c30-a88b-69a30ad3876e')
    def test_microversion_below_2_84_skips_everything(self):
        self.flags('compute', max_microversion='2.60')
        for cls in ALL_CLASSES:
            self.assertSkips(cls, 'microversion range')

    @decorators.idempotent_id('7bb20b21-0f39-4234-b04a-57ea293c68f0')
    def test_same_source_and_destination_hosts_skip(self):
        self.flags('compute', migration_source_host='a',
                   migration_dest_host='a')
        for cls in ALL_CLASSES:
            self.assertSkips(cls, 'must differ')

    @decorators.idempotent_id('31daed5f-ebf9-4197-964f-99cb03fe5693')
    def test_live_migration_off(self):
        self.flags('compute-feature-enabled', live_migration=False)
        for cls in LIVE_CLASSES:
            self.assertSkips(cls, 'live_migration is false')
        self.assertRuns(cold.ColdMigrationTest)

    @decorators.idempotent_id('e86a790c-6bf4-402d-b0fa-63aee0e3a9a7')
    def test_cold_migration_off(self):
        self.flags('compute-feature-enabled', cold_migration=False)
        self.assertSkips(cold.ColdMigrationTest, 'cold_migration is false')
        self.assertRuns(live.LiveMigrationTest)

    @decorators.idempotent_id('2befe617-a601-465d-ad39-2c8f8bd6d7fd')
    def test_no_shared_storage(self):
        self.flags('xloud_migration', shared_storage_live_migration=False)
        self.assertSkips(live.LiveMigrationTest,
                         'shared_storage_live_migration is false')
        self.assertRuns(live.BlockLiveMigrationTest)
        self.assertRuns(drain.DrainHostTest)

    @decorators.idempotent_id('bf7e9327-c41d-4840-b094-e4bedac478f8')
    def test_no_block_migration(self):
        self.flags('compute-feature-enabled',
                   block_migration_for_live_migration=False)
        for cls in (live.BlockLiveMigrationTest,
                    negative.DiskFullDestinationTest,
                    negative.ConcurrentBlockMigrationTest):
            self.assertSkips(cls, 'block_migration_for_live_migration')
        self.assertRuns(live.LiveMigrationTest)
        self.assertRuns(negative.CPUIncompatibleDestinationTest)

    @decorators.idempotent_id('78c9dd22-bed8-44ca-80e2-0ac12b9ef005')
    def test_vtpm_needs_barbican_and_the_feature(self):
        self.flags('service_available', barbican=False)
        self.assertSkips(vtpm.VTPMLiveMigrationTest, 'barbican is false')
        self.flags('service_available', barbican=True)
        self.flags('compute-feature-enabled', vtpm_live_migration=False)
        self.assertSkips(vtpm.VTPMLiveMigrationTest,
                         'vtpm_live_migration is false')

    @decorators.idempotent_id('69d3fd0f-9288-4725-81d9-97761bca10e6')
    def test_cpu_negative_needs_a_prepared_pair_of_hosts(self):
        cls = negative.CPUIncompatibleDestinationTest
        self.flags('xloud_migration', cpu_incompatible_source_host=None)
        self.assertSkips(cls, 'cpu_incompatible_source_host')
        self.flags('compute', migration_source_host='new-cpu')
        self.assertRuns(cls)
        self.flags('xloud_migration', cpu_incompatible_dest_host=None)
        self.assertSkips(cls, 'cpu_incompatible_dest_host is not set')

    @decorators.idempotent_id('8bd36bcc-b5e3-4624-809f-f00c60f1fc40')
    def test_disk_negative_needs_a_full_host(self):
        self.flags('xloud_migration', disk_full_dest_host=None)
        self.assertSkips(negative.DiskFullDestinationTest,
                         'disk_full_dest_host is not set')

    @decorators.idempotent_id('9891b59e-c1fc-4878-9dca-f07843724094')
    def test_concurrent_block_needs_a_host_with_room_for_one(self):
        self.flags('xloud_migration', concurrent_block_dest_host=None)
        self.assertSkips(negative.ConcurrentBlockMigrationTest,
                         'concurrent_block_dest_host is not set')


class _GroupWithout(object):
    """A config group without option ``name``, as if no plugin had it.

    barbican-tempest-plugin, when installed, registers [service_available]
    barbican for the whole process.
    """

    def __init__(self, group, name):
        self._group = group
        self._name = name

    def __contains__(self, key):
        return key != self._name and key in self._group

    def __getattr__(self, key):
        if key == self._name:
            raise cfg.NoSuchOptError(key)
        return getattr(self._group, key)


class TestSkipChecksWithoutBarbicanPlugin(base.TestCase):

    @decorators.idempotent_id('b23adfee-c765-4d61-a9b7-303036861a18')
    def test_vtpm_without_barbican_tempest_plugin(self):
        self.useFixture(fixtures.MockPatchObject(
            config.CONF._config, 'service_available', _GroupWithout(
                config.CONF.service_available, 'barbican')))
        self.flags('compute-feature-enabled', vtpm_live_migration=True)
        e = self.assertRaises(testtools.TestCase.skipException,
                              vtpm.VTPMLiveMigrationTest.skip_checks)
        self.assertIn('barbican-tempest-plugin is not installed', str(e))


class TestScenarioDecorations(base.TestCase):

    @decorators.idempotent_id('c3ef6f4c-bba3-4065-811b-2e8f94190605')
    def test_every_scenario_is_multinode_with_a_docstring(self):
        for cls in ALL_CLASSES:
            for name, method in inspect.getmembers(cls, inspect.isfunction):
                if not name.startswith('test_'):
                    continue
                attrs = getattr(method, '__testtools_attrs', set())
                self.assertIn('multinode', attrs, name)
                self.assertTrue(any(a.startswith('id-') for a in attrs),
                                name)
                summary = method.__doc__.strip().splitlines()[-1]
                self.assertTrue(summary.endswith('.'), name)
