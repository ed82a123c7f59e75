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

"""What a disk copy will write on the destination, per disk.

Input is nova's own disk information: the JSON list that
``LibvirtDriver.get_instance_disk_info`` returns on the source (one dict per
local disk: ``path``, ``type``, ``virt_disk_size``, ``backing_file``,
``disk_size`` = allocated bytes, ``over_committed_disk_size``), plus one key
of ours, :data:`BACKING_SIZE_KEY`, that the source adds per disk. Nothing
here runs ``qemu-img`` or touches a filesystem: the callers pass the
answers (``exists``) in, so every rule is testable on plain data.
"""

import collections
import os

from oslo_serialization import jsonutils

from xloud_nova_ext import exception

#: Added by the source per disk: allocated bytes of the disk's backing file
#: in the source's image cache (None when it could not be read). nova's RPC
#: passes unknown keys through and nova's code ignores them.
BACKING_SIZE_KEY = 'xloud_backing_size'

#: nova does not copy the swap disk in a cold migration; finish_migration
#: recreates it (see LibvirtDriver.migrate_disk_and_power_off).
SWAP_DISK = 'disk.swap'

_REQUIRED = ('path', 'type', 'virt_disk_size', 'disk_size', 'backing_file')

#: One thing the copy writes: ``label`` names it in messages, ``path`` is
#: where it lands on the destination, ``size`` the bytes it takes there;
#: ``bound`` when ``size`` is an upper bound, not a count.
Item = collections.namedtuple('Item', 'label path size bound',
                              defaults=(False,))


class Need(object):
    """Bytes a copy needs on the destination: the items plus headroom."""

    def __init__(self, items, headroom):
        self.items = tuple(items)
        self.headroom = headroom

    @property
    def total(self):
        return sum(i.size for i in self.items) + self.headroom

    @property
    def bounded(self):
        """True when some item's size is only an upper bound."""
        return any(i.bound for i in self.items)

    def lower(self):
        """This need without its bounded items: what it needs at least."""
        return Need([i for i in self.items if not i.bound], self.headroom)

    @property
    def targets(self):
        """(path, size) of every item: what a reservation waits for."""
        return tuple((i.path, i.size) for i in self.items)

    def describe(self):
        """"disk 1.0 GiB (1073741824 bytes), ..., headroom 256.0 MiB (...)"."""
        parts = ['%s %s' % (i.label, fmt_bytes(i.size)) for i in self.items]
        parts.append('headroom %s' % fmt_bytes(self.headroom))
        return ', '.join(parts)


def fmt_bytes(n):
    """A size for people, exact count kept: '1.5 GiB (1610612736 bytes)'."""
    for unit, scale in (('GiB', 1 << 30), ('MiB', 1 << 20), ('KiB', 1 << 10)):
        if abs(n) >= scale:
            return '%.1f %s (%d bytes)' % (n / scale, unit, n)
    return '%d bytes' % n


def fmt_short(n):
    """A size for a headline: '1.5 GiB' (fmt_bytes keeps the exact count)."""
    return fmt_bytes(n).partition(' (')[0]


def _invalid(detail):
    return exception.DiskInfoInvalid(detail=detail)


def _size(disk, key, where, nullable=False):
    value = disk.get(key)
    if value is None and nullable:
        return None
    # bool is an int in Python; a size of True is a bug, not one byte.
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        raise _invalid('%s of %s is %r, not a size in bytes'
                       % (key, where, value))
    return value


def parse_disk_info(text):
    """The validated list of disk dicts in nova's disk info JSON ``text``.

    Raises DiskInfoInvalid for anything a size could not honestly be read
    from: no text, bad JSON, not a list, a disk without a path or with a
    missing, negative or non-integer size. Guessing would mean guessing
    "enough".
    """
    if text is None:
        raise _invalid('the source sent no disk information for a block '
                       'migration')
    try:
        disks = jsonutils.loads(text)
    except (TypeError, ValueError, RecursionError) as e:
        # RecursionError: nested deeper than the JSON decoder goes.
        raise _invalid('it is not valid JSON (%s)' % (
            'nested too deep' if isinstance(e, RecursionError) else e))
    if not isinstance(disks, list):
        raise _invalid('expected a list of disks, got %s'
                       % type(disks).__name__)
    for n, disk in enumerate(disks):
        if not isinstance(disk, dict):
            raise _invalid('disk #%d is %s, not an object'
                           % (n, type(disk).__name__))
        missing = [k for k in _REQUIRED if k not in disk]
        if missing:
            raise _invalid('disk #%d lacks %s' % (n, ', '.join(missing)))
        path = disk['path']
        if not isinstance(path, str) or not os.path.basename(path):
            raise _invalid('disk #%d has no usable path (%r)' % (n, path))
        backing = disk['backing_file']
        if backing is not None and not isinstance(backing, str):
            raise _invalid('backing_file of %s is %r' % (path, backing))
        for key in ('virt_disk_size', 'disk_size'):
            _size(disk, key, path)
        _size(disk, BACKING_SIZE_KEY, path, nullable=True)
    return disks


