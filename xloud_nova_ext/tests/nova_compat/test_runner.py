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

"""The runner's own checks: nova's harness really starts our driver."""

import unittest

from nova.tests.functional.libvirt import base as libvirt_base
from nova.virt.libvirt import driver as libvirt_driver
import testtools

from xloud_harness import testing

from xloud_nova_ext.tests.nova_compat import by_design
from xloud_nova_ext.tests.nova_compat import driver_swap
from xloud_nova_ext.tests.nova_compat import selection
from xloud_nova_ext.virt.libvirt import driver as xloud_driver


class DriverSwapTest(libvirt_base.ServersTestBase):
    """A compute started by nova's harness, as nova's tests start them."""

    def test_compute_runs_the_driver_under_test(self):
        self.start_compute('compute1')
        driver = self.computes['compute1'].driver
        if driver_swap.installed():
            self.assertIs(xloud_driver.XloudLibvirtDriver, type(driver))
        else:  # --stock: the reference run
            self.assertIs(libvirt_driver.LibvirtDriver, type(driver))


class ByDesignTest(testing.TestCase):
    """A listed test is an expected failure, and fails the run if it passes."""

    def run_marked(self, body):
        class Listed(testing.TestCase):
            def test_it(self):
                body(self)

        suite = unittest.TestSuite([Listed('test_it')])
        by_design.mark(suite, {Listed('test_it').id(): 'our refusal'})
        result = testtools.TestResult()
        suite.run(result)
        return result

    def test_failing_listed_test_is_an_expected_failure(self):
        result = self.run_marked(lambda test: test.fail('refused'))
        self.assertEqual(1, len(result.expectedFailures))
        self.assertTrue(result.wasSuccessful())

    def test_passing_listed_test_fails_the_run(self):
        result = self.run_marked(lambda test: None)
        self.assertEqual(1, len(result.unexpectedSuccesses))
        self.assertFalse(result.wasSuccessful())

    def test_every_listed_test_is_in_the_package(self):
        import xloud_nova_ext.tests.nova_compat as package
        names = package.nova_test_modules()
        for test_id in by_design.EXPECTED_FAILURES:
            self.assertIn(test_id.rsplit('.', 2)[0], names, test_id)


class SelectionTest(testing.TestCase):

    def test_selected_modules_exist(self):
        import xloud_nova_ext.tests.nova_compat as package
        names = package.nova_test_modules()
        for module in selection.MODULES:
            self.assertIn('%s.%s' % (selection.PACKAGE, module), names)
