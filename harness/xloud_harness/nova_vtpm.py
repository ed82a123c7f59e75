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

"""vTPM servers in nova's functional harness, their secrets in Barbican.

:class:`VTPMMigrationTestBase` adds to :mod:`xloud_harness.nova_fakelibvirt`
what vTPM moves need: computes that offer a vTPM, nova's key manager on a
real Barbican server (:mod:`xloud_harness.barbican`), a normal user who
owns the servers and their secrets, and fakelibvirt migrating a vTPM guest
only where its libvirt secret is defined, as libvirt does. Any
``COMPUTE_DRIVER``: the functional tests run ours, the benchmarks nova's
too.
"""

from urllib import parse

from nova import context as nova_context
from nova import objects
from nova.tests.fixtures import libvirt as fakelibvirt
from nova.tests.functional.api import client

from xloud_harness import barbican
from xloud_harness import nova_fakelibvirt


class VTPMMigrationTestBase(nova_fakelibvirt.MigrationTestBase):
    """vTPM servers of a normal user; 'dest' starts after the first boot.

    nova places the first server on 'src', the only compute then.
    """

    COMPUTES = ('src',)
    USER_PROJECT = 'vtpm-owner-project'

    def start_barbican(self):
        """The Barbican server; override to skip where it cannot start."""
        return barbican.shared_server()

    def setUp(self):
        self.barbican = self.start_barbican()
        self.useFixture(nova_fakelibvirt.SwtpmHosts())
        self.servers = []
        super().setUp()
        self.key_manager = self.useFixture(
            barbican.NovaKeyManagerFixture(self.barbican))
        self.user_api = self.api_as('owner', self.USER_PROJECT,
                                    ['reader', 'member'])
        # nova's API fixture makes only the user named 'admin' an admin.
        self.other_admin_api = self.api_as('admin', 'admin-project',
                                           ['reader', 'member', 'admin'])

    def api_as(self, user, project, roles):
        api = client.TestOpenStackClient(
            user, self.api.base_url, project_id=project, roles=roles)
        api.microversion = 'latest'
        return api

    def _migrate_stub(self, domain, destination, params, flags):
        """As libvirt: a vTPM guest needs its secret on the destination."""
        dest = self.driver(parse.urlparse(destination).hostname)._host
        uuid = domain.UUIDString()
        instance = objects.Instance.get_by_uuid(
            nova_context.get_admin_context(), uuid)
        if 'vtpm_secret_uuid' in instance.system_metadata:
            secret = dest.find_secret('vtpm', uuid)
            if secret is None:
                raise fakelibvirt.make_libvirtError(
                    fakelibvirt.libvirtError, 'Secret not found',
                    error_code=fakelibvirt.VIR_ERR_NO_SECRET,
                    error_domain=fakelibvirt.VIR_FROM_SECRET)
        super()._migrate_stub(domain, destination, params, flags)

    def boot_vtpm(self, security, host='src'):
        """A server of the user with a vTPM in ``security`` mode."""
        extra_specs = {'hw:tpm_model': 'tpm-crb', 'hw:tpm_version': '2.0',
                       'hw:tpm_secret_security': security}
        flavor_id = self._create_flavor(extra_spec=extra_specs)
        server = self._create_server(flavor_id=flavor_id, networks='none',
                                     api=self.user_api)
        self.assertEqual(host, self.admin_api.get_server(server['id'])[
            'OS-EXT-SRV-ATTR:host'])
        if 'dest' not in self.computes:
            self.start_compute('dest', host_info=self.host_info('dest'))
        self.servers.append(server)
        return server

    def owner_context(self, project=None):
        """A request context of the servers' owner."""
        return nova_context.RequestContext(
            user_id='owner', project_id=project or self.USER_PROJECT,
            roles=['reader', 'member'])
