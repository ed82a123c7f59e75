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

"""Failsafe: a safeguard's own failure refuses or lets nova proceed."""

import contextlib

import fixtures
from nova import exception as nova_exc
import testtools

from xloud_harness import testing

from xloud_nova_ext import exception
from xloud_nova_ext.virt.libvirt import failsafe


class Bug(Exception):
    pass


class Guard(object):
    """A safeguard whose steps fail on demand."""

    def __init__(self):
        self.fail = set()
        self.log = []
        self.setting = 'initial'

    def _step(self, name):
        self.log.append(name)
        if name in self.fail:
            raise Bug('secret-ish detail of %s' % name)

    def check(self, instance):
        self._step('check')
        return 'checked %s' % instance

    def refuse_on_purpose(self):
        raise exception.VTPMSecretMissing(secret_uuid='s1')

    def check_can_live_migrate_destination(self, migrate_data):
        self._step('publish')
        return 'changed'

    @staticmethod
    def get_instance_disk_info(disk_info):
        raise Bug('static')

    @contextlib.contextmanager
    def around(self):
        self._step('around-enter')
        try:
            yield Pending(self)
        finally:
            self._step('around-exit')


class Pending(object):
    def __init__(self, guard):
        self.guard = guard

    def bind(self, check_data):
        self.guard._step('bind')
        return check_data


class FailsafeTest(testing.TestCase):

    def setUp(self):
        super().setUp()
        self.guard = Guard()
        self.safe = failsafe.Failsafe('test', self.guard,
                                      refuse=('check', 'around', 'bind'))
        self.logger = self.useFixture(fixtures.FakeLogger())

    def test_result_of_a_working_step_is_unchanged(self):
        self.assertEqual('checked i1', self.safe.check('i1'))

    def test_refusal_on_purpose_passes_as_is(self):
        self.assertRaises(exception.VTPMSecretMissing,
                          self.safe.refuse_on_purpose)

    def test_failure_of_a_refusing_step_is_a_refusal_naming_the_type(self):
        self.guard.fail.add('check')
        err = self.assertRaises(exception.SafeguardFailed,
                                self.safe.check, 'i1')
        self.assertIsInstance(err, exception.MigrationRefused)
        self.assertIn('[xloud.safeguard.failed]', str(err))
        self.assertIn('(Bug in check)', str(err))
        self.assertNotIn('secret-ish', str(err))
        self.assertIsInstance(err.__cause__, Bug)
        self.assertIn('secret-ish detail of check', self.logger.output)

    def test_failure_of_another_step_proceeds_with_a_warning(self):
        safe = failsafe.Failsafe('test', self.guard)
        self.guard.fail.add('check')
        self.assertIsNone(safe.check('i1'))
        self.assertIn('The test safeguard failed in check; nova proceeds',
                      self.logger.output)

    def test_passthrough_step_hands_its_argument_on_unchanged(self):
        self.guard.fail.add('publish')
        step = self.safe.check_can_live_migrate_destination
        self.assertEqual('data', step('data'))
        self.assertEqual('data', step(migrate_data='data'))

    def test_passthrough_of_a_static_method(self):
        self.assertEqual('data', self.safe.get_instance_disk_info('data'))

    def test_context_failing_on_entry_refuses_before_the_body(self):
        self.guard.fail.add('around-enter')
        body = []
        with testtools.ExpectedException(exception.SafeguardFailed):
            with self.safe.around():
                body.append('ran')
        self.assertEqual([], body)

    def test_context_failing_on_entry_proceeds_when_not_refusing(self):
        safe = failsafe.Failsafe('test', self.guard)
        self.guard.fail.add('around-enter')
        with safe.around() as value:
            body = 'ran'
        self.assertIsNone(value)
        self.assertEqual('ran', body)
        # Never entered: its exit must not run either.
        self.assertEqual(['around-enter'], self.guard.log)

    def test_novas_error_in_the_body_passes_through_untouched(self):
        error = nova_exc.MigrationError(reason='nova said no')
        with testtools.ExpectedException(nova_exc.MigrationError):
            with self.safe.around():
                raise error
        self.assertEqual(['around-enter', 'around-exit'], self.guard.log)

    def test_failing_exit_after_novas_error_keeps_novas_error(self):
        self.guard.fail.add('around-exit')
        with testtools.ExpectedException(nova_exc.MigrationError):
            with self.safe.around():
                raise nova_exc.MigrationError(reason='nova said no')
        self.assertIn('failed in around while nova failed too',
                      self.logger.output)

    def test_failing_exit_after_success_refuses(self):
        self.guard.fail.add('around-exit')
        with testtools.ExpectedException(exception.SafeguardFailed):
            with self.safe.around():
                pass

    def test_what_a_context_yields_follows_the_rule(self):
        self.guard.fail.add('bind')
        with testtools.ExpectedException(exception.SafeguardFailed):
            with self.safe.around() as pending:
                pending.bind('data')

    def test_attributes_are_the_guards(self):
        self.assertEqual('initial', self.safe.setting)
        self.safe.setting = 'changed'
        self.assertEqual('changed', self.guard.setting)
        self.assertIs(self.guard._step.__func__,
                      self.safe._step.__func__)
        self.assertIs(self.guard, self.safe.__wrapped__)
        del self.safe.setting
        self.assertFalse(hasattr(self.guard, 'setting'))
