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

"""The QEMU wrapper of a host that lacks CPU features, piece by piece.

The whole (a real migration failing onto such a host) is the integration
tier's test_cpu.
"""

import os
import subprocess

import fixtures

from xloud_harness import lacking_qemu
from xloud_harness import testing
from xloud_harness.tests.requirements import missing_commands
from xloud_harness.tests.requirements import require

CAPS = """<qemuCaps>
  <hostCPU type='tcg' model='base' migratability='yes'>
    <property name='cmov' type='boolean' value='true' migratable='yes'/>
    <property name='popcnt' type='boolean' value='true' migratable='yes'/>
  </hostCPU>
  <cpu type='tcg' name='qemu64' typename='qemu64-x86_64-cpu' usable='yes'/>
  <cpu type='tcg' name='Nehalem' typename='Nehalem-x86_64-cpu' usable='yes'/>
  <cpu type='tcg' name='host' typename='host-x86_64-cpu' usable='no'>
    <blocker name='kvm'/>
  </cpu>
</qemuCaps>
"""


class WrapperTest(testing.TestCase):

    def setUp(self):
        super().setUp()
        self.dir = self.useFixture(fixtures.TempDir()).path

    def run_wrapper(self, wrapper, *args):
        return subprocess.run([wrapper] + list(args), capture_output=True,
                              text=True, check=True).stdout

    def test_appends_the_features_to_the_cpu_argument_only(self):
        # echo stands in for QEMU: it shows the arguments it got.
        wrapper = lacking_qemu.install(self.dir, ['popcnt', 'sse4.2'],
                                       qemu='/bin/echo')
        self.assertEqual(
            '-name guest=a b -cpu Nehalem,check=on,popcnt=off,sse4.2=off '
            '-m 128\n',
            self.run_wrapper(wrapper, '-name', 'guest=a b', '-cpu',
                             'Nehalem,check=on', '-m', '128'))
        # Without -cpu (libvirt's probe) nothing changes.
        self.assertEqual('-machine none\n',
                         self.run_wrapper(wrapper, '-machine', 'none'))

    def test_copy_runs_beside_its_bundle_and_wrapper_is_kept(self):
        wrapper = lacking_qemu.install(self.dir, ['popcnt'],
                                       qemu='/bin/echo')
        self.assertEqual('/', os.readlink(os.path.join(self.dir,
                                                       'qemu-bundle')))
        before = os.stat(wrapper).st_ctime_ns
        # Same features: the wrapper (whose ctime libvirt checks) stays.
        lacking_qemu.install(self.dir, ['popcnt'], qemu='/bin/echo')
        self.assertEqual(before, os.stat(wrapper).st_ctime_ns)

    def test_copy_follows_an_upgraded_binary(self):
        qemu = os.path.join(self.useFixture(fixtures.TempDir()).path,
                            'qemu-system-x86_64')
        for version in ('7.2', '7.2.1 upgraded'):
            with open(qemu, 'w') as f:
                f.write('#!/bin/sh\necho %s\n' % version)
            os.chmod(qemu, 0o755)
            wrapper = lacking_qemu.install(self.dir, ['popcnt'], qemu=qemu)
            self.assertEqual(version + '\n', self.run_wrapper(wrapper))


class CapsTest(testing.TestCase):

    def test_edit_says_what_qemu_now_lacks(self):
        self.assertEqual(['qemu64', 'Nehalem'],
                         lacking_qemu.tcg_models(CAPS))
        edited = lacking_qemu.edit_caps(CAPS, ['popcnt'],
                                        {'Nehalem': ['popcnt']})
        self.assertIn("<property name='popcnt' type='boolean' "
                      "value='false'/>", edited)
        self.assertIn("<property name='cmov' type='boolean' value='true'",
                      edited)
        self.assertIn("name='Nehalem' typename='Nehalem-x86_64-cpu' "
                      "usable='no'>\n    <blocker name='popcnt'/>\n  </cpu>",
                      edited)
        self.assertIn("name='qemu64' typename='qemu64-x86_64-cpu' "
                      "usable='yes'/>", edited)
        self.assertEqual(['qemu64'], lacking_qemu.tcg_models(edited))

    def test_lacks_tells_an_edited_cache_from_a_probed_one(self):
        edited = lacking_qemu.edit_caps(CAPS, ['popcnt'],
                                        {'Nehalem': ['popcnt']})
        self.assertFalse(lacking_qemu.lacks(CAPS, ['popcnt']))
        self.assertTrue(lacking_qemu.lacks(edited, ['popcnt']))
        self.assertFalse(lacking_qemu.lacks(edited, ['popcnt', 'cmov']))
        # Editing again changes nothing.
        self.assertEqual(edited, lacking_qemu.edit_caps(
            edited, ['popcnt'], {'Nehalem': ['popcnt']}))

    def test_qemu_names_the_models_that_have_a_feature(self):
        require(self, not missing_commands(lacking_qemu.QEMU),
                'needs %s (tools/install-debian-deps.sh)' % lacking_qemu.QEMU)
        self.assertEqual(
            {'Nehalem': ['popcnt'], 'EPYC': ['popcnt']},
            lacking_qemu.models_with(['popcnt'],
                                     ['Nehalem', 'Penryn', 'qemu64', 'EPYC']))
