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

"""Mounts and loop devices, as seen from the namespace we run in."""

import json
import os

from xloud_harness import process


def _unescape(field):
    # /proc/self/mountinfo escapes space, tab, newline and backslash in octal.
    return field.encode().decode('unicode_escape')


def mount_points(mountinfo='/proc/self/mountinfo'):
    """The mount points listed in ``mountinfo``, in mount order."""
    with open(mountinfo) as f:
        return [_unescape(line.split()[4]) for line in f]


def nsfs_inodes(mountinfo='/proc/self/mountinfo'):
    """Inodes of the namespaces that are bind-mounted somewhere."""
    found = set()
    with open(mountinfo) as f:
        for line in f:
            fields = line.split()
            fstype = fields[fields.index('-') + 1]
            if fstype == 'nsfs':
                # The root field reads like "net:[4026532178]".
                found.add(int(fields[3].split('[')[1].rstrip(']')))
    return found


def is_under(path, prefix):
    return path == prefix or path.startswith(prefix.rstrip('/') + '/')


def mounts_under(prefix):
    return [m for m in mount_points() if is_under(m, prefix)]


def umount_under(prefix):
    """Unmount everything at or below ``prefix``, deepest first.

    A busy mount is detached lazily: it goes away with its last user.
    """
    for _ in range(10):
        points = mounts_under(prefix)
        if not points:
            return
        for point in reversed(points):
            if process.run(['umount', point], check=False).returncode:
                process.run(['umount', '--lazy', point], check=False)
    raise RuntimeError('cannot unmount %s' % mounts_under(prefix))


def make_private_bind(path):
    """Make ``path`` a private mount of itself.

    ``unshare --net=FILE`` and friends must bind namespace files onto a
    mount whose propagation is not shared (it is shared under systemd).
    """
    process.run(['mount', '--bind', path, path])
    process.run(['mount', '--make-private', path])


def loop_devices():
    """{device: backing file} of every loop device in use."""
    out = process.run(['losetup', '--list', '--json',
                       '--output', 'NAME,BACK-FILE']).stdout
    if not out.strip():
        return {}
    devices = json.loads(out).get('loopdevices', [])
    return {d['name']: (d.get('back-file') or '') for d in devices}


def loop_devices_under(prefix):
    """Loop devices whose backing file is below ``prefix`` (even deleted)."""
    return sorted(dev for dev, back in loop_devices().items()
                  if is_under(back.replace(' (deleted)', ''), prefix))


def attach_loop(image):
    return process.run(['losetup', '--find', '--show', image]).stdout.strip()


def detach_loop(device):
    process.run(['losetup', '--detach', device], check=False)


def make_fs_image(image, size_mb, fstype='ext4'):
    """Create a ``size_mb`` MiB file holding an empty ``fstype`` filesystem."""
    with open(image, 'wb') as f:
        f.truncate(size_mb * 1024 * 1024)
    process.run(['mkfs', '-t', fstype, '-q', '-F', image]
                if fstype.startswith('ext') else ['mkfs', '-t', fstype, image])


def remove_dir_if_empty(path):
    try:
        os.rmdir(path)
    except OSError:
        pass
