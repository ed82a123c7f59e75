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

"""The compute hosts: namespaces, storage, libvirtd, ``nova-compute``.

Each host is a network, mount and UTS namespace of this machine on the
cloud's bridge, with its own copy of libvirt's directories and /etc/hosts,
its own libvirtd (pinned to one CPU, under the harness's subreaper) and an
unmodified ``nova-compute`` (nova's console script) entered into the same
namespaces with ``nsenter``, so that its ``instances_path`` and libvirt
socket are that host's.

Instance storage (``[DEFAULT] instances_path``) per layout.HostSpec:

``shared``
    One real directory for every such host, mounted in each with ``bindfs
    -o subtype=glusterfs``. A DISGUISE, for libvirt's sake only: libvirt
    refuses a live migration without disk copy unless the disks are on a
    filesystem it knows as shared (NFS, GlusterFS, ...), and this kernel
    has no NFS. The files really are shared (one directory), so nova's own
    shared-storage check passes for real; bindfs reports the FUSE subtype
    ``glusterfs``, which libvirt counts as a cluster filesystem.
``small``
    A real ext4 filesystem of layout.SMALL_FS_MB on a loop device (sparse
    backing file below layout.LOOP_DIR), where a ballast file (fallocated,
    so it writes nothing) leaves layout.SMALL_FREE_MB free: the free space
    is real, so the disk preflight refuses for real, while placement counts
    the filesystem's whole size.
``local``
    A private directory (the machine's filesystem).

A host of layout.LACKING_HOSTS runs QEMU through
:mod:`xloud_harness.lacking_qemu`'s wrapper, bind-mounted over QEMU in its
mount namespace only: every guest QEMU started there really lacks the
features, and its libvirt says so (its capability cache edited once, then
kept in layout.LACKING_QEMU_CACHE).

Neither ``sudo`` nor ``ssh`` exist between the hosts; small shims in the
computes' PATH stand in: ``sudo`` runs the command (nova runs as root here,
with ``[workarounds] disable_rootwrap``), ``ssh HOST CMD`` runs CMD inside
host HOST's namespaces (nova copies disks with rsync over it).
"""

import os
import shlex
import subprocess

import libvirt

from xloud_harness import lacking_qemu
from xloud_harness import libvirtd
from xloud_harness import mounts
from xloud_harness import poll
from xloud_harness import process
from xloud_harness import qemucaps

from xloud_migration_cloud.real import configs
from xloud_migration_cloud.real import control
from xloud_migration_cloud.real import layout
from xloud_migration_cloud.real import network

SHIM_DIR = os.path.join(layout.WORK_DIR, 'bin')

SUDO_SHIM = '''#!/bin/sh
# The real cloud's sudo: nova runs as root there; run the command itself.
exec "$@"
'''

SSH_SHIM = '''#!/bin/sh
# The real cloud's ssh: its hosts are namespaces of this machine.
# "ssh [OPTIONS] HOST COMMAND..." runs COMMAND with sh inside HOST.
while [ $# -gt 0 ]; do
    case "$1" in
        -[bcDEeFIiJLlmOopQRSWw]) shift 2 ;;
        -*) shift ;;
        *) break ;;
    esac
done
case "${1#*@}" in
%(cases)s
    *) echo "ssh: unknown host $1" >&2; exit 255 ;;
esac
shift
holder=$(cat %(work)s/hosts/$host/holder.pid) || exit 255
# By the holder's pid: inside a host, the namespace files are not mounted.
exec nsenter --target "$holder" --net --uts --mount -- sh -c "$*"
'''


def write_shims():
    os.makedirs(SHIM_DIR, exist_ok=True)
    cases = '\n'.join('    %s|%s) host=%s ;;' % (s.name, s.ip, s.name)
                      for s in layout.HOSTS)
    for name, text in (('sudo', SUDO_SHIM), ('ssh', SSH_SHIM % {
            'cases': cases, 'work': layout.WORK_DIR})):
        path = os.path.join(SHIM_DIR, name)
        with open(path, 'w') as f:
            f.write(text)
        os.chmod(path, 0o755)


