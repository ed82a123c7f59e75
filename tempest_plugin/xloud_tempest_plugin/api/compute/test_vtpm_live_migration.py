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

from tempest import config
from tempest.lib import decorators

from xloud_tempest_plugin.api.compute import base
from xloud_tempest_plugin.services import key_manager

CONF = config.CONF

# 'host' is the only secret security that nova lets live-migrate.
VTPM_EXTRA_SPECS = {'hw:tpm_version': '2.0',
                    'hw:tpm_model': 'tpm-crb',
                    'hw:tpm_secret_security': 'host'}


class VTPMLiveMigrationTest(base.LiveMigrationTestBase):
    """Live migration of a vTPM guest keeps its Barbican secret."""

    block_migration = 'auto'

    @classmethod
    def skip_checks(cls):
        super().skip_checks()
        # barbican-tempest-plugin registers this option; without it tempest
        # cannot know whether a key manager exists.
        if 'barbican' not in CONF.service_available:
            raise cls.skipException(
                'barbican-tempest-plugin is not installed: [service_'
                'available] barbican is not registered.')
        if not CONF.service_available.barbican:
            raise cls.skipException(
                '[service_available] barbican is false.')
        if not CONF.compute_feature_enabled.vtpm_live_migration:
            raise cls.skipException(
                '[compute-feature-enabled] vtpm_live_migration is false.')

    def _vtpm_flavor(self):
        if CONF.xloud_migration.vtpm_flavor:
            return CONF.xloud_migration.vtpm_flavor
        client = self.admin_flavors_client
        ref = client.show_flavor(self.flavor_ref)['flavor']
        flavor = self.create_flavor(ram=ref['ram'], vcpus=ref['vcpus'],
                                    disk=ref['disk'])
        # Keep what the cloud needs on its flavors, add the vTPM.
        specs = client.list_flavor_extra_specs(self.flavor_ref)['extra_specs']
        specs.update(VTPM_EXTRA_SPECS)
        client.set_flavor_extra_spec(flavor['id'], **specs)
        return flavor['id']

    def _vtpm_secret(self, guest):
        """UUID of the guest's vTPM secret, as its owner sees it."""
        # nova creates the secret with the context of whoever booted it.
        client = guest.clients.xloud_key_manager.SecretsClient()
        name = 'vTPM secret for instance %s' % guest.id
        secrets = client.list_secrets(name=name)['secrets']
        self.assertEqual(1, len(secrets),
                         'Expected one secret named "%s": %s' % (name,
                                                                 secrets))
        self.assertEqual('ACTIVE', secrets[0]['status'])
        return key_manager.secret_uuid(secrets[0])

    def _assert_admin_cannot_read(self, secret_uuid, guest):
        """The admin who migrates the guest cannot read its vTPM payload."""
        status = self.os_admin.xloud_key_manager.SecretsClient(
        ).read_payload_status(secret_uuid)
        self.assertIn(status, (403, 404),
                      'The admin (another project) read the vTPM secret %s '
                      'of server %s, owned by the primary user: HTTP %d. '
                      'The migration would not prove that nova reads it '
                      'for the owner.' % (secret_uuid, guest.id, status))

    def _test_vtpm_live_migration(self, host):
        # The primary (non-admin) user boots it and so owns the secret; the
        # admin migrates it, and the destination must read the secret
        # through the grant to nova's service user, not as its owner.
        guest = self.create_guest(flavor=self._vtpm_flavor(),
                                  clients=self.os_primary)
        before = self._vtpm_secret(guest)
        # Only an admin may boot on a host: bring the guest to the
        # configured source, if the scheduler placed it elsewhere.
        source = CONF.compute.migration_source_host
        if source and self.get_host_for_server(guest.id) != source:
            self.assert_survived(guest, self.live_migrate(guest, source),
                                 'completed')
        if host == self.get_host_for_server(guest.id):
            host = None
        self._assert_admin_cannot_read(before, guest)
        move = self.live_migrate(guest, host)
        self.assert_survived(guest, move, 'completed')
        self.assertEqual(before, self._vtpm_secret(guest),
                         'The vTPM secret of server %s changed.' % guest.id)

    @decorators.attr(type='multinode')
    @decorators.idempotent_id('d6113361-c7f7-4a6c-85f6-f8488d8b2c0d')
    def test_vtpm_live_migration_keeps_secret(self):
        """A user's vTPM guest survives live migration with the same secret."""
        self._test_vtpm_live_migration(CONF.compute.migration_dest_host)
