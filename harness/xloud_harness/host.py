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

"""One libvirt host of the pair: its namespaces, files and libvirtd."""

import os
import subprocess
import tempfile

from xloud_harness import lacking_qemu
from xloud_harness import layout
from xloud_harness import libvirtd
from xloud_harness import mounts
from xloud_harness import namespaces
from xloud_harness import poll
from xloud_harness import process
from xloud_harness import qemucaps

try:
    import libvirt
except ImportError:  # the tests skip (or fail in CI) without it
    libvirt = None

#: libvirt's default storage for guest disks; private to each host.
IMAGES_DIR = '/var/lib/libvirt/images'


class Host(object):
    """A libvirt host: libvirtd in its own network, mount and UTS namespaces.

    Attributes:

    ``name``
        Host name, e.g. ``'xhost-a'``; resolvable by both hosts.
    ``ip``
        Its address on the link between the hosts, e.g. ``'10.77.0.1'``.
    ``uri``
        ``qemu+unix:///system?socket=...``: reaches this libvirtd from the
        test process (the root namespaces).
    ``peer_uri``
        ``qemu+tcp://<name>/system``: how the other host reaches this one
        (peer-to-peer migration); usable only inside the hosts.
    ``root``
        The real directory that holds this host's private directories;
        see :meth:`real_path`.

    Everything outside layout.PRIVATE_DIRS (``/tmp`` included) is the same
    file for both hosts, i.e. shared storage.
    """

    START_TIMEOUT = 120.0  # a cold QEMU capability probe takes ~8 s

    def __init__(self, spec):
        self.spec = spec
        self.name = spec.name
        self.ip = spec.ip
        self.root = layout.host_dir(spec.name)
        self.daemon = libvirtd.Daemon(
            self.root, lambda: namespaces.enter_argv(spec.name))
        self.uri = 'qemu+unix:///system?socket=%s' % self.daemon.socket
        self.peer_uri = 'qemu+tcp://%s/system' % spec.name
        self.small_fs = []
        self._holder = None
        #: The capability cache as libvirt wrote it at start-up.
        self.pristine_caps = {}
        #: CPU features this host's QEMU lacks (lack_cpu_features).
        self.lacking = ()
        self._lacking_caps = None   # (features, edited cache) for reuse

    def __repr__(self):
        return '<Host %s %s>' % (self.name, self.ip)

    # Files

    def real_path(self, path):
        """The real path of ``path`` as seen inside this host.

        ``/var/lib/libvirt/images/x.qcow2`` becomes
        ``<root>/var/lib/libvirt/images/x.qcow2``; a path outside the
        host's private directories is returned unchanged (it is shared).
        """
        path = os.path.normpath(path)
        for private in layout.PRIVATE_DIRS + layout.PRIVATE_FILES:
            if mounts.is_under(path, private):
                return self.root + path
        return path

    def binds(self):
        """[(real path, path in host)] bind-mounted in the host."""
        return [(self.real_path(p), p)
                for p in layout.PRIVATE_DIRS + layout.PRIVATE_FILES]

    @property
    def caps_dir(self):
        """Real directory of this host's QEMU capability cache."""
        return self.real_path(qemucaps.CAPS_DIR)

    def prepare(self, hosts):
        """Create the host's directories and configuration files."""
        for path in layout.PRIVATE_DIRS + (IMAGES_DIR,):
            os.makedirs(self.real_path(path), exist_ok=True)
        libvirtd.write_config(self.root, self.name, self.ip,
                              layout.host_uuid(self.name),
                              [(h.name, h.ip) for h in hosts])

    # Namespaces and processes

    def create_namespaces(self):
        """Create the host's namespaces with its private directories."""
        self._holder = namespaces.create(
            self.name, self.binds(), os.path.join(self.root, 'setup.log'))

    def reap(self, timeout):
        """Collect our exited children (after tear-down)."""
        self.daemon.reap(timeout)
        if self._holder:
            try:
                self._holder.wait(timeout)
                self._holder = None
            except subprocess.TimeoutExpired:
                pass

    def run(self, argv, check=True, timeout=120, input=None):
        """Run ``argv`` inside this host's namespaces (via nsenter).

        Returns a CompletedProcess with text stdout/stderr; raises
        process.CommandError on a non-zero exit if ``check``. Give absolute
        paths: the command starts in ``/``.
        """
        return process.run(namespaces.enter_argv(self.name) + list(argv),
                           check=check, timeout=timeout, input=input)

    def namespace_inodes(self):
        """{'net'|'mnt'|'uts': inode} of the host's namespaces."""
        return namespaces.inodes(self.name)

    def owns(self, pid):
        """True if process ``pid`` runs in all of this host's namespaces."""
        mine = self.namespace_inodes()
        return bool(mine) and process.alive(pid) and all(
            process.ns_inode('/proc/%d/ns/%s' % (pid, k)) == ino
            for k, ino in mine.items())

    def pids(self):
        """Pids of every process inside this host."""
        return process.pids_in_namespaces(self.namespace_inodes().values())

    def qemu_pid(self, domain_name):
        """Pid of the QEMU process of running guest ``domain_name``."""
        return process.read_pid(
            self.real_path('/run/libvirt/qemu/%s.pid' % domain_name))

    # libvirtd

    def open(self):
        """A new read-write libvirt connection to this host (close it)."""
        return libvirt.open(self.uri)

    def is_running(self):
        return self.daemon.pid() is not None

    def start(self):
        """Start libvirtd and wait until it answers with its capabilities.

        The first answer after a cold start needs the QEMU capability
        probe, so wait for it here rather than inside a test.
        """
        self.daemon.start()

        def answers():
            try:
                conn = self.open()
                try:
                    return bool(conn.getCapabilities())
                finally:
                    conn.close()
            except libvirt.libvirtError:
                if not self.is_running():
                    raise self._not_answering()
                return False

        try:
            poll.wait_until(answers, self.START_TIMEOUT, 0.05,
                            what='libvirtd of ' + self.name)
        except poll.WaitTimeout:
            raise self._not_answering()

    def _not_answering(self):
        return libvirtd.DaemonError('%s: libvirtd does not answer: %s'
                                    % (self.name, self.daemon.log_tail()))

    def stop(self):
        """Stop libvirtd (by its pid file); running guests stay up."""
        self.daemon.stop()

    def restart(self):
        """Restart libvirtd, e.g. after editing its capability cache.

        Open connections die with the old daemon: open new ones.
        """
        self.stop()
        self.start()

    def edit_qemu_caps(self, edit):
        """Rewrite the host's cached QEMU capabilities, restart libvirtd.

        ``edit(xml_text) -> xml_text`` is applied to every cache file (one
        per QEMU binary). libvirt trusts its cache, so the host then
        reports what the edit says, e.g. a CPU model marked
        ``usable='no'``. HostPair.reset() restores the original.
        """
        files = qemucaps.read(self.caps_dir)
        qemucaps.write(self.caps_dir, {name: edit(data.decode()).encode()
                                       for name, data in files.items()})
        self.restart()

    def lack_cpu_features(self, features=('popcnt',)):
        """Make this host's QEMU really lack the CPU ``features``.

        Every guest QEMU started here from now on runs its ``-cpu`` with
        ``<feature>=off`` (:mod:`.lacking_qemu`), and this host's libvirt
        knows it (host CPU without them, models that need them unusable).
        So a guest whose CPU has them fails to start or to arrive here, in
        QEMU, as on a real host without them; a guest without them still
        runs and moves here. Other hosts are untouched. Undone by
        :meth:`restore_qemu` (HostPair.reset() calls it).

        The first call probes QEMU (libvirtd restarted, about 8 s); later
        ones reuse the edited cache (libvirtd restarted, under 1 s).
        """
        features = tuple(features)
        if self.lacking == features:
            return
        self.restore_qemu()
        wrapper = lacking_qemu.install(
            os.path.join(self.root, 'qemu-lacking'), features)
        self.stop()
        self.run(['mount', '--bind', wrapper, lacking_qemu.QEMU])
        self.lacking = features
        if not self._lacking_caps or self._lacking_caps[0] != features:
            self.start()   # libvirt probes the wrapper: a new cache
            self.stop()
            self._lacking_caps = (features, lacking_qemu.edited_caps(
                qemucaps.read(self.caps_dir), features))
        qemucaps.write(self.caps_dir, self._lacking_caps[1])
        self.start()

    def restore_qemu(self):
        """Give this host its real QEMU back (after lack_cpu_features)."""
        if not self.lacking:
            return
        self.stop()
        self.run(['umount', lacking_qemu.QEMU], check=False)
        self.lacking = ()
        qemucaps.write(self.caps_dir, self.pristine_caps)
        self.start()

    def destroy_guests(self):
        """Destroy and undefine every guest; remove every secret."""
        conn = self.open()
        try:
            flags = 0
            for flag in ('MANAGED_SAVE', 'SNAPSHOTS_METADATA', 'NVRAM',
                         'CHECKPOINTS_METADATA', 'TPM'):
                flags |= getattr(libvirt, 'VIR_DOMAIN_UNDEFINE_' + flag, 0)
            for dom in conn.listAllDomains():
                if dom.isActive():
                    dom.destroy()
                if dom.isPersistent():
                    dom.undefineFlags(flags)
            for secret in conn.listAllSecrets():
                secret.undefine()
        finally:
            conn.close()

    # Filesystems

    def mount_small_fs(self, path, size_mb, fstype='ext4'):
        """Mount a new ``size_mb`` MiB filesystem at ``path`` in this host.

        ``path`` must be inside a private directory (e.g.
        ``/var/lib/libvirt/images``), so that only this host sees the
        filesystem. It is mounted at :meth:`real_path` too, so the test
        process sees the same files. Undone by :meth:`SmallFs.umount`,
        HostPair.reset() and tear-down.
        """
        fs = SmallFs(self, path, size_mb, fstype)
        self.small_fs.append(fs)
        fs.mount()
        return fs


