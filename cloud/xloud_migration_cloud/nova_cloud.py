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

Workload: a guest of the flavor named :data:`DIRTY_MEMORY_FLAVOR` writes
its memory faster than a live migration copies it, so its live migration
does not converge: it stays running until nova forces it to complete
(pauses the guest, after which it ends) or aborts it (libvirt's abortJob),
as under libvirt. Every other migration ends at once.
"""

import time

import fixtures
from keystoneauth1 import loading as ks_loading
import nova.conf
from nova import context as nova_context
from nova import objects
from nova.tests.fixtures import libvirt as fakelibvirt
from oslo_utils import units

from xloud_harness import fake_cpu
from xloud_harness import nova_fakelibvirt

from xloud_migration_cloud import fake_disks

CONF = nova.conf.CONF

DEFAULT_FREE_DISK = 100 * units.Gi

#: Live migrations of this flavor's guests run until forced or aborted.
DIRTY_MEMORY_FLAVOR = 'dirty-memory'
#: ... or until this many seconds, a safety net (then they fail).
NO_CONVERGENCE_LIMIT = 300
#: libvirt's VIR_ERR_OPERATION_ABORTED (fakelibvirt lacks it).
_OPERATION_ABORTED = 78


def _flavor_of(domain):
    # fakelibvirt keeps no <metadata> in a domain's XML: ask nova's database.
    instance = objects.Instance.get_by_uuid(
        nova_context.get_admin_context(), domain.UUIDString(),
        expected_attrs=['flavor'])
    return instance.flavor.name


def _abort_job(domain):
    """libvirt's abortJob: cancels the domain's running job, if any."""
    if domain._job_type != fakelibvirt.VIR_DOMAIN_JOB_UNBOUNDED:
        raise fakelibvirt.make_libvirtError(
            fakelibvirt.libvirtError,
            'Requested operation is not valid: no job is active on the '
            'domain', error_code=fakelibvirt.VIR_ERR_OPERATION_INVALID,
            error_domain=fakelibvirt.VIR_FROM_QEMU)
    domain.xloud_abort_requested = True


def _run_until_paused_or_aborted(domain):
    """A migration that does not converge while the guest runs."""
    domain._job_type = fakelibvirt.VIR_DOMAIN_JOB_UNBOUNDED
    deadline = time.monotonic() + NO_CONVERGENCE_LIMIT
    while domain.info()[0] != fakelibvirt.VIR_DOMAIN_PAUSED:
        if getattr(domain, 'xloud_abort_requested', False):
            domain.xloud_abort_requested = False
            domain._job_type = fakelibvirt.VIR_DOMAIN_JOB_CANCELLED
            raise fakelibvirt.make_libvirtError(
                fakelibvirt.libvirtError,
                'operation aborted: migration out job: canceled by client',
                error_code=_OPERATION_ABORTED,
                error_domain=fakelibvirt.VIR_FROM_QEMU)
        if time.monotonic() > deadline:
            domain.fail_job()
            raise fakelibvirt.make_libvirtError(
                fakelibvirt.libvirtError,
                'migration did not converge in %d s' % NO_CONVERGENCE_LIMIT,
                error_code=fakelibvirt.VIR_ERR_INTERNAL_ERROR,
                error_domain=fakelibvirt.VIR_FROM_QEMU)
        time.sleep(0.2)


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
        self.useFixture(fixtures.MonkeyPatch(
            'nova.tests.fixtures.libvirt.Domain.abortJob', _abort_job))
        # nova's production default (its test fixture raises instead):
        # nova 34's schema of a running migration wants every byte count
        # >= 1, while libvirt reports 0 disk bytes for a live migration on
        # shared storage; production logs that, and answers.
        self.flags(response_validation='warn', group='api')
        self._probe_files = {}
        for hostname in self.COMPUTES:
            self._answer_storage_probe(hostname)

    def _migrate_stub(self, domain, destination, params, flags):
        if _flavor_of(domain) == DIRTY_MEMORY_FLAVOR:
            _run_until_paused_or_aborted(domain)
        super()._migrate_stub(domain, destination, params, flags)

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
