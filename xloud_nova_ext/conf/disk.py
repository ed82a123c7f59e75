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
migration completes or rolls back.

Needed bytes count what the copy writes on the destination (qcow2 allocation,
raw allocation, ephemeral and swap disks, config drive, and the backing image
when the destination's image cache lacks it). Available bytes are what an
unprivileged write can use (``f_bavail``) in ``[DEFAULT] instances_path``,
less ``[DEFAULT] reserved_host_disk_mb`` and less what other block
migrations to this host have reserved.

Related options:

* ``disk_headroom_mb``
* ``[DEFAULT] reserved_host_disk_mb``
"""),
    cfg.IntOpt(
        'disk_headroom_mb',
        default=256,
        min=0,
        help="""
Extra space, in MiB, that a block migration must leave free on the
destination beyond the bytes its disks need, so that the guest can keep
writing while it is copied.

Related options:

* ``block_migration_disk_preflight``
"""),
]
