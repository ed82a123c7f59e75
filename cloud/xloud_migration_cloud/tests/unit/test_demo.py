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

"""xloud-migration-demo's --then, on a cloud that only pretends to start.

The command itself really runs (bash); the cloud is a stand-in with the
embedded cloud's credentials, so that no service starts here.
"""

import os
import shutil
import signal
import tempfile
from unittest import mock

import fixtures
from xloud_harness import keystone
from xloud_harness import testing

from xloud_migration_cloud import cloud as cloud_mod
from xloud_migration_cloud import demo


class StartedCloud(cloud_mod.EmbeddedCloud):

    def start(self):
        self.urls = {'identity': 'http://127.0.0.1:5000/v3'}
        return self

    def stop(self):
        self.stopped = True


class ThenTest(testing.TestCase):

    def setUp(self):
        super().setUp()
        self.useFixture(fixtures.MockPatchObject(
            cloud_mod, 'EmbeddedCloud', StartedCloud))
        # Stale credentials of whoever runs the demo.
        self.useFixture(fixtures.EnvironmentVariable('OS_CLOUD', 'other'))
        self.out = tempfile.mkdtemp()
        self.addCleanup(shutil.rmtree, self.out)
        # demo.main sets its own handlers for these.
        for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
            self.addCleanup(signal.signal, signum, signal.getsignal(signum))

    def demo(self, command):
        return demo.main(['--hypervisor', 'fake', '--no-tests',
                          '--html', os.path.join(self.out, 'r.html'),
                          '--then', command])

    def test_runs_as_the_clouds_admin_and_fails_the_run_with_it(self):
        seen = os.path.join(self.out, 'env')
        rc = self.demo('env | grep ^OS_ | sort > %s; exit 3' % seen)
        self.assertEqual(3, rc)
        with open(seen) as f:
            env = dict(line.rstrip('\n').split('=', 1) for line in f)
        self.assertEqual({
            'OS_AUTH_URL': 'http://127.0.0.1:5000/v3',
            'OS_USERNAME': 'admin', 'OS_PASSWORD': keystone.ADMIN_PASSWORD,
            'OS_PROJECT_NAME': 'admin', 'OS_USER_DOMAIN_NAME': 'Default',
            'OS_PROJECT_DOMAIN_NAME': 'Default',
            'OS_IDENTITY_API_VERSION': '3'}, env)

    def test_a_command_that_passes_leaves_the_run_passing(self):
        with mock.patch.object(StartedCloud, 'stop') as stop:
            self.assertEqual(0, self.demo('true'))
        stop.assert_called_once_with()
