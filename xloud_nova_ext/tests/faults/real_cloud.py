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


"""The real cloud the hypervisor fault cases share, and what they see of it.

One :class:`~xloud_migration_cloud.real.cloud.RealCloud` per run, started
by the first case that needs it and stopped by :func:`stop` (the runner
calls it once every case has run): one bring-up for all the cases.

The cases drive nova through its API as the cloud's admin, and look at
each host from the host itself: its libvirtd (domains, secrets), its
instances directory (entered with the host's namespaces) and its
nova-compute's log (the disk preflight's reservations live in that
process: each "Reserved" line must have its "Released" line).
"""

import os
import re
import signal
import subprocess

import libvirt
import libvirt_qemu
from lxml import etree as lxml_etree

from xloud_harness import poll
from xloud_harness import process
from xloud_migration_cloud.real import admin

from xloud_nova_ext.tests.faults import case

TERMINAL = admin.TERMINAL
MIB = 2 ** 20
#: The other writer's file on a host's instances filesystem.
FILLER = 'xloud-fault-filler'

_cloud = None
_start_error = None


def get():
    """The running cloud, started on first use (about 100-150 s).

    The runner stops it once every case has run (case.AT_END). A cloud
    that failed to start is not tried again: later cases fail at once.
    """
    global _cloud, _start_error
    if _start_error is not None:
        raise AssertionError('the real cloud did not start: %s'
                             % _start_error)
    if _cloud is None:
        from xloud_migration_cloud.real import cloud
        # Its logs are kept there when XLOUD_FAULTS_WORKDIR is set.
        started = cloud.RealCloud(
            workdir=os.environ.get('XLOUD_FAULTS_WORKDIR') or None,
            progress=lambda m: None)
        case.AT_END.append(stop)
        try:
            started.start()
        except BaseException as e:
            _start_error = e
            started.stop()
            raise
        _cloud = Cloud(started)
    return _cloud


def stop():
    """Stop the cloud if a case started it."""
    global _cloud
    if _cloud is not None:
        cloud, _cloud = _cloud, None
        cloud.real.stop()


def unavailable():
    """Why this machine cannot run the real cloud, or None."""
    try:
        from xloud_migration_cloud.real import layout
    except ImportError as e:
        return 'the real cloud (cloud/) is not installed: %s' % e
    return layout.unavailable()


