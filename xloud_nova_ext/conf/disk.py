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

from oslo_config import cfg

OPTS = [
    cfg.BoolOpt(
        'block_migration_disk_preflight',
        default=True,
        help="""
Before a block migration copies any disk, check that the destination really
has room for the disks that will be copied, and reserve that room until the
migration completes or rolls back. Runs for every block migration (explicit,
or ``auto`` resolved to block), whatever the API microversion.

Needed bytes count what the copy writes on the destination: the allocated
size of each local disk (qcow2 or raw, ephemeral, swap, config drive), the
backing image when the destination's image cache lacks it, and
``disk_headroom_mb``. Available bytes are what an unprivileged write can use
(``f_bavail``) in ``[DEFAULT] instances_path``, less
``[DEFAULT] reserved_host_disk_mb`` and less what other block migrations to
this host have reserved and not written yet.

In the pre-check the source reports its disks' allocated size and the
destination refuses when that alone does not fit (so the scheduler can
try another host); nova's ``disk_available_mb`` keeps its meaning where
nova reads it. The destination decides and reserves in
``pre_live_migration`` before any file is created. With ``[libvirt]
images_type`` ``lvm`` or ``rbd`` nothing is checked.

Related options:

* ``disk_headroom_mb``
* ``cold_migration_disk_preflight``
* ``[DEFAULT] reserved_host_disk_mb``, ``[DEFAULT] instances_path``
* ``[image_cache] subdirectory_name``
"""),
    cfg.IntOpt(
        'disk_headroom_mb',
        default=256,
        min=0,
        help="""
Extra space, in MiB, that a block or cold migration must leave free on the
destination beyond the bytes its disks need, so that the guest can keep
writing while it is copied and qcow2 metadata can grow. A block migration
reserves it until it completes or rolls back.

Related options:

* ``block_migration_disk_preflight``
* ``cold_migration_disk_preflight``
"""),
    cfg.BoolOpt(
        'cold_migration_disk_preflight',
        default=True,
        help="""
Before a cold migration or resize powers the instance off, ask the
destination over the same ssh channel that nova copies the disks with
(``[libvirt] remote_filesystem_transport``) how much space is free in its
``[DEFAULT] instances_path`` and which backing images its image cache holds,
and refuse the migration, with the instance still running on the source,
when the disks will not fit.

The check runs one command over ssh (``stat -f`` and ``test -e``). Turn it
off where the nova user's ssh key may only run ``rsync`` or ``scp``.
A resize to the same host, or a migration over a shared instance path,
copies the disks within this host's ``instances_path``: that copy is
checked against this host's free space (no ssh for the same host).

Related options:

* ``disk_headroom_mb``
* ``[libvirt] remote_filesystem_transport``
* ``[DEFAULT] reserved_host_disk_mb`` (this host's value is assumed for the
  destination)
"""),
]
