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

import io
import json
import os
import unittest

import fixtures
from nova.tests.functional.libvirt import base as libvirt_base
from nova.virt.libvirt import driver as libvirt_driver
import subunit
import testtools

from xloud_harness import testing

from xloud_nova_ext.tests.nova_compat import by_design
from xloud_nova_ext.tests.nova_compat import driver_swap
from xloud_nova_ext.tests.nova_compat import reference
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


NOVA = 'nova.tests.functional.libvirt.test_evacuate.T.'


class ReferenceTest(testing.TestCase):
    """Ours beside the recorded stock outcomes, test by test."""

    def setUp(self):
        super().setUp()
        self.path = os.path.join(self.useFixture(fixtures.TempDir()).path,
                                 'stock.json')
        # Stock: a passes, b fails, c is skipped by nova itself.
        reference.record('selection', {NOVA + 'a': 'success',
                                       NOVA + 'b': 'fail',
                                       NOVA + 'c': 'skip'}, self.path)

    def compare(self, found, expected=()):
        out = io.StringIO()
        rc = reference.compare('selection', found, out, self.path,
                               {t: 'our refusal' for t in expected})
        return rc, out.getvalue()

    def test_same_outcomes_as_stock_pass_and_print_both_counts(self):
        rc, out = self.compare({NOVA + 'a': 'success', NOVA + 'b': 'fail',
                                NOVA + 'c': 'skip'})
        self.assertEqual(0, rc, out)
        stock, ours = out.splitlines()[1:3]
        self.assertTrue(stock.startswith('stock LibvirtDriver (nova 34.'),
                        stock)
        self.assertEqual(['1', '1', '1', '0', '0'], stock.split()[-5:])
        self.assertEqual(['1', '1', '1', '0', '0'], ours.split()[-5:])

    def test_failing_what_stock_passes_fails_the_run(self):
        rc, out = self.compare({NOVA + 'a': 'fail', NOVA + 'b': 'fail',
                                NOVA + 'c': 'skip'})
        self.assertEqual(1, rc)
        self.assertIn('does not pass 1 test(s) that stock nova passes:\n'
                      '  %sa (fail)' % NOVA, out)

    def test_listed_by_design_is_not_counted_against_us(self):
        found = {NOVA + 'a': 'xfail', NOVA + 'b': 'fail', NOVA + 'c': 'skip'}
        self.assertEqual(0, self.compare(found, [NOVA + 'a'])[0])
        found[NOVA + 'a'] = 'uxsuccess'
        self.assertEqual(1, self.compare(found, [NOVA + 'a'])[0])

    def test_tests_that_did_not_run_fail_the_run(self):
        rc, out = self.compare({NOVA + 'a': 'success'})
        self.assertEqual(1, rc)
        self.assertIn("1 of nova's tests ran, 3 in the stock run", out)

    def test_reads_stestr_subunit_output(self):
        stream = io.BytesIO()
        writer = subunit.StreamResultToBytes(stream)
        for test_id, status in ((NOVA + 'a', 'success'),
                                (NOVA + 'b', 'fail'),
                                ('xloud_nova_ext.tests.x', 'success')):
            writer.status(test_id=test_id, test_status='inprogress')
            writer.status(test_id=test_id, test_status=status)
        self.assertEqual({NOVA + 'a': 'success', NOVA + 'b': 'fail'},
                         reference.parse(stream.getvalue()))

    def test_recorded_reference_covers_the_selection(self):
        with open(reference.PATH) as f:
            recorded = json.load(f)['selection']
        self.assertTrue(recorded['nova'].startswith('34.'))
        self.assertGreater(sum(recorded['counts'].values()), 400)