def annotate(disks, cache_dir, allocated):
    """Add :data:`BACKING_SIZE_KEY` to each disk that has a backing file.

    Runs on the source. ``allocated(path)`` returns the allocated bytes of a
    file or None when it cannot be read; nova names backing files by their
    basename in the image cache (``cache_dir``), where its image backends
    keep them. No qemu-img: one stat per backing file.
    """
    for disk in disks:
        backing = disk.get('backing_file')
        if backing and isinstance(backing, str):
            path = os.path.join(cache_dir, os.path.basename(backing))
            disk[BACKING_SIZE_KEY] = allocated(path)
    return disks


def _backing_items(disks, cache_dir, has_base):
    """Backing images the destination's cache lacks, once per image.

    A stock nova source (during a rolling install) reports no size for
    them: such an image is bounded by the largest virtual size of the disks
    over it (nova never makes a disk smaller than its image).
    """
    users = collections.OrderedDict()  # image name: the disks over it
    for disk in disks:
        if disk.get('backing_file'):
            name = os.path.basename(disk['backing_file'])
            users.setdefault(name, []).append(disk)
    items = []
    for name, over in users.items():
        path = os.path.join(cache_dir, name)
        if has_base(path):
            continue
        sizes = [d.get(BACKING_SIZE_KEY) for d in over]
        if None not in sizes:
            items.append(Item('backing image %s (not in the image cache)'
                              % name, path, max(sizes)))
            continue
        items.append(Item(
            'backing image %s (not in the image cache, size not reported: '
            'at most the virtual size of %s)'
            % (name, ', '.join(os.path.basename(d['path']) for d in over)),
            path, max(d['virt_disk_size'] for d in over), bound=True))
    return items


def block_migration_need(disks, instance_dir, cache_dir, headroom, has_base):
    """What a block migration writes on the destination.

    Per disk, its allocated bytes (``disk_size``: qcow2 clusters in use, or
    the blocks a sparse raw file holds; libvirt's copy writes the data, not
    the holes), in ``instance_dir`` where nova recreates it; plus each
    backing image that ``has_base(path)`` says the destination's cache
    (``cache_dir``) lacks, which nova fetches before the copy; plus
    ``headroom``.
    """
    items = [Item(os.path.basename(d['path']),
                  os.path.join(instance_dir, os.path.basename(d['path'])),
                  d['disk_size'])
             for d in disks]
    items += _backing_items(disks, cache_dir, has_base)
    return Need(items, headroom)


def cold_copied(disks):
    """The disks a cold migration copies: all but swap."""
    return [d for d in disks if os.path.basename(d['path']) != SWAP_DISK]


def cold_migration_need(disks, instance_dir, cache_dir, headroom, has_base,
                        sparse, apparent):
    """What a cold migration writes on the destination.

    nova copies each disk file except swap with the ``[libvirt]
    remote_filesystem_transport``: rsync ``--sparse`` (``sparse=True``)
    writes the allocated bytes, scp writes every byte of the file
    (``apparent(path)`` on the source). Backing images the destination's
    cache lacks are fetched by finish_migration.
    """
    items = []
    copied = cold_copied(disks)
    for disk in copied:
        name = os.path.basename(disk['path'])
        size = disk['disk_size'] if sparse else apparent(disk['path'])
        if size is None:
            raise _invalid('cannot read the size of %s' % disk['path'])
        items.append(Item(name, os.path.join(instance_dir, name), size))
    items += _backing_items(copied, cache_dir, has_base)
    return Need(items, headroom)


def allocated_need(allocations, headroom):
    """The part of a block migration's need that the source can be sure of.

    Each local disk's allocated bytes (``[(name, bytes)]``), plus headroom.
    """
    return Need([Item(name, name, size) for name, size in allocations],
                headroom)


def local_disk_paths(disks, volume_devs=()):
    """Paths of the guest's local file disks.

    ``disks`` are the guest's parsed ``<disk>`` devices (nova's
    ``Guest.get_all_disks()``); the result is the disks nova's disk info
    lists (file-backed, not volumes), found without running qemu-img: the
    source's pre-check only needs their allocated bytes, one stat each.
    ``volume_devs`` are target devices of attached volumes (``vdb``).
    """
    return [d.source_path for d in disks
            if d.source_type == 'file' and d.source_path and
            d.target_dev not in volume_devs]