class ComputeHost:

    def __init__(self, spec):
        self.spec = spec
        self.name = spec.name
        self.root = layout.host_dir(spec.name)
        self.daemon = libvirtd.Daemon(self.root, self.enter_argv)
        self.uri = 'qemu+unix:///system?socket=%s' % self.daemon.socket
        self.holder = None
        self.nova = None
        self.loop_device = None
        #: CPU features this host's QEMU lacks.
        self.lacking = layout.LACKING_HOSTS.get(spec.name, ((), None))[0]
        self.qemu_wrapper = None

    @property
    def nova_log(self):
        return os.path.join(self.root, 'nova-compute.log')

    def enter_argv(self):
        pid = process.read_pid(layout.holder_pid_file(self.name))
        return ['nsenter', '--net=' + layout.ns_file(self.name, 'net'),
                '--uts=' + layout.ns_file(self.name, 'uts'),
                '--mount=/proc/%d/ns/mnt' % pid, '--']

    def prepare(self):
        for path in layout.PRIVATE_DIRS + (layout.INSTANCES_PATH,):
            os.makedirs(self.root + path, exist_ok=True)
        for sub in ('nova/state', 'nova/locks'):
            os.makedirs(os.path.join(self.root, sub), exist_ok=True)
        libvirtd.write_config(
            self.root, self.name, self.spec.ip, layout.host_uuid(self.name),
            [(layout.CONTROL_HOST, layout.CONTROL_IP)] +
            [(s.name, s.ip) for s in layout.HOSTS])
        # libvirt checks a warm cache and keeps it: no 8 s QEMU probe.
        caps = qemucaps.load_warm()
        if self.lacking:
            cache = layout.lacking_qemu_dir(self.lacking)
            self.qemu_wrapper = lacking_qemu.install(cache, self.lacking)
            caps = qemucaps.read(os.path.join(cache, 'capabilities')) or caps
        qemucaps.write(self.caps_dir, caps)

    @property
    def caps_dir(self):
        return self.root + qemucaps.CAPS_DIR

    def write_nova_conf(self, ctx):
        """nova-cpu.conf, once the control plane's addresses are known."""
        path = os.path.join(self.root, 'nova', 'nova-cpu.conf')
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, 'w') as f:
            f.write(configs.ini(configs.nova_compute(ctx, self.spec,
                                                     self.root)))

    def _storage_script(self):
        target = shlex.quote(layout.INSTANCES_PATH)
        if self.spec.storage == 'shared':
            return ['bindfs -o subtype=glusterfs,fsname=xloud-shared-'
                    'instances %s %s' % (shlex.quote(
                        layout.SHARED_INSTANCES), target)]
        if self.spec.storage == 'small':
            image = os.path.join(layout.LOOP_DIR, self.name + '.img')
            mounts.make_fs_image(image, layout.SMALL_FS_MB)
            self.loop_device = mounts.attach_loop(image)
            return ['mount %s %s' % (self.loop_device, target)]
        return []

    def create_namespaces(self):
        files = [layout.ns_file(self.name, k) for k in ('net', 'uts')]
        for path in files:
            open(path, 'w').close()
        binds = [(self.root + p, p)
                 for p in layout.PRIVATE_DIRS + layout.PRIVATE_FILES]
        if self.qemu_wrapper:
            binds.append((self.qemu_wrapper, lacking_qemu.QEMU))
        script = ['set -e', 'ip link set lo up', 'hostname ' + self.name]
        script += ['mount --bind %s %s' % (shlex.quote(s), shlex.quote(t))
                   for s, t in binds]
        script += self._storage_script()
        # No host keeps the others' namespace files alive.
        script += ['umount --lazy %s' % shlex.quote(layout.NS_DIR),
                   'echo $$ > %s' % layout.holder_pid_file(self.name),
                   'exec sleep infinity']
        log = os.path.join(self.root, 'setup.log')
        with open(log, 'ab') as out:
            process.start_child(
                ['unshare', '--net=' + files[0], '--uts=' + files[1],
                 '--mount', '--propagation', 'private', '--', 'sh', '-c',
                 '\n'.join(script)], lambda p: setattr(self, 'holder', p),
                stdin=subprocess.DEVNULL, stdout=out, stderr=out,
                start_new_session=True)

        def holding():
            if process.read_pid(layout.holder_pid_file(self.name)) == \
                    self.holder.pid:
                return True
            if self.holder.poll() is not None:
                with open(log, errors='replace') as f:
                    raise process.ServiceError(
                        'cannot create host %s: %s' % (self.name,
                                                       f.read()[-2000:]))
            return False

        poll.wait_until(holding, 30, 0.01, what='host ' + self.name)
        network.plug(self.spec, files[0])

    def leave_free(self, mib):
        """Fill the instances filesystem with a ballast, ``mib`` MiB left."""
        path = layout.INSTANCES_PATH
        out = process.run(self.enter_argv() + [
            'stat', '-f', '-c', '%a %S', path]).stdout.split()
        free = int(out[0]) * int(out[1])
        process.run(self.enter_argv() + [
            'fallocate', '-l', str(max(free - mib * 2 ** 20, 0)),
            os.path.join(path, 'xloud-ballast')])

    def start_libvirtd(self):
        self.daemon.start()

    def wait_libvirtd(self, timeout=180):
        def answers():
            try:
                conn = libvirt.open(self.uri)
            except libvirt.libvirtError:
                if not self.daemon.pid():
                    raise process.ServiceError(
                        'libvirtd of %s stopped: %s' % (
                            self.name, self.daemon.log_tail()))
                return False
            try:
                return bool(conn.getCapabilities())
            finally:
                conn.close()
        poll.wait_until(answers, timeout, 0.2,
                        what='libvirtd of ' + self.name)
        if self.lacking and not self._caps_lack():
            self._edit_caps()
            poll.wait_until(answers, timeout, 0.2,
                            what='libvirtd of ' + self.name)

    def _caps_lack(self):
        files = qemucaps.read(self.caps_dir)
        return bool(files) and all(
            lacking_qemu.lacks(data.decode(), self.lacking)
            for data in files.values())

    def _edit_caps(self):
        """Make libvirt say what the wrapped QEMU lacks; keep that cache.

        libvirt has just probed the wrapper (a new binary to it); the probe
        runs no ``-cpu``, so its cache still has the features.
        """
        self.daemon.stop()
        edited = lacking_qemu.edited_caps(qemucaps.read(self.caps_dir),
                                          self.lacking)
        qemucaps.write(self.caps_dir, edited)
        qemucaps.write(os.path.join(layout.lacking_qemu_dir(self.lacking),
                                    'capabilities'), edited)
        self.daemon.start()

    def traces_of(self, instance_uuid):
        """What of instance ``instance_uuid`` this host holds (a list).

        Its domain, its libvirt secrets, its instance directory (or a
        resize copy) and its vTPM state.
        """
        found = []
        conn = libvirt.open(self.uri)
        try:
            for dom in conn.listAllDomains():
                if dom.UUIDString() == instance_uuid:
                    found.append('domain %s' % dom.name())
            for secret in conn.listAllSecrets():
                if instance_uuid in (secret.usageID() or ''):
                    found.append('libvirt secret %s' % secret.UUIDString())
        finally:
            conn.close()
        paths = ' '.join('%s/%s*' % (d, instance_uuid) for d in (
            layout.INSTANCES_PATH, '/var/lib/libvirt/swtpm'))
        out = process.run(self.enter_argv() + [
            'sh', '-c', 'ls -d %s 2>/dev/null; true' % paths]).stdout
        found += out.split()
        return found

    def start_nova_compute(self):
        env = dict(os.environ, PATH='%s:%s:%s' % (
            SHIM_DIR, os.path.dirname(control.bin_path('nova-compute')),
            os.environ.get('PATH', '/usr/bin:/bin')))
        argv = self.enter_argv() + [
            control.bin_path('nova-compute'), '--config-file',
            os.path.join(self.root, 'nova', 'nova-cpu.conf')]
        with open(self.nova_log, 'ab') as out:
            process.start_child(
                argv, lambda p: setattr(self, 'nova', p), stdout=out,
                stderr=subprocess.STDOUT, env=env, stdin=subprocess.DEVNULL,
                start_new_session=True)

    def stop_nova_compute(self, grace=30.0):
        """Stop this host's nova-compute (SIGTERM, then SIGKILL)."""
        if self.nova is not None and self.nova.poll() is None:
            self.nova.terminate()
            try:
                self.nova.wait(grace)
            except subprocess.TimeoutExpired:
                self.nova.kill()
                self.nova.wait(10)

    @property
    def nova_pid(self):
        """The pid of nova-compute itself (nsenter execs it)."""
        return self.nova.pid if self.nova else None

    def reap(self):
        """Collect our children once the sweep has killed them."""
        for child in (self.nova, self.holder):
            if child is not None:
                try:
                    child.wait(10)
                except subprocess.TimeoutExpired:
                    pass
        self.daemon.reap(5.0)
