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

"""The nova release check and the finder that serves nova.virt.xloud.

nova 34 is real here (the tox env's); another nova release is not
installable, so the tests that need one replace only the version nova
reports. tests/install and tests/devstack install real layouts, including
an editable nova that reports 35.0.0.
"""

import importlib
import os
import sys
from unittest import mock

import fixtures
from xloud_harness import testing

import _xloud_nova_ext_finder as finder
from xloud_nova_ext import exception
from xloud_nova_ext import installation
from xloud_nova_ext.virt.libvirt import driver


class NovaReleaseTest(testing.TestCase):

    def test_nova_34_passes(self):
        self.assertTrue(installation.nova_version().startswith('34.'))
        installation.require_supported_nova()

    def test_next_release_refused_with_the_fix(self):
        self.useFixture(self._nova_reports('35.0.0.0b2.dev14'))
        err = self.assertRaises(exception.NovaVersionUnsupported,
                                installation.require_supported_nova)
        # nova's load_compute_driver logs an ImportError and stops.
        self.assertIsInstance(err, ImportError)
        self.assertEqual(
            '[xloud.install.nova_unsupported] This xloud-nova-ext extends '
            'the libvirt driver of nova 34; this host runs nova '
            '35.0.0.0b2.dev14. Fix: Install the xloud-nova-ext release made '
            'for nova 35 (or nova 34); meanwhile [DEFAULT] compute_driver = '
            "libvirt.LibvirtDriver runs nova's own driver.", str(err))

    def test_driver_refuses_to_start_on_another_release(self):
        self.useFixture(self._nova_reports('33.1.0'))
        with mock.patch.object(driver.libvirt_driver.LibvirtDriver,
                               '__init__') as stock_init:
            self.assertRaises(exception.NovaVersionUnsupported,
                              driver.XloudLibvirtDriver, None)
        stock_init.assert_not_called()

    def test_check_reports_this_environment(self):
        found = dict(installation.check())
        self.assertEqual(['nova package', 'nova version', 'driver module'],
                         list(found))
        self.assertEqual([], [f for f in found.values()
                              if isinstance(f, installation.Problem)])
        self.assertIn('nova 34.', found['nova version'])

    @staticmethod
    def _nova_reports(version):
        return fixtures.MockPatch('xloud_nova_ext.installation.nova_version',
                                  return_value=version)


class FinderTest(testing.TestCase):

    def test_serves_nova_virt_xloud_only(self):
        spec = finder.NovaVirtXloudFinder.find_spec('nova.virt.xloud')
        self.assertEqual('nova.virt.xloud', spec.name)
        self.assertEqual(
            os.path.realpath(os.path.join(
                os.path.dirname(driver.__file__), os.pardir, 'xloud.py')),
            os.path.realpath(spec.origin))
        for name in ('nova.virt.libvirt', 'nova.virt.xloud.sub', 'xloud'):
            self.assertIsNone(finder.NovaVirtXloudFinder.find_spec(name))

    def test_installed_once_after_the_others(self):
        self.addCleanup(setattr, sys, 'meta_path', list(sys.meta_path))
        sys.meta_path[:] = [f for f in sys.meta_path
                            if f is not finder.NovaVirtXloudFinder]
        finder.install()
        finder.install()
        self.assertEqual(finder.NovaVirtXloudFinder, sys.meta_path[-1])
        self.assertEqual(1, sys.meta_path.count(finder.NovaVirtXloudFinder))

    def test_nova_imports_the_driver_through_it(self):
        module = importlib.import_module('nova.virt.xloud')
        self.assertIs(driver.XloudLibvirtDriver, module.XloudLibvirtDriver)
