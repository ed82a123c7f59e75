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


"""The embedded multinode cloud: real keystone, nova over real HTTP, Tempest.

Everything binds to 127.0.0.1 and lives in one work directory, the
children's temporary files included (their TMPDIR is in it); stopping the
cloud, at any point of its start, stops every child process and (unless
kept) removes that directory.
"""

import contextlib
import json
import os
import shutil
import signal
import sys
import tempfile

from xloud_harness import barbican
from xloud_harness import keystone as keystone_mod
from xloud_harness import process

from xloud_migration_cloud import tempest_workspace

# The cloud's computes and how they differ: cmp1 and cmp2 share instance
# storage, cmp3 and cmp4 have local disks; cmp3 has little free disk and
# cmp4 an older CPU generation than the others.
COMPUTES = ('cmp1', 'cmp2', 'cmp3', 'cmp4')
STORAGE = {'cmp1': 'shared-a', 'cmp2': 'shared-a', 'cmp3': 'local-3',
           'cmp4': 'local-4'}
OLD_CPU_HOSTS = ('cmp4',)

# What the cloud is prepared for, in tempest.conf terms. cmp3 has only
# FREE_DISK_GIB free: a server of flavor 1 (1 GiB root, 128 MiB written)
# fits there, one of flavor 3 (40 GiB root, 5 GiB written) does not, while
# placement still counts enough DISK_GB (cloud/fake_disks.py). cmp4 cannot
# run the host-model CPU of guests started on cmp1.
FREE_DISK_GIB = {'cmp3': 2}
SCENARIO_OPTIONS = {
    'compute': {
        'migration_source_host': 'cmp1',
        'migration_dest_host': 'cmp2',
    },
    'compute-feature-enabled': {
        'block_migration_for_live_migration': True,
        'can_migrate_between_any_hosts': False,
        'vtpm_live_migration': True,
    },
    'service_available': {'barbican': True},
    'xloud_migration': {
        'shared_storage_live_migration': True,
        'block_migration_dest_host': 'cmp3',
        'disk_full_dest_host': 'cmp3',
        'disk_full_flavor': '3',
        'cpu_incompatible_dest_host': 'cmp4',
        # No concurrent_block_dest_host: the fake cloud cannot hold one
        # block migration in flight while another asks (every fake
        # migration ends at once), and cmp3's 2 GiB hold two flavor 1
        # servers' needs (128 MiB written + 256 MiB headroom each) anyway.
        # ConcurrentBlockMigrationTest runs on the real cloud only.
    },
}


def _stderr(message):
    print(message, file=sys.stderr, flush=True)


@contextlib.contextmanager
def signals_held():
    """Hold stop signals until what is made inside is known to the cloud.

    A stop that came between mkdtemp() creating the directory and
    returning its name would leave that directory behind.
    """
    signals = {signal.SIGINT, signal.SIGTERM, signal.SIGHUP}
    old = signal.pthread_sigmask(signal.SIG_BLOCK, signals)
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, old)


class CloudBase:
    """``with cloud:`` starts it and stops it, whatever happens (both clouds).

    A start that fails part-way stops what had started.
    """

    def __enter__(self):
        try:
            return self.start()
        except BaseException:
            self.stop()
            raise

    def __exit__(self, *exc):
        self.stop()

    def admin_env(self):
        """The admin's credentials as ``OS_*`` variables (an openrc's)."""
        return {'OS_AUTH_URL': self.urls['identity'], 'OS_USERNAME': 'admin',
                'OS_PASSWORD': self.ADMIN_PASSWORD, 'OS_PROJECT_NAME': 'admin',
                'OS_USER_DOMAIN_NAME': 'Default',
                'OS_PROJECT_DOMAIN_NAME': 'Default',
                'OS_IDENTITY_API_VERSION': '3'}


