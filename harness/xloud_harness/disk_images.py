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

"""Real disk images, and what nova's libvirt driver reports for them.

:func:`make_image` writes qcow2 and raw files with ``qemu-img`` and
``qemu-io``; :func:`nova_disk_info` asks nova's own libvirt driver code
what it would send for them (qemu-img info included). The disk preflight's
tests and its benchmark use both.
"""

import os
import subprocess


def run(*argv):
    subprocess.run(argv, check=True, capture_output=True)


def make_image(path, fmt, size, writes=(), backing=None, backing_fmt=None):
    """Create image ``path`` and write data into it with qemu-io.

    ``writes`` are (offset, length) byte ranges filled with a pattern, so
    they are allocated; everything else stays a hole.
    """
    argv = ['qemu-img', 'create', '-q', '-f', fmt]
    if backing:
        argv += ['-F', backing_fmt or 'raw', '-b', backing]
    run(*argv + [path, str(size)])
    for offset, length in writes:
        run('qemu-io', '-f', fmt, '-c',
            'write -P 0x5a %d %d' % (offset, length), path)
    return path


def allocated(path):
    return os.stat(path).st_blocks * 512


def domain_xml(disks, name='guest',
               uuid='6a1c4a3e-0d0e-4a55-8d39-7e7f0c4b2f10'):
    """Domain XML with ``disks``: [(path, format, target dev)]."""
    devices = ''.join(
        "<disk type='file' device='disk'><driver name='qemu' type='%s'/>"
        "<source file='%s'/><target dev='%s' bus='virtio'/></disk>"
        % (fmt, path, dev) for path, fmt, dev in disks)
    return ("<domain type='qemu'><name>%s</name><uuid>%s</uuid>"
            "<memory>131072</memory><vcpu>1</vcpu><os><type>hvm</type></os>"
            "<devices>%s</devices></domain>" % (name, uuid, devices))


def nova_disk_info(disks):
    """What nova's libvirt driver reports for real files ``disks``.

    ``disks``: [(path, format, target dev)]. Calls the code nova's
    get_instance_disk_info runs on a guest's config (qemu-img info per
    disk), so callers see nova's numbers, not ours.
    """
    from nova.virt.libvirt import config as vconfig
    from nova.virt.libvirt import driver as libvirt_driver
    config = vconfig.LibvirtConfigGuest()
    config.parse_str(domain_xml(disks))
    return libvirt_driver.LibvirtDriver._get_instance_disk_info_from_config(
        None, config, None)
