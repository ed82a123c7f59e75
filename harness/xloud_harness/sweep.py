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

"""Remove every trace of a host pair, whether it ended well or was killed.

Namespaces, veth pairs, mounts and loop devices outlive the processes that
made them, and a killed run's daemons keep running: everything is found
from what is on the machine (pid files, namespace files, the mount table,
the loop device list), not from the memory of the run that made it.
Call only while holding the machine lock.
"""

import os
import shutil

from xloud_harness import layout
from xloud_harness import libvirtd
from xloud_harness import mounts
from xloud_harness import namespaces
from xloud_harness import poll
from xloud_harness import process


class CleanupError(Exception):
    pass


def _stop_daemons():
    for spec in layout.HOSTS:
        daemon = libvirtd.Daemon(layout.host_dir(spec.name), None)
        try:
            daemon.stop()
        except libvirtd.DaemonError:
            pass  # killed below with everything else in the host


def _pids_inside():
    inodes = [ino for spec in layout.HOSTS
              for ino in namespaces.inodes(spec.name).values()]
    pids = set(process.pids_in_namespaces(inodes))
    # Also those whose namespace files an interrupted clean-up already
    # unmounted: they still have the host's /etc/libvirt bound.
    for spec in layout.HOSTS:
        tail = '/%s/%s/etc/libvirt' % (os.path.basename(layout.WORK_DIR),
                                       spec.name)
        pids.update(process.pids_with_bind('/etc/libvirt', tail))
    return sorted(pids)


def _kill_everything_inside():
    for _ in range(3):
        pids = _pids_inside()
        if not pids:
            return
        process.stop(pids, grace=5.0)
    raise CleanupError('processes %s inside the hosts do not stop'
                       % _pids_inside())


def _free_loop_devices(timeout=5.0):
    # A device still in use (its filesystem mounted in a namespace that is
    # going away) is detached when its last user goes: wait for that.
    for device in mounts.loop_devices_under(layout.WORK_DIR):
        mounts.detach_loop(device)
    try:
        poll.wait_until(
            lambda: not mounts.loop_devices_under(layout.WORK_DIR), timeout,
            0.05, what='detaching the loop devices')
    except poll.WaitTimeout:
        raise CleanupError('loop devices %s stay attached' %
                           mounts.loop_devices_under(layout.WORK_DIR))


def remove_created_dirs(where=layout):
    """Remove the mount points :func:`create_runtime_dirs` made."""
    try:
        with open(where.CREATED_DIRS_FILE) as f:
            created = f.read().split()
    except FileNotFoundError:
        return
    for path in sorted(created, reverse=True):
        mounts.remove_dir_if_empty(path)


def remove_work_dir(where=layout):
    shutil.rmtree(where.WORK_DIR, ignore_errors=True)
    if os.path.exists(where.WORK_DIR):
        raise CleanupError('cannot remove %s' % where.WORK_DIR)


def clean_machine():
    """Stop, unmount, detach and delete everything of any host pair."""
    _stop_daemons()
    _kill_everything_inside()
    mounts.umount_under(layout.WORK_DIR)
    namespaces.remove_leftover_links(layout.HOSTS)
    _free_loop_devices()
    remove_created_dirs()
    remove_work_dir()


def create_runtime_dirs(where=layout):
    """Create the bind mount points the machine lacks; remember them.

    ``where`` is a layout module (``RUNTIME_DIRS``, ``CREATED_DIRS_FILE``,
    ``WORK_DIR``): the integration hosts' unless told; the real cloud
    passes its own.
    """
    missing = [d for d in where.RUNTIME_DIRS if not os.path.isdir(d)]
    # Written first, so that a run killed right now still removes them.
    with open(where.CREATED_DIRS_FILE, 'w') as f:
        f.write(''.join(d + '\n' for d in missing))
    for path in missing:
        os.makedirs(path)
