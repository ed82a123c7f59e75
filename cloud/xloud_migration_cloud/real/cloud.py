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

"""The real cloud: nova on real libvirt and QEMU, on this machine.

What runs (real) and what stands in (named as such):

- real: MariaDB and RabbitMQ (Debian's), keystone, placement, glance (file
  store), Barbican (the vTPM secrets), nova's API, conductor and scheduler,
  six compute hosts each with its own libvirtd, QEMU (TCG), swtpm and an
  unmodified ``nova-compute``; the guest (a Linux kernel and a busybox init
  printing a heartbeat, on a bootable disk image in glance).
- stand-ins: the network API (a stub: servers boot without ports), ``sudo``
  and ``ssh`` between hosts (shims, see :mod:`.hosts`), the shared
  instances directory's filesystem type (bindfs disguised as GlusterFS for
  libvirt's check; the files really are shared).

The hosts (layout.HOSTS): xlc-a and xlc-b (Xloud driver) share their
instances directory; xlc-c (Xloud) has a small ext4 of its own with
layout.SMALL_FREE_MB free: enough for a block migration of the heartbeat
guest's thin disk, not for the same disk allocated in full on xlc-d (Xloud,
``preallocate_images = space``): the disk refusal is real; xlc-e (Xloud)
has a QEMU that really lacks ``popcnt``, which the guests' Nehalem CPU
needs (its own guests run Penryn): the CPU refusal is real; xlc-s runs
nova's stock ``libvirt.LibvirtDriver``.
"""

import datetime
import os
import shutil
import tempfile

import libvirt

from xloud_harness.heartbeat import disk as heartbeat_disk
from xloud_harness import libvirtd
from xloud_harness import lock
from xloud_harness import mounts
from xloud_harness import poll
from xloud_harness import process

from xloud_migration_cloud import cloud as fake_cloud
from xloud_migration_cloud.real import control
from xloud_migration_cloud.real import figures as figures_mod
from xloud_migration_cloud.real import hosts as hosts_mod
from xloud_migration_cloud.real import layout
from xloud_migration_cloud.real import network
from xloud_migration_cloud.real import sweep
from xloud_migration_cloud import tempest_workspace

COMPUTE_TIMEOUT = 300
FLAVORS = {
    # id: (name, MiB, vCPUs, root GiB)
    'xl1': ('xloud.tiny', 128, 1, 1),
    'xl2': ('xloud.tiny-alt', 160, 1, 1),
}
SCENARIO_OPTIONS = {
    'compute': {
        'migration_source_host': 'xlc-a',
        'migration_dest_host': 'xlc-b',
        'flavor_ref': 'xl1',
        'flavor_ref_alt': 'xl2',
        # TCG on a shared 2-core machine: boots take seconds, not ms.
        'build_timeout': 300,
        'build_interval': 2,
    },
    'compute-feature-enabled': {
        'block_migration_for_live_migration': True,
        'can_migrate_between_any_hosts': False,
        'console_output': True,
        'vtpm_live_migration': True,
    },
    'service_available': {'barbican': True},
    'xloud_migration': {
        'shared_storage_live_migration': True,
        'block_migration_dest_host': 'xlc-c',
        # xlc-d preallocates: its server's 1 GiB disk does not fit on xlc-c.
        'disk_full_source_host': 'xlc-d',
        'disk_full_dest_host': 'xlc-c',
        # xlc-c keeps room for one block migration of an xl1 server from
        # xlc-a (thin disks), not two (layout.SMALL_FREE_MB).
        'concurrent_block_source_host': 'xlc-a',
        'concurrent_block_dest_host': 'xlc-c',
        # xlc-e's QEMU lacks popcnt: xlc-a's Nehalem guests cannot run there.
        'cpu_incompatible_dest_host': 'xlc-e',
        # The guest prints the heartbeat: never move it while it boots.
        'heartbeat_before_move_timeout': 120,
    },
}


