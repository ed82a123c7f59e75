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

"""Tempest's entry point into the plugin: wiring only."""

import os

from tempest import config
from tempest.test_discover import plugins

from xloud_tempest_plugin import config as xloud_config

# Only the API scenarios are handed to tempest; the plugin's own unit tests
# under xloud_tempest_plugin/tests stay out of `tempest run`.
TEST_DIR = 'xloud_tempest_plugin/api'


class XloudTempestPlugin(plugins.TempestPlugin):

    def load_tests(self):
        base_path = os.path.dirname(
            os.path.dirname(os.path.abspath(__file__)))
        return os.path.join(base_path, TEST_DIR), base_path

    def register_opts(self, conf):
        config.register_opt_group(conf, xloud_config.migration_group,
                                  xloud_config.MigrationGroup)

    def get_opt_lists(self):
        return [(xloud_config.migration_group.name,
                 xloud_config.MigrationGroup)]

    def get_service_clients(self):
        # Registered into every tempest client manager, e.g.
        # os_primary.xloud_key_manager.SecretsClient().
        params = config.service_client_config()
        params.update({
            'name': 'xloud_key_manager',
            'service_version': 'xloud.key_manager.v1',
            'module_path': 'xloud_tempest_plugin.services.key_manager',
            'client_names': ['SecretsClient'],
            'service': 'key-manager',
        })
        return [params]
