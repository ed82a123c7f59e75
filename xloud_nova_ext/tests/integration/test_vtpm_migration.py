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

"""vTPM guests migrate when the destination holds the same secret."""

import os

from xloud_harness import guests
from xloud_harness import process

from xloud_nova_ext.tests.integration import base

try:
    import libvirt
except ImportError:  # base.IntegrationTestCase reports it
    libvirt = None


class VtpmMigrationTest(base.IntegrationTestCase):

    def _start_vtpm_guest(self, name, on_destination):
        """A vTPM guest on A; its secret on B too if ``on_destination``."""
        value = os.urandom(32)
        src = self.open(self.a)
        secret = guests.define_vtpm_secret(src, value)
        if on_destination:
            guests.define_vtpm_secret(self.open(self.b), value,
                                      secret_uuid=secret)
        dom = guests.start_guest(src, guests.domain_xml(
            name, vtpm_secret=secret))
        return dom

    def _swtpm_pids(self, host):
        return [p for p in host.pids() if process.comm(p) == 'swtpm']

    def test_vtpm_guest_migrates_with_its_secret(self):
        """The vTPM state moves to B, whose swtpm decrypts it."""
        dom = self._start_vtpm_guest('tpm-guest', on_destination=True)
        self.assertEqual(1, len(self._swtpm_pids(self.a)))
        self.assertEqual([], self._swtpm_pids(self.b))

        guests.live_migrate(dom, self.b)

        moved = self.open(self.b).lookupByName('tpm-guest')
        self.assertEqual(libvirt.VIR_DOMAIN_RUNNING, moved.state()[0])
        self.assertEqual([], self._swtpm_pids(self.a))
        self.assertEqual(1, len(self._swtpm_pids(self.b)))
        state = self.b.real_path('/var/lib/libvirt/swtpm/%s'
                                 % moved.UUIDString())
        self.assertTrue(os.path.isdir(state), state)

    def test_vtpm_migration_needs_secret_on_destination(self):
        """Without the secret on B libvirt refuses; A keeps the guest."""
        dom = self._start_vtpm_guest('tpm-guest', on_destination=False)

        error = self.assertRaises(libvirt.libvirtError,
                                  guests.live_migrate, dom, self.b)

        self.assertEqual(libvirt.VIR_ERR_NO_SECRET, error.get_error_code())
        self.assertEqual(libvirt.VIR_DOMAIN_RUNNING, dom.state()[0])
        self.assertRaises(libvirt.libvirtError,
                          self.open(self.b).lookupByName, 'tpm-guest')
