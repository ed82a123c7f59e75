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

"""libvirt's QEMU capability cache of a host, and a warm copy of it.

Probing QEMU costs about 8 s per host. Both hosts run the same QEMU on the
same CPU (libvirtd pinned), so the cache that host A probed is valid on B,
and the copy kept in layout.CAPS_CACHE_DIR is valid on the next run. libvirt
checks a cache file against the QEMU binary, libvirt itself and the kernel,
and probes again if anything changed, so a stale copy costs time, not
correctness. The copy is taken right after start-up, before any test can
edit a host's cache.
"""

import os

from xloud_harness import layout

#: Inside a host: where libvirt keeps one XML file per QEMU binary.
CAPS_DIR = '/var/cache/libvirt/qemu/capabilities'


def read(caps_dir):
    """{file name: bytes} of the cache files in ``caps_dir``."""
    files = {}
    try:
        names = os.listdir(caps_dir)
    except FileNotFoundError:
        return files
    for name in names:
        if name.endswith('.xml'):
            with open(os.path.join(caps_dir, name), 'rb') as f:
                files[name] = f.read()
    return files


def write(caps_dir, files):
    """Make ``caps_dir`` hold exactly ``files`` ({name: bytes})."""
    os.makedirs(caps_dir, exist_ok=True)
    for name in set(read(caps_dir)) - set(files):
        os.unlink(os.path.join(caps_dir, name))
    for name, data in files.items():
        tmp = os.path.join(caps_dir, '.%s.tmp' % name)
        with open(tmp, 'wb') as f:
            f.write(data)
        os.replace(tmp, os.path.join(caps_dir, name))


def load_warm():
    return read(layout.CAPS_CACHE_DIR)


def save_warm(files):
    if files and files != load_warm():
        write(layout.CAPS_CACHE_DIR, files)
