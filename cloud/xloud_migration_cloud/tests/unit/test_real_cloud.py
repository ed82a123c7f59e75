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

"""The real cloud's stop, without a cloud: it never sweeps another run's."""

import os

import fixtures

from xloud_harness import lock
from xloud_harness import testing

from xloud_migration_cloud.real import cloud
from xloud_migration_cloud.real import layout


class StopTest(testing.TestCase):

    def setUp(self):
        super().setUp()
        self.swept = []
        self.useFixture(fixtures.MonkeyPatch(
            'xloud_migration_cloud.real.sweep.clean_machine',
            lambda: self.swept.append(True)))
        self.tmp = self.useFixture(fixtures.TempDir()).path
        # Another run's lock, as the machine-wide one.
        self.lock_file = os.path.join(self.tmp, 'cloud.lock')
        self.other = lock.MachineLock(self.lock_file)
        self.other.acquire(1)
        self.addCleanup(self.other.release)

    def real_cloud(self):
        workdir = os.path.join(self.tmp, 'work')
        os.makedirs(workdir)
        real = cloud.RealCloud(workdir=None, progress=lambda m: None)
        real.workdir = workdir
        real._lock = lock.MachineLock(self.lock_file)
        return real, workdir

    def test_stopped_while_waiting_for_the_lock_sweeps_nothing(self):
        real, workdir = self.real_cloud()
        self.assertRaises(lock.LockTimeout, real._lock.acquire, 0.3)
        real.stop()
        self.assertEqual([], self.swept)
        self.assertFalse(os.path.exists(workdir))

    def test_stopped_holding_the_lock_sweeps_the_machine(self):
        self.other.release()
        real, workdir = self.real_cloud()
        real._lock.acquire(1)
        real.stop()
        self.assertEqual([True], self.swept)
        self.assertFalse(real._lock.held)


class HostChoiceTest(testing.TestCase):

    def test_a_subset_of_the_hosts_with_other_drivers(self):
        real = cloud.RealCloud(hosts=('xlc-a', 'xlc-s'), drivers={
            'xlc-s': layout.XLOUD_DRIVER})
        self.assertEqual([('xlc-a', layout.XLOUD_DRIVER, 'shared'),
                          ('xlc-s', layout.XLOUD_DRIVER, 'local')],
                         [(s.name, s.driver, s.storage) for s in real.specs])

    def test_every_host_as_laid_out_by_default(self):
        self.assertEqual(list(layout.HOSTS), cloud.RealCloud().specs)
