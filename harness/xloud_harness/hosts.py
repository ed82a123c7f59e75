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

"""Two libvirt hosts on this machine: the integration tier's fixture.

Typical use, in a test (see base.IntegrationTestCase, which does this)::

    pair = hosts.shared_pair()          # brought up once per process
    conn = pair.a.open()
    dom = guests.start_guest(conn, guests.domain_xml('g1'))
    guests.live_migrate(dom, pair.b)
    pair.reset()                        # between tests

:class:`HostPair` holds the machine lock (layout.LOCK_FILE) from
:meth:`HostPair.up` to :meth:`HostPair.down`, and ``up`` first removes
whatever an interrupted earlier run left (see :mod:`.sweep`).
"""

import atexit
import os

from xloud_harness import host as host_mod
from xloud_harness import layout
from xloud_harness import lock
from xloud_harness import mounts
from xloud_harness import namespaces
from xloud_harness import process
from xloud_harness import qemucaps
from xloud_harness import sweep

Host = host_mod.Host
SmallFs = host_mod.SmallFs

#: How long to wait for another run on this machine to finish.
LOCK_TIMEOUT = 600.0


class HostPair(object):
    """Hosts ``a`` (xhost-a, 10.77.0.1) and ``b`` (xhost-b, 10.77.0.2).

    Only one pair can be up on the machine (names and addresses are fixed);
    a second one waits for the lock.
    """

    def __init__(self):
        self.hosts = tuple(Host(spec) for spec in layout.HOSTS)
        self.a, self.b = self.hosts
        self._lock = lock.MachineLock(layout.LOCK_FILE)

    @property
    def is_up(self):
        return self._lock.held

    def up(self):
        """Remove any stale pair, then build this one and start libvirtd."""
        if self.is_up:
            return
        self._lock.acquire(LOCK_TIMEOUT)
        try:
            sweep.clean_machine()
            self._build()
        except BaseException:
            self._down()
            raise

    def _build(self):
        for path in (layout.NS_DIR, layout.LOOP_DIR):
            os.makedirs(path)
        mounts.make_private_bind(layout.NS_DIR)
        sweep.create_runtime_dirs()
        for host in self.hosts:
            host.prepare(self.hosts)
            host.create_namespaces()
        namespaces.link(self.a.spec, self.b.spec, layout.PREFIX_LEN)
        caps = qemucaps.load_warm()
        for host in self.hosts:
            # B starts with the cache A has just validated (or probed).
            qemucaps.write(host.caps_dir, caps)
            host.start()
            host.pristine_caps = caps = qemucaps.read(host.caps_dir)
        qemucaps.save_warm(caps)

    def down(self):
        """Stop both hosts and remove everything the pair made."""
        if self.is_up:
            self._down()

    def _down(self):
        try:
            for host in self.hosts:
                if host.is_running():
                    try:
                        host.destroy_guests()
                    except Exception:
                        pass  # the sweep kills what is left
            sweep.clean_machine()
        finally:
            for host in self.hosts:
                host.small_fs = []
                # The wrapper's mount went with the namespace, its files
                # with the work directory.
                host.lacking, host._lacking_caps = (), None
                host.reap(timeout=5.0)
            self._lock.release()

    def reset(self):
        """Bring both hosts back to their state just after :meth:`up`.

        Destroys guests and secrets, unmounts small filesystems, empties
        /var/lib/libvirt/images, gives a host that lacked CPU features its
        real QEMU back, restores an edited capability cache and restarts a
        stopped libvirtd.
        """
        if not self.is_up:
            return
        for host in self.hosts:
            if not host.is_running():
                host.start()
            host.destroy_guests()
            for fs in list(host.small_fs):
                fs.umount()
            host.restore_qemu()
            images = host.real_path(host_mod.IMAGES_DIR)
            for name in os.listdir(images):
                os.unlink(os.path.join(images, name))
            if qemucaps.read(host.caps_dir) != host.pristine_caps:
                host.stop()
                qemucaps.write(host.caps_dir, host.pristine_caps)
                host.start()

    def footprint(self):
        """What the pair has on the machine now (for leak checks).

        A dict: ``processes`` {pid: (comm, start time)} inside either host,
        ``namespaces`` the set of their namespace inodes, ``loop_devices``
        attached to our images, ``mounts`` below layout.WORK_DIR.
        """
        inodes = set()
        for host in self.hosts:
            inodes.update(host.namespace_inodes().values())
        return {
            'processes': {pid: (process.comm(pid), process.start_time(pid))
                          for pid in process.pids_in_namespaces(inodes)},
            'namespaces': inodes,
            'loop_devices': mounts.loop_devices_under(layout.WORK_DIR),
            'mounts': mounts.mounts_under(layout.WORK_DIR),
        }


def mount_small_fs(host, path, size_mb, fstype='ext4'):
    """Mount a new ``size_mb`` MiB ``fstype`` filesystem at ``path``.

    Only ``host`` (a :class:`Host`) sees it there; ``path`` must be inside
    one of its private directories, e.g. ``/var/lib/libvirt/images``. The
    test process sees it at ``host.real_path(path)``. Returns a
    :class:`SmallFs`; undone by its ``umount()``, by ``HostPair.reset()``
    and at tear-down.
    """
    return host.mount_small_fs(path, size_mb, fstype)


_shared = None


def shared_pair():
    """The process-wide pair, brought up on first use (or after a down()).

    It is torn down when the process exits; a run killed before that is
    cleaned up by the next ``up()``.
    """
    global _shared
    if _shared is None:
        _shared = HostPair()
        atexit.register(_shared.down)
    _shared.up()
    return _shared