class Cloud(admin.Admin):
    """The admin's view of the running real cloud, and its hosts'."""

    def __init__(self, real):
        super().__init__(real)
        self.hosts = {h.name: h for h in real.hosts}

    # The hosts themselves

    def libvirt(self, host):
        return libvirt.open(self.hosts[host].uri)

    def domain(self, host, server_id):
        """Host ``host``'s libvirt domain of the server, or None."""
        conn = self.libvirt(host)
        try:
            return conn.lookupByUUIDString(server_id)
        except libvirt.libvirtError as e:
            if e.get_error_code() == libvirt.VIR_ERR_NO_DOMAIN:
                return None
            raise
        finally:
            conn.close()

    def running_on(self, hosts, server_id):
        """Those of ``hosts`` where the server's guest runs."""
        return [h for h in hosts
                if (self.domain(h, server_id) or _NoDomain).isActive()]

    def in_host(self, host, script, check=True):
        """Run shell ``script`` inside host ``host``'s namespaces."""
        proc = subprocess.run(
            self.hosts[host].enter_argv() + ['sh', '-c', script],
            capture_output=True, text=True, timeout=120)
        if check and proc.returncode:
            raise AssertionError('%s: %r exited %d: %s' % (
                host, script, proc.returncode, proc.stderr.strip()))
        return proc.stdout

    def instance_files(self, host, server_id):
        """The server's files in host ``host``'s instances directory."""
        from xloud_migration_cloud.real import layout
        out = self.in_host(host, 'cd %s && ls -d %s* 2>/dev/null' % (
            layout.INSTANCES_PATH, server_id), check=False)
        return out.split()

    def shares_storage(self, one, other):
        return (self.hosts[one].spec.storage == 'shared' ==
                self.hosts[other].spec.storage)

    def secrets(self, host, server_id):
        """Host ``host``'s libvirt secrets that name the server."""
        conn = self.libvirt(host)
        try:
            return [s.UUIDString() for s in conn.listAllSecrets()
                    if server_id in (s.usageID() or '') + s.XMLDesc()]
        finally:
            conn.close()

    def reservations(self, host, server_id):
        """Disk reservations host ``host``'s nova-compute holds for it.

        Its log's "Reserved" lines for the server minus its "Released"
        lines (both INFO, written by the disk preflight).
        """
        with open(self.hosts[host].nova_log, errors='replace') as f:
            log = f.read()
        reserved = len(re.findall(
            r'\[instance: %s\] Reserved .* for the block migration' %
            server_id, log))
        released = len(re.findall(
            r'Released the .* reserved for the block migration of '
            r'instance %s' % server_id, log))
        return reserved - released

    def leftovers(self, server_id, where, hosts):
        """{host: text} of what the server left where it does not run."""
        out = {}
        for host in hosts:
            items = []
            if host != where:
                if self.domain(host, server_id) is not None:
                    items.append('domain')
                if self.secrets(host, server_id):
                    items.append('libvirt secret')
                files = self.instance_files(host, server_id)
                if files and not self.shares_storage(host, where):
                    items.append('files %s' % ' '.join(files))
            reserved = self.reservations(host, server_id)
            if reserved:
                items.append('%d disk reservation(s)' % reserved)
            out[host] = ', '.join(items)
        return out

    # Making a migration last, and seeing where it is

    def restart_libvirtd(self, host):
        """Kill host ``host``'s libvirtd (SIGKILL), start it again.

        As its service manager would (systemd: ``Restart=on-failure``).
        Returns the killed pid.
        """
        daemon = self.hosts[host].daemon
        killed = daemon.pid()
        os.kill(killed, signal.SIGKILL)
        process.wait_gone([killed], 10)
        daemon.start()
        return killed

    def wait_compute_up(self, host, timeout=120):
        """Wait until nova sees host ``host``'s compute up and enabled."""
        def up():
            services = self.api('GET', '/os-services', params={
                'binary': 'nova-compute', 'host': host})['services']
            return [s for s in services
                    if s['state'] == 'up' and s['status'] == 'enabled']
        return poll.wait_until(up, timeout, 2, what='nova-compute of %s up '
                               'and enabled' % host)

    def slow_down(self, host, server_id, mib_per_s):
        """Cap the server's migration bandwidth on its source ``host``.

        libvirt's per-domain cap (``virsh migrate-setspeed``): nova
        passes no bandwidth of its own (``live_migration_bandwidth = 0``),
        so libvirt applies this one to the memory and the disk copy.
        """
        self.domain(host, server_id).migrateSetMaxSpeed(mib_per_s)

    def wait_copied(self, host, server_id, field, at_least, timeout=120):
        """Wait until the running migration's ``field`` reached a figure.

        ``field`` is one of libvirt's job statistics on the source
        (``memory_processed``, ``disk_processed``); returns them.
        """
        def copied():
            stats = self.domain(host, server_id).jobStats()
            if stats.get(field, 0) >= at_least:
                return stats
            migration = self.migration(server_id)
            if migration and migration['status'] in TERMINAL:
                raise AssertionError(
                    'the migration ended (%s) before %s reached %d: %s' % (
                        migration['status'], field, at_least, stats))
            return None
        return poll.wait_until(copied, timeout, 0.2,
                               what='%s >= %d' % (field, at_least))

    def guest_writes(self, host, server_id, offset, length):
        """Write ``length`` bytes into the running guest's disk.

        Through QEMU's own block layer (its monitor's ``qemu-io``), as the
        guest would: the data lands in the top image, which a block
        migration copies.
        """
        domain = self.domain(host, server_id)
        alias = lxml_etree.fromstring(domain.XMLDesc()).xpath(
            '//devices/disk[@device="disk"]/alias/@name')[0]
        # The virtio-blk device inside the PCI proxy that libvirt names.
        out = libvirt_qemu.qemuMonitorCommand(
            domain, 'qemu-io -d %s/virtio-backend "write -P 0x5a %d %d"' % (
                alias, offset, length),
            libvirt_qemu.VIR_DOMAIN_QEMU_MONITOR_COMMAND_HMP)
        # It prints its errors here (its figures go to QEMU's stdout).
        if out.strip():
            raise AssertionError('qemu-io on %s: %s' % (host, out))

    def fill(self, host):
        """Another writer takes every free byte of the instances fs.

        Root's reserve included (QEMU runs as root there); returns the
        bytes taken.
        """
        from xloud_migration_cloud.real import layout
        path = os.path.join(layout.INSTANCES_PATH, FILLER)
        out = self.in_host(host, 'stat -f -c "%%f %%S" %s'
                           % layout.INSTANCES_PATH)
        free_blocks, block = map(int, out.split())
        size = free_blocks * block
        # Less a little at a time: the file's own metadata takes blocks.
        while size > 0:
            out = self.in_host(host, 'fallocate -l %d %s && echo ok' % (
                size, path), check=False)
            if 'ok' in out:
                return size
            size -= MIB
        raise AssertionError('cannot fill %s of %s' % (path, host))

    def unfill(self, host):
        from xloud_migration_cloud.real import layout
        self.in_host(host, 'rm -f %s' % os.path.join(
            layout.INSTANCES_PATH, FILLER))

    def _drop_rules(self, peer):
        ip = self.hosts[peer].spec.ip
        return ('INPUT -s %s -j DROP' % ip, 'OUTPUT -d %s -j DROP' % ip)

    def cut_network(self, host, peer):
        """Host ``host`` drops every packet from and to ``peer``.

        The control plane stays reachable: only the path between the two
        hosts (libvirt's connection and QEMU's migration stream) is cut.
        """
        for rule in self._drop_rules(peer):
            self.in_host(host, 'iptables -I ' + rule)

    def restore_network(self, host, peer):
        for rule in self._drop_rules(peer):
            self.in_host(host, 'while iptables -D %s 2>/dev/null; do :; '
                         'done' % rule)


class _NoDomain(object):
    """A domain a host does not have: not running."""

    @staticmethod
    def isActive():
        return False
