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

"""When the main job may run the real cloud (--hypervisor auto)."""

from unittest import mock

from xloud_harness import testing

from xloud_migration_cloud.real import layout


class UnavailableTest(testing.TestCase):

    def test_a_user_who_is_not_root_gets_the_fake_cloud(self):
        with mock.patch('os.geteuid', return_value=1000):
            self.assertIn('needs root', layout.unavailable())

    def test_missing_packages_are_named_with_the_fix(self):
        def which(name):
            return None if name in ('bindfs', 'swtpm') else '/usr/bin/x'
        with mock.patch('os.geteuid', return_value=0), \
                mock.patch('shutil.which', side_effect=which), \
                mock.patch('os.path.exists', return_value=False):
            why = layout.unavailable()
        self.assertIn('missing bindfs, swtpm', why)
        self.assertIn('tools/install-debian-deps.sh', why)

    def test_root_with_every_command_may_run_it(self):
        with mock.patch('os.geteuid', return_value=0), \
                mock.patch('shutil.which', return_value='/usr/bin/x'):
            self.assertIsNone(layout.unavailable())
