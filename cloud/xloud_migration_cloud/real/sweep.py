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

"""Remove every trace of the real cloud, whether it ended well or was killed.

Found from what is on the machine, not from the memory of the run that made
it: the control plane's recorded pids (checked by start time, so that a
reused pid is never killed), every process in the hosts' namespaces (QEMU,
swtpm, bindfs, libvirtd, nova-compute, privsep), the mounts, the loop
devices backed below layout.WORK_DIR, the bridge and the work directory.
Call only while holding layout.LOCK_FILE.
"""

import os

from xloud_harness import mounts
from xloud_harness import process
from xloud_harness import sweep

from xloud_migration_cloud.real import layout
from xloud_migration_cloud.real import network


CleanupError = sweep.CleanupError


def _recorded_control_pids():
    pids = []
    try:
        with open(layout.PIDS_FILE) as f:
            for line in f:
                pid, start = line.split()
                pid = int(pid)
                if process.alive(pid) and str(process.start_time(pid)) == \
                        start:
                    pids.append(pid)
    except FileNotFoundError:
        pass
    return pids


def _host_inodes():
    inodes = set()
    for spec in layout.HOSTS:
        for kind in ('net', 'uts'):
            path = layout.ns_file(spec.name, kind)
            if os.path.ismount(path):
                inodes.add(process.ns_inode(path))
        holder = process.read_pid(layout.holder_pid_file(spec.name))
        if holder and process.comm(holder) == 'sleep':
            inodes.add(process.ns_inode('/proc/%d/ns/mnt' % holder))
    inodes.discard(process.ns_inode('/proc/self/ns/mnt'))
    return inodes


def _pids_inside(inodes):
    pids = set(process.pids_in_namespaces(inodes))
    # Also those whose namespace files an interrupted clean-up already
    # unmounted: they still have the host's /etc/libvirt bound.
    for spec in layout.HOSTS:
        pids.update(process.pids_with_bind(
            '/etc/libvirt', '/xloud-cloud/hosts/%s/etc/libvirt' % spec.name))
    return sorted(pids)


def _kill_all():
    inodes = _host_inodes()
    for _ in range(3):
        # Each control process leads a session of its own: its group too.
        groups = _recorded_control_pids()
        for pid in groups:
            try:
                os.killpg(pid, 15)
            except (ProcessLookupError, PermissionError):
                pass
        pids = sorted(set(groups) | set(_pids_inside(inodes)))
        if not pids:
            return
        process.stop(pids, grace=10.0)
    left = _recorded_control_pids() + _pids_inside(inodes)
    if left:
        raise CleanupError('processes %s of the real cloud do not stop'
                           % left)


def _free_loop_devices():
    for device in mounts.loop_devices_under(layout.WORK_DIR):
        mounts.detach_loop(device)


def clean_machine():
    """Stop, unmount, detach and delete everything of any real cloud."""
    _kill_all()
    if os.path.isdir(layout.WORK_DIR):
        mounts.umount_under(layout.WORK_DIR)
    _free_loop_devices()
    network.remove()
    sweep.remove_created_dirs(layout)
    sweep.remove_work_dir(layout)


def create_runtime_dirs():
    """Create the bind mount points the machine lacks; remember them."""
    sweep.create_runtime_dirs(layout)


def cloud_pids():
    """Every process of the running real cloud.

    The control plane's processes with everything in their sessions (each
    leads one: MariaDB's, RabbitMQ's and the WSGI servers' children
    included) and every process inside the hosts.
    """
    leaders = set(_recorded_control_pids())
    pids = set(_pids_inside(_host_inodes()))
    for pid in process.all_pids():
        try:
            if os.getsid(pid) in leaders:
                pids.add(pid)
        except OSError:
            pass
    return sorted(pids)


def footprint():
    """What of a real cloud is on the machine now (empty when clean)."""
    found = {}
    if os.path.exists(layout.WORK_DIR):
        found['work directory'] = layout.WORK_DIR
    if network.bridge_exists():
        found['bridge'] = layout.BRIDGE
    pids = _recorded_control_pids() + _pids_inside(_host_inodes())
    if pids:
        found['processes'] = pids
    loops = mounts.loop_devices_under(layout.WORK_DIR)
    if loops:
        found['loop devices'] = loops
    points = mounts.mounts_under(layout.WORK_DIR)
    if points:
        found['mounts'] = points
    return found