def _nothing_left(host, server):
    """The check that a refused move left nothing on its destination."""
    try:
        left = host.traces_of(server)
    except (libvirt.libvirtError, process.CommandError) as e:
        return {'name': 'nothing-left-on-destination', 'ok': False,
                'evidence': 'Cannot look on %s: %s' % (host.name, e)}
    return {'name': 'nothing-left-on-destination', 'ok': not left,
            'evidence': 'Host %s holds %s of server %s after the refusal.'
            % (host.name, ', '.join(left), server) if left else
            'Host %s holds no domain, libvirt secret, instance directory '
            'or vTPM state of server %s (looked on the host).'
            % (host.name, server)}


class RealCloud(fake_cloud.CloudBase):

    HYPERVISOR = 'libvirt'
    ADMIN_PASSWORD = control.ADMIN_PASSWORD

    def __init__(self, workdir=None, progress=None, hosts=None,
                 drivers=None):
        """``hosts``: names of the layout.HOSTS to start (default all).

        ``drivers``: {host name: compute_driver} instead of the layout's
        (a benchmark compares drivers on the same hosts).
        """
        self.own_workdir = workdir is None
        self.workdir = workdir
        self.progress = progress or (lambda m: print(m, flush=True))
        self._lock = lock.MachineLock(layout.LOCK_FILE)
        self.control = None
        self.ctx = None
        self.specs = [spec._replace(driver=(drivers or {}).get(
            spec.name, spec.driver)) for spec in layout.HOSTS
            if hosts is None or spec.name in hosts]
        self.hosts = []
        self.tempest = None
        self.urls = {}

    def extra_runs(self):
        """The rolling install: moves between Xloud and stock computes.

        Block live migrations and vTPM live migrations between an Xloud
        compute and the stock one, both ways: [(label, tempest.conf,
        regex)].
        """
        block = ('test_live_migration.BlockLiveMigrationTest.'
                 'test_live_migration_to_requested_host')
        vtpm = ('test_vtpm_live_migration.VTPMLiveMigrationTest.'
                'test_vtpm_live_migration_keeps_secret')
        runs = []
        for kind, regex, option in (
                ('block', block, ('xloud_migration',
                                  'block_migration_dest_host')),
                ('vTPM', vtpm, ('compute', 'migration_dest_host'))):
            for label, source, dest in (
                    ('Xloud xlc-a to stock xlc-s', 'xlc-a', 'xlc-s'),
                    ('stock xlc-s to Xloud xlc-c', 'xlc-s', 'xlc-c')):
                options = {'compute': {'migration_source_host': source}}
                options.setdefault(option[0], {})[option[1]] = dest
                conf = self.tempest.write_variant(
                    '%s-%s-%s' % (kind.lower(), source, dest), options)
                runs.append(('%s, %s' % (kind, label), conf, regex))
        return runs

    @property
    def users(self):
        """Who may log in, for ``--keep``."""
        return 'admin / %s, project admin' % control.ADMIN_PASSWORD

    def migration_figures(self, report):
        """What only this cloud knows of one move (for the report).

        QEMU's downtime of a live migration, from the statistics line its
        source's XloudLibvirtDriver logged; for a refused move, a check
        that its destination holds nothing of the server (run after the
        scenarios: the server is gone, so anything left is a leftover).
        """
        hosts = {h.name: h for h in self.hosts}
        server = report.get('server')
        if not server:
            return None
        figures = {}
        dest = hosts.get(report.get('requested_host'))
        if report.get('refusal') and dest is not None:
            figures['checks'] = [_nothing_left(dest, server)]
        source = hosts.get(report.get('source'))
        if source is not None and report.get('kind') == 'live-migration':
            stats = figures_mod.for_instance(source.nova_log, server)
            if stats:
                figures['qemu_downtime_ms'] = stats.get('qemu_downtime_ms')
        return figures or None

    def computes(self):
        return [{'host': h.name, 'driver': h.spec.driver, 'pid': h.nova_pid}
                for h in self.hosts]

    @staticmethod
    def pids():
        """Every process of the cloud now (for its memory figures)."""
        return sweep.cloud_pids()

    def start(self):
        """Start it all; a failure to start is a ServiceError naming it."""
        try:
            return self._start()
        except (process.CommandError, poll.WaitTimeout, lock.LockTimeout,
                libvirtd.DaemonError, sweep.CleanupError) as e:
            raise process.ServiceError(str(e)) from e

    def _start(self):
        if self.workdir is None:
            with fake_cloud.signals_held():
                self.workdir = tempfile.mkdtemp(prefix='xloud-real-cloud-')
        os.makedirs(self.workdir, exist_ok=True)
        self.progress('removing what an earlier real cloud left ...')
        self._lock.acquire(600)
        sweep.clean_machine()
        for path in (layout.WORK_DIR, layout.NS_DIR, layout.LOOP_DIR,
                     layout.SHARED_INSTANCES):
            os.makedirs(path, exist_ok=True)
        mounts.make_private_bind(layout.NS_DIR)
        sweep.create_runtime_dirs()
        network.add_bridge()
        self.progress('hosts %s: namespaces, storage, libvirtd ...' % ', '
                      .join(s.name for s in self.specs))
        hosts_mod.write_shims()
        self.control = control.ControlPlane(
            os.path.join(layout.WORK_DIR, 'control'), self.progress)
        self.hosts = [hosts_mod.ComputeHost(spec) for spec in self.specs]
        for host in self.hosts:
            host.prepare()
            host.create_namespaces()
            if host.spec.storage == 'small':
                host.leave_free(layout.SMALL_FREE_MB)
            host.start_libvirtd()
        ctx = self.ctx = self.control.start()
        self.urls = dict(ctx['urls'])
        for host in self.hosts:
            host.write_nova_conf(ctx)
            host.wait_libvirtd()
            host.start_nova_compute()
        self.progress('guest images and flavors ...')
        session = self.control.admin_session()
        images = self._upload_guest(session)
        self._flavors(session)
        self.progress('waiting for the %d computes to be up in nova ...'
                      % len(self.hosts))
        self._wait_computes(session)
        self.progress('writing the Tempest workspace ...')
        self._tempest(images)
        return self

    def _upload_guest(self, session):
        """The heartbeat guest's boot disk, twice (image_ref and _alt)."""
        disk = heartbeat_disk.build_disk(disk_format='qcow2')
        glance = self.urls['image']
        ids = []
        for name in ('xloud-heartbeat', 'xloud-heartbeat-alt'):
            image = session.post(glance + '/v2/images', json={
                'name': name, 'disk_format': disk.disk_format,
                'container_format': 'bare', 'visibility': 'public',
                # Its init ignores ACPI: a clean shutdown (cold migration)
                # would wait nova's 60 s for nothing before powering off.
                'os_shutdown_timeout': '0'}).json()
            with open(disk.path, 'rb') as f:
                session.put(glance + '/v2/images/%s/file' % image['id'],
                            data=f, headers={
                                'Content-Type': 'application/octet-stream'})
            ids.append(image['id'])
        return ids

    def _flavors(self, session):
        for flavor_id, (name, ram, vcpus, disk) in FLAVORS.items():
            session.post(self.urls['compute'] + '/flavors', json={'flavor': {
                'id': flavor_id, 'name': name, 'ram': ram, 'vcpus': vcpus,
                'disk': disk}})

    def set_driver(self, names, driver):
        """Restart the nova-compute of hosts ``names`` with ``driver``.

        Their guests keep running (nova-compute owns no QEMU process).
        Returns once nova hears from every restarted compute again: a
        service report newer than the restart comes after its RPC server
        started.
        """
        hosts = [h for h in self.hosts if h.name in names]
        for host in hosts:
            host.stop_nova_compute()
        # Only reports of the new processes count: the old ones report
        # until they exit (nova's graceful shutdown), and nova keeps whole
        # seconds.
        since = datetime.datetime.utcnow().replace(
            microsecond=0) + datetime.timedelta(seconds=1)
        for host in hosts:
            host.spec = host.spec._replace(driver=driver)
            host.write_nova_conf(self.ctx)
            host.start_nova_compute()
        session = self.control.admin_session()

        def reported():
            self._check_computes_run(hosts)
            found = session.get(self.urls['compute'] + '/os-services',
                                params={'binary': 'nova-compute'}).json()
            fresh = {s['host'] for s in found['services']
                     if s['state'] == 'up' and s['updated_at'] and
                     datetime.datetime.fromisoformat(
                         s['updated_at']) > since}
            return {h.name for h in hosts} <= fresh
        poll.wait_until(reported, COMPUTE_TIMEOUT, 0.5,
                        what='restarted computes %s reporting'
                        % ', '.join(names))

    def _check_computes_run(self, hosts):
        for host in hosts:
            if host.nova.poll() is not None:
                raise process.ServiceError(
                    'nova-compute of %s exited with status %s; log: %s'
                    % (host.name, host.nova.returncode, host.nova_log))

    def _wait_computes(self, session):
        names = {h.name for h in self.hosts}

        def all_up():
            self._check_computes_run(self.hosts)
            found = session.get(
                self.urls['compute'] + '/os-hypervisors/detail',
                headers={'OpenStack-API-Version': 'compute 2.88'}).json()
            up = {h['service']['host'] for h in found['hypervisors']
                  if h['state'] == 'up' and h['status'] == 'enabled'}
            return names <= up
        try:
            poll.wait_until(all_up, COMPUTE_TIMEOUT, 2,
                            what='computes up in nova')
        except poll.WaitTimeout:
            raise process.ServiceError(
                'computes not all up in nova within %d s; logs: %s' % (
                    COMPUTE_TIMEOUT, ', '.join(h.nova_log
                                               for h in self.hosts)))

    def _tempest(self, images):
        self.tempest = tempest_workspace.Workspace(
            os.path.join(self.workdir, 'tempest')).init()
        sections = tempest_workspace.cloud_sections(
            self.urls['identity'], len(self.hosts), extra=SCENARIO_OPTIONS)
        sections['auth']['admin_password'] = control.ADMIN_PASSWORD
        sections['compute']['image_ref'] = images[0]
        sections['compute']['image_ref_alt'] = images[1]
        sections['service_available']['neutron'] = True
        self.tempest.write_conf(sections)

    def stop(self):
        """Stop everything and remove it all.

        The logs are kept in the work directory when the caller gave one.
        Stopped before it held the machine's lock (waiting for another
        run's cloud, or timed out), it touches nothing of that cloud.
        """
        if not self._lock.held:
            if self.own_workdir and self.workdir:
                shutil.rmtree(self.workdir, ignore_errors=True)
            return
        try:
            if self.control:
                self.control.stop()
            if not self.own_workdir and os.path.isdir(layout.WORK_DIR):
                self._keep_logs()
            sweep.clean_machine()
        finally:
            for host in self.hosts:
                host.reap()
            self._lock.release()
            if self.own_workdir and self.workdir:
                shutil.rmtree(self.workdir, ignore_errors=True)

    def _keep_logs(self):
        dest = os.path.join(self.workdir, 'logs')
        os.makedirs(dest, exist_ok=True)
        logs = os.path.join(layout.WORK_DIR, 'control', 'logs')
        if os.path.isdir(logs):
            for name in os.listdir(logs):
                shutil.copy(os.path.join(logs, name), dest)
        barbican = self.control and self.control.barbican
        if barbican and barbican.workdir and os.path.exists(
                barbican.log_path):
            shutil.copy(barbican.log_path, os.path.join(dest,
                                                        'barbican-api.log'))
        for host in self.hosts:
            for src in (host.nova_log, os.path.join(
                    host.root, 'var/log/libvirt/libvirtd.log')):
                if os.path.exists(src):
                    shutil.copy(src, os.path.join(dest, '%s-%s' % (
                        host.name, os.path.basename(src))))
