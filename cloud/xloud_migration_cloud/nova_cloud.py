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


"""The nova side of the embedded cloud: services, computes, fake edges.

Real: nova 34's API pipeline (keystone authtoken included), conductor,
scheduler, placement, RPC, compute manager and libvirt driver with
XloudLibvirtDriver on every compute. Fake: libvirt (nova's fakelibvirt,
guests do not run), glance, neutron and cinder (nova's fixtures).

Storage topology: hosts in the same ``storage`` group share their instance
path (live migration on shared storage); hosts in different groups have
local disks (block migration). All fake computes really share one
directory, so the driver's shared-storage probe is answered per host pair.
CPUs: every host has the fixture's default CPU, but ``old_cpu_hosts`` have
an older generation (:mod:`xloud_harness.fake_cpu`), which cannot run the
others' host-model guests.
"""

from keystoneauth1 import loading as ks_loading
import nova.conf
from oslo_utils import units

from xloud_harness import fake_cpu
from xloud_harness import nova_fakelibvirt

from xloud_migration_cloud import fake_disks

CONF = nova.conf.CONF

DEFAULT_FREE_DISK = 100 * units.Gi


class NovaCloud(fake_cpu.FakeCPUHostsMixin,
                nova_fakelibvirt.MigrationTestBase):
    """The computes of ``config``; driven without a test runner."""
    # The production setting: nova loads nova.virt.xloud (our shim).
    COMPUTE_DRIVER = 'xloud.XloudLibvirtDriver'
    LIBVIRT_MODULES = ('xloud_nova_ext.cpu.compare',)
    # Real keystonemiddleware: the API authenticates real keystone tokens.
    STUB_KEYSTONE = False

    def __init__(self, config):
        super().__init__('runTest')
        self.config = config
        self.COMPUTES = tuple(config['computes'])
        self.storage = config['storage']
        # Hosts of an older CPU generation than the others (fake_cpu).
        self.CPUS = {host: fake_cpu.NEHALEM_HOST
                     for host in config.get('old_cpu_hosts', ())}
        self.free_disk = {host: gib * units.Gi for host, gib in
                          config.get('free_disk_gib', {}).items()}

    def runTest(self):
        """Unused: nova_server serves the cloud instead of running a test."""

    def setUp(self):
        self.disks = fake_disks.FlavorDisks()
        # vTPM: computes with swtpm, keys in the real Barbican, read with
        # the requester's keystone token or as the nova service user.
        self.useFixture(nova_fakelibvirt.SwtpmHosts())
        self._use_key_manager()
        super().setUp()
        self._probe_files = {}
        for hostname in self.COMPUTES:
            self._answer_storage_probe(hostname)

    def _use_key_manager(self):
        keystone = self.config['keystone_url']
        # castellan registers [barbican]; the password plugin's options of
        # [service_user] are registered when keystoneauth loads them.
        from castellan import options as castellan_options
        castellan_options.set_defaults(CONF)
        CONF.register_opts(ks_loading.get_auth_plugin_conf_options(
            'password'), group='service_user')
        self.flags(backend='barbican', group='key_manager')
        self.flags(barbican_endpoint=self.config['barbican_url'],
                   auth_endpoint=keystone, group='barbican')
        self.flags(send_service_user_token=True, auth_type='password',
                   auth_url=keystone, username='nova',
                   password=self.config['service_password'],
                   project_name='service', user_domain_id='default',
                   project_domain_id='default', group='service_user')

    def _answer_storage_probe(self, hostname):
        """Answer nova's shared-storage probe from the storage groups.

        The destination creates a file in its instance path and the source
        looks for it; the answer says whether the two hosts share storage.
        """
        driver = self.driver(hostname)
        create = driver._create_shared_storage_test_file

        def create_probe(instance):
            filename = create(instance)
            self._probe_files[filename] = hostname
            return filename

        def check_probe(filename, instance):
            creator = self._probe_files.get(filename)
            return (creator is not None and
                    self.storage.get(creator) == self.storage.get(hostname))

        driver._create_shared_storage_test_file = create_probe
        driver._check_shared_storage_test_file = check_probe
        # No disk file exists: nova and the disk preflight read the model.
        driver._get_instance_disk_info = self.disks.disk_info
        driver._disk.fs = fake_disks.HostFilesystem(
            self.free_disk.get(hostname, DEFAULT_FREE_DISK), self.disks)