class SmallFs(object):
    """A loop-device filesystem mounted at ``path`` inside one host."""

    def __init__(self, host, path, size_mb, fstype):
        real = host.real_path(path)
        if real == os.path.normpath(path):
            raise ValueError('%s is not private to %s' % (path, host.name))
        self.host = host
        self.path = os.path.normpath(path)
        self.real_path = real
        self.size_mb = size_mb
        self.fstype = fstype
        self.image = None
        self.device = None

    def mount(self):
        fd, self.image = tempfile.mkstemp(
            dir=layout.LOOP_DIR, prefix=self.host.name + '-', suffix='.img')
        os.close(fd)
        mounts.make_fs_image(self.image, self.size_mb, self.fstype)
        self.device = mounts.attach_loop(self.image)
        self.host.run(['mkdir', '-p', self.path])
        self.host.run(['mount', self.device, self.path])
        os.makedirs(self.real_path, exist_ok=True)
        process.run(['mount', self.device, self.real_path])

    def umount(self):
        """Unmount in the host and here, free the loop device."""
        if self.host.namespace_inodes():
            self.host.run(['umount', self.path], check=False)
        mounts.umount_under(self.real_path)
        if self.device:
            mounts.detach_loop(self.device)
            self.device = None
        if self.image and os.path.exists(self.image):
            os.unlink(self.image)
        if self in self.host.small_fs:
            self.host.small_fs.remove(self)
