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

"""Base of the plugin's unit tests: tempest's fake config, no cloud.

These tests run with only tempest installed (no oslotest), outside
`tempest run` (the plugin hands tempest its api/ directory only). They carry
idempotent ids because check-uuid scans the whole package; it exempts only
tempest's own unit tests.
"""

import os

import fixtures
from oslo_config import cfg
import testtools

from tempest import config
from tempest.tests import fake_config

from xloud_tempest_plugin import plugin


class FakeConfig(fake_config.FakePrivate):
    """Tempest's fake config, with our group even if not installed."""

    def __init__(self, parse_conf=True, config_path=None):
        super().__init__(parse_conf, config_path)
        self.xloud_migration = cfg.CONF.xloud_migration


class TestCase(testtools.TestCase):

    def setUp(self):
        super().setUp()
        timeout = int(os.environ.get('OS_TEST_TIMEOUT', 0))
        if timeout > 0:
            self.useFixture(fixtures.Timeout(timeout, gentle=True))
        self.conf_fixture = self.useFixture(fake_config.ConfigFixture())
        plugin.XloudTempestPlugin().register_opts(cfg.CONF)
        self.useFixture(fixtures.MockPatchObject(
            config.CONF, '_config', FakeConfig()))
        # A cloud where every scenario could run; tests take things away.
        self.flags('compute', min_compute_nodes=2, max_microversion='latest')
        self.flags('compute-feature-enabled', live_migration=True,
                   cold_migration=True,
                   block_migration_for_live_migration=True)

    def flags(self, group, **kwargs):
        """Override options for this test only."""
        self.conf_fixture.config(group=group, **kwargs)
