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


from nova import exception as nova_exc

from xloud_harness import testing

from xloud_nova_ext import exception


class RefusalTextTest(testing.TestCase):

    def test_text_has_code_cause_and_fix(self):
        err = exception.CPUIncompatible(
            host='cmp2', model='Skylake-Client', virt_type='kvm',
            detail='missing features avx512f, pku')
        text = str(err)
        self.assertTrue(text.startswith('[xloud.cpu.incompatible] '), text)
        self.assertIn('Host cmp2 cannot run guest CPU Skylake-Client', text)
        self.assertIn('missing features avx512f, pku', text)
        self.assertIn(' Fix: ', text)
        self.assertIn('xloud-cpu-baseline', err.fix)

    def test_every_refusal_code_is_unique_and_namespaced(self):
        def subclasses(cls):
            for sub in cls.__subclasses__():
                yield sub
                yield from subclasses(sub)
        codes = [c.code for c in subclasses(exception.XloudError)]
        self.assertEqual(len(codes), len(set(codes)), codes)
        for code in codes:
            self.assertRegex(code, r'^xloud\.[a-z]+\.[a-z_]+$')

    def test_refusal_crosses_rpc_as_nova_precheck_error(self):
        @exception.as_precheck_error
        def hook():
            raise exception.VTPMSecretMissing(secret_uuid='1234')

        err = self.assertRaises(nova_exc.MigrationPreCheckError, hook)
        # Exactly nova's class: oslo.messaging rebuilds only classes from
        # allowed modules on the conductor, anything else is a RemoteError.
        self.assertIs(nova_exc.MigrationPreCheckError, type(err))
        self.assertIn('[xloud.vtpm.secret_missing]', str(err))
        self.assertIn('Fix: ', str(err))

    def test_other_errors_pass_through_unchanged(self):
        @exception.as_precheck_error
        def hook():
            raise ValueError('not a refusal')

        self.assertRaises(ValueError, hook)
