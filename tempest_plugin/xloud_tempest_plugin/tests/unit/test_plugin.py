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

import importlib
import os

from oslo_config import cfg

from tempest.lib import decorators
from tempest.lib.services import clients
from tempest.tests.lib import fake_credentials

from xloud_tempest_plugin import plugin
from xloud_tempest_plugin.services import key_manager
from xloud_tempest_plugin.tests.unit import base


class TestPlugin(base.TestCase):

    def setUp(self):
        super().setUp()
        self.plugin = plugin.XloudTempestPlugin()

    @decorators.idempotent_id('cb5bc299-9de4-44b4-b928-65f9b519a7b7')
    def test_every_registered_group_is_listed(self):
        conf = cfg.ConfigOpts()
        builtin = set(conf)
        self.plugin.register_opts(conf)
        listed = dict(self.plugin.get_opt_lists())
        self.assertEqual(sorted(set(conf) - builtin), sorted(listed))
        for group, opts in listed.items():
            self.assertEqual(sorted(o.name for o in opts),
                             sorted(conf[group].keys()))

    @decorators.idempotent_id('757186e2-c962-477f-9580-507000026045')
    def test_options_and_defaults(self):
        opts = cfg.CONF.xloud_migration
        self.assertFalse(opts.shared_storage_live_migration)
        self.assertEqual(600, opts.migration_timeout)
        self.assertEqual(2, opts.drain_server_count)
        self.assertIsNone(opts.cpu_incompatible_dest_host)
        self.assertIsNone(opts.disk_full_dest_host)
        # The stable codes of xloud_nova_ext.exception.
        self.assertEqual('xloud.cpu.incompatible', opts.cpu_refusal_code)
        self.assertEqual('xloud.disk.insufficient', opts.disk_refusal_code)

    @decorators.idempotent_id('55f8bfdf-abed-40d6-87b4-33e0a9c652cb')
    def test_tempest_gets_the_scenarios_not_the_unit_tests(self):
        test_dir, top_dir = self.plugin.load_tests()
        self.assertTrue(os.path.isdir(test_dir))
        self.assertEqual(os.path.join(top_dir, 'xloud_tempest_plugin',
                                      'api'), test_dir)
        here = os.path.dirname(os.path.abspath(__file__))
        self.assertFalse(here.startswith(test_dir))

    @decorators.idempotent_id('aa077fe9-ba01-4fe1-85d9-b189ccac3a76')
    def test_key_manager_client_is_registered(self):
        [params] = self.plugin.get_service_clients()
        module = importlib.import_module(params['module_path'])
        for name in params['client_names']:
            self.assertTrue(hasattr(module, name), name)
        manager = clients.ServiceClients(
            fake_credentials.FakeKeystoneV3Credentials(),
            'https://keystone.example/v3')
        manager.register_service_client_module(**params)
        client = manager.xloud_key_manager.SecretsClient()
        self.assertIsInstance(client, key_manager.SecretsClient)
        self.assertEqual('key-manager', client.service)
