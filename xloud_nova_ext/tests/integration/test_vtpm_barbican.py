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

"""The vTPM secret reaches a real libvirt host from a real Barbican.

Real: two libvirtd hosts with QEMU TCG guests and swtpm, a Barbican 23
server on 127.0.0.1 (only our code, in the root namespace, talks to it),
nova's libvirt ``Host`` class and our VTPMGuard. Not run: nova's control
plane; the test calls the guard's hooks in the order nova's compute manager
does (spawn on A; pre-check, source check and pre_live_migration for a live
migration to B), as a ``host``-mode instance owned by one project and moved
by an admin of another.
"""

import base64
import os
import uuid as uuid_mod

from castellan.common.objects import passphrase
from castellan import key_manager
import nova.conf
from nova import context as nova_context
from nova import objects
from nova.virt.libvirt import host as nova_host
from oslo_config import fixture as config_fixture

from xloud_harness import barbican
from xloud_harness import guests
from xloud_harness import process

from xloud_nova_ext import exception
from xloud_nova_ext.tests.integration import base
from xloud_nova_ext.tests import requirements
from xloud_nova_ext import vtpm

try:
    import libvirt
except ImportError:  # base.IntegrationTestCase reports it
    libvirt = None

CONF = nova.conf.CONF


class VtpmBarbicanMigrationTest(base.IntegrationTestCase):

    def setUp(self):
        super().setUp()
        try:
            self.barbican = barbican.shared_server()
        except barbican.BarbicanStartError as e:
            requirements.require(self, False, 'no Barbican server: %s' % e)
        objects.register_all()
        self.conf = self.useFixture(config_fixture.Config(CONF))
        self.conf.config(host=self.b.name)
        self.useFixture(barbican.NovaKeyManagerFixture(self.barbican))
        self.owner = nova_context.RequestContext(
            user_id='owner', project_id='owner-project',
            roles=['reader', 'member'], is_admin=False)
        self.admin = nova_context.RequestContext(
            user_id='admin', project_id='admin-project',
            roles=['reader', 'member', 'admin'], is_admin=True)
        self.host_a = nova_host.Host(self.a.uri)
        self.host_b = nova_host.Host(self.b.uri)

    def boot_on_a(self):
        """A host-mode vTPM guest on A, as nova's spawn leaves it."""
        instance = objects.Instance(
            uuid=str(uuid_mod.uuid4()), project_id='owner-project',
            host=self.a.name, task_state=None, image_ref='',
            flavor=objects.Flavor(extra_specs={
                'hw:tpm_model': 'tpm-crb', 'hw:tpm_version': '2.0',
                'hw:tpm_secret_security': 'host'}),
            system_metadata={})
        # nova.crypto.ensure_vtpm_secret: a passphrase the owner stores.
        value = base64.b64encode(os.urandom(384))
        km = key_manager.API(CONF)
        secret_uuid = km.store(self.owner, passphrase.Passphrase(
            value, name='vTPM secret for instance %s' % instance.uuid))
        self.addCleanup(km.delete, self.owner, secret_uuid)
        instance.system_metadata['vtpm_secret_uuid'] = secret_uuid
        # nova's _get_or_create_secret_for_vtpm in host mode.
        self.host_a.create_secret('vtpm', instance.uuid, password=value,
                                  uuid=secret_uuid, ephemeral=False,
                                  private=False)
        dom = guests.start_guest(self.open(self.a), guests.domain_xml(
            'tpm-guest', uuid=instance.uuid, vtpm_secret=secret_uuid))
        # Our spawn hook: the owner grants the nova service user.
        vtpm.VTPMGuard(self.host_a, CONF).guest_started(self.owner, instance)
        return instance, dom, value

    def prepare_destination(self, instance, define=True):
        """The live-migration hooks on B and A, as the admin requests it."""
        guard_a = vtpm.VTPMGuard(self.host_a, CONF)
        guard_b = vtpm.VTPMGuard(self.host_b, CONF)
        check_data = guard_b.check_can_live_migrate_destination(
            instance, objects.LibvirtLiveMigrateData())
        # Source: nova puts the value in; our hook takes it out again, as
        # B announced it reads the secret itself.
        with guard_a.check_can_live_migrate_source(self.admin, instance,
                                                   check_data):
            secret = self.host_a.find_secret('vtpm', instance.uuid)
            check_data.vtpm_secret_uuid = secret.UUIDString()
            check_data.vtpm_secret_value_bytes = secret.value()
        self.assertIsNone(check_data.vtpm_secret_value)
        with guard_b.check_source_migrate_data_at_dest(
                self.admin, instance, check_data):
            pass
        if define:
            with guard_b.pre_live_migration(self.admin, instance,
                                            check_data):
                pass

    def swtpm_pids(self, host):
        return [p for p in host.pids() if process.comm(p) == 'swtpm']

    def test_secret_from_barbican_lets_the_tpm_state_move(self):
        instance, dom, value = self.boot_on_a()
        state_a = self.a.real_path('/var/lib/libvirt/swtpm/%s'
                                   % instance.uuid)
        self.assertTrue(os.path.isdir(state_a), state_a)

        self.prepare_destination(instance)

        secret_b = self.host_b.find_secret('vtpm', instance.uuid)
        self.assertEqual(instance.system_metadata['vtpm_secret_uuid'],
                         secret_b.UUIDString())
        self.assertEqual(value, secret_b.value())
        guests.live_migrate(dom, self.b)

        moved = self.open(self.b).lookupByUUIDString(instance.uuid)
        self.assertEqual(libvirt.VIR_DOMAIN_RUNNING, moved.state()[0])
        self.assertIn("<tpm model='tpm-crb'>", moved.XMLDesc())
        self.assertEqual(1, len(self.swtpm_pids(self.b)))
        self.assertEqual([], self.swtpm_pids(self.a))
        state_b = self.b.real_path('/var/lib/libvirt/swtpm/%s'
                                   % instance.uuid)
        files = [f for _d, _s, names in os.walk(state_b) for f in names]
        self.assertTrue(files, 'no TPM state on B')

    def test_without_our_step_the_migration_fails(self):
        """Proves the test above can fail: libvirt needs the secret."""
        instance, dom, _value = self.boot_on_a()
        self.prepare_destination(instance, define=False)

        error = self.assertRaises(libvirt.libvirtError,
                                  guests.live_migrate, dom, self.b)

        self.assertEqual(libvirt.VIR_ERR_NO_SECRET, error.get_error_code())
        self.assertEqual(libvirt.VIR_DOMAIN_RUNNING, dom.state()[0])

    def test_unreachable_barbican_is_refused_and_nothing_defined(self):
        instance, dom, _value = self.boot_on_a()
        # Nothing listens there; restored before the secret's cleanup.
        CONF.set_override('barbican_endpoint', 'http://127.0.0.1:9',
                          group='barbican')
        self.addCleanup(CONF.set_override, 'barbican_endpoint',
                        self.barbican.endpoint, group='barbican')

        self.assertRaises(exception.KeyManagerUnreachable,
                          self.prepare_destination, instance)

        self.assertIsNone(self.host_b.find_secret('vtpm', instance.uuid))
        self.assertEqual(libvirt.VIR_DOMAIN_RUNNING, dom.state()[0])
