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


"""Instance disks of the embedded cloud's fake hypervisors, by flavor.

Named as the fake it is: no disk file exists in the embedded cloud (nova's
harness stubs image creation, and all fake computes share one directory).
What nova and the disk preflight would read from real files is answered
from one model: every server's root disk is a qcow2 overlay of its
flavor's root size with one eighth of it written, over a base image that
every host's image cache holds. Each host has its own free space.
"""

import os

from nova import conf as nova_conf
from nova import context as nova_context
from nova import objects
from oslo_utils import units

CONF = nova_conf.CONF
WRITTEN_FRACTION = 8
BASE_IMAGE = 'xloud-cloud-base-image'
BASE_IMAGE_BYTES = 64 * units.Mi


class FlavorDisks:
    """The disks every host's guests have, computed from their flavor."""

    # Read when used: the harness sets instances_path as it starts.
    @property
    def instances_path(self):
        return CONF.instances_path

    @property
    def cache_dir(self):
        return os.path.join(CONF.instances_path,
                            CONF.image_cache.subdirectory_name)

    def root_path(self, instance_uuid):
        return os.path.join(self.instances_path, instance_uuid, 'disk')

    @staticmethod
    def sizes(flavor):
        virtual = flavor.root_gb * units.Gi
        return virtual, virtual // WRITTEN_FRACTION

    def disk_info(self, instance, block_device_info=None):
        """What nova's ``_get_instance_disk_info`` would read."""
        virtual, written = self.sizes(instance.flavor)
        return [{'type': 'qcow2', 'path': self.root_path(instance.uuid),
                 'virt_disk_size': virtual, 'backing_file': BASE_IMAGE,
                 'disk_size': written,
                 'over_committed_disk_size': virtual - written}]

    def _instance_sizes(self, path):
        uuid = os.path.basename(os.path.dirname(path))
        if path != self.root_path(uuid):
            return None
        try:
            instance = objects.Instance.get_by_uuid(
                nova_context.get_admin_context(), uuid,
                expected_attrs=['flavor'])
        except Exception:
            return None
        return self.sizes(instance.flavor)

    def allocated(self, path):
        if path == os.path.join(self.cache_dir, BASE_IMAGE):
            return BASE_IMAGE_BYTES
        sizes = self._instance_sizes(path)
        return sizes[1] if sizes else None

    def apparent(self, path):
        if path == os.path.join(self.cache_dir, BASE_IMAGE):
            return BASE_IMAGE_BYTES
        sizes = self._instance_sizes(path)
        return sizes[0] if sizes else None


class HostFilesystem:
    """One host's instances filesystem, as the disk preflight sees it."""

    def __init__(self, free_bytes, disks):
        self.free_bytes = free_bytes
        self.disks = disks

    def free(self, path):
        return self.free_bytes

    def allocated(self, path):
        return self.disks.allocated(path)

    def apparent(self, path):
        return self.disks.apparent(path)

    def exists(self, path):
        return self.disks.allocated(path) is not None