class EmbeddedCloud(CloudBase):

    #: What the report says runs the guests: nova's fakelibvirt.
    HYPERVISOR = 'fake'
    COMPUTE_DRIVER = 'xloud.XloudLibvirtDriver'
    ADMIN_PASSWORD = keystone_mod.ADMIN_PASSWORD

    def __init__(self, workdir=None, progress=_stderr):
        self.own_workdir = workdir is None
        self.workdir = workdir
        self.progress = progress
        self.services = []
        self.keystone = None
        self.barbican = None
        self.tempest = None
        self.urls = {}
        self.nova = None

    @property
    def tmpdir(self):
        return os.path.join(self.workdir, 'tmp')

    def _env(self, **extra):
        return dict(os.environ, TMPDIR=self.tmpdir, **extra)

    def _service(self, name, argv, port, ready_path='/', env=None,
                 timeout=60):
        service = process.Service(
            name, argv, os.path.join(self.workdir, name + '.log'), port=port,
            ready_path=ready_path, env=env or self._env(), timeout=timeout)
        self.services.append(service)
        return service.start()

    def computes(self):
        """The computes, for the report: all in the nova process here."""
        pid = self.nova.proc.pid if self.nova and self.nova.proc else None
        return [{'host': host, 'driver': self.COMPUTE_DRIVER, 'pid': pid}
                for host in COMPUTES]

    def start(self):
        if self.workdir is None:
            with signals_held():
                self.workdir = tempfile.mkdtemp(prefix='xloud-cloud-')
        os.makedirs(self.tmpdir, exist_ok=True)
        self.progress('starting keystone (sqlite, fernet) ...')
        self.keystone = keystone_mod.Keystone(self.workdir, env=self._env())
        self.keystone.start()
        ports = {name: process.free_port() for name in ('nova', 'network')}
        self.urls = {
            'identity': self.keystone.url,
            'compute': 'http://127.0.0.1:%d/v2.1' % ports['nova'],
            'network': 'http://127.0.0.1:%d' % ports['network'],
        }
        self.progress('starting Barbican (sqlite, simple_crypto, keystone '
                      'authtoken) ...')
        # In our work directory: gone with it, whenever we are stopped.
        self.barbican = barbican.BarbicanServer(keystone=(
            self.keystone.url, keystone_mod.SERVICE_PASSWORD),
            tmpdir=self.tmpdir)
        self.barbican.start()
        self.urls['key-manager'] = self.barbican.endpoint

        self.progress('seeding keystone: admin, demo, service users, '
                      'catalog ...')
        self.keystone.seed({
            'compute': ('nova', self.urls['compute']),
            'network': ('neutron', self.urls['network']),
            'key-manager': ('barbican', self.urls['key-manager'])})

        self.progress('starting the network API stub on port %d ...'
                      % ports['network'])
        self._service('network-stub', process.python_argv(
            'xloud_harness.wsgi',
            'xloud_migration_cloud.network_stub:application',
            ports['network']), ports['network'])

        self.progress('starting nova (API, conductor, scheduler, placement, '
                      '%d computes with XloudLibvirtDriver) on port %d ...'
                      % (len(COMPUTES), ports['nova']))
        config = {
            'workdir': self.workdir,
            'port': ports['nova'],
            'keystone_url': self.keystone.url,
            'barbican_url': self.urls['key-manager'],
            'service_password': keystone_mod.SERVICE_PASSWORD,
            'ready_file': os.path.join(self.workdir, 'nova.ready'),
            'free_disk_gib': FREE_DISK_GIB,
            'computes': COMPUTES,
            'storage': STORAGE,
            'old_cpu_hosts': OLD_CPU_HOSTS,
        }
        config_path = os.path.join(self.workdir, 'nova.json')
        with open(config_path, 'w') as f:
            json.dump(config, f)
        self.nova = self._service('nova', process.python_argv(
            'xloud_migration_cloud.nova_server', config_path), ports['nova'],
            timeout=180)

        self.progress('writing the Tempest workspace ...')
        self.tempest = tempest_workspace.Workspace(
            os.path.join(self.workdir, 'tempest')).init()
        self.tempest.write_conf(tempest_workspace.cloud_sections(
            self.keystone.url, len(COMPUTES), extra=SCENARIO_OPTIONS))
        return self

    def stop(self):
        """Stop whatever has started so far and remove what it wrote."""
        try:
            for service in reversed(self.services):
                service.stop()
            self.services = []
            if self.barbican:
                self.barbican.stop()
                self.barbican = None
            if self.keystone:
                self.keystone.stop()
        finally:
            if self.workdir:
                shutil.rmtree(self.workdir if self.own_workdir
                              else self.tmpdir, ignore_errors=True)
