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

"""The heartbeat guest as one bootable disk image (qcow2 or raw).

nova boots it from a single glance image, with no ``kernel_id`` or
``ramdisk_id`` (nova's deep image inspection refuses a kernel image on a
block migration's destination). The disk holds an MBR with one bootable
FAT16 partition; SYSLINUX boots from it the same kernel and initramfs as
:func:`.build.build` (so the guest writes the same heartbeat lines to
ttyS0). Everything comes from Debian packages (``syslinux``,
``syslinux-common``, ``mtools``, ``dosfstools``, ``qemu-utils``): no mount,
no loop device, no root needed. Cached beside the kernel guest, keyed by
the guest and the tools' package versions.

Call :func:`build_disk` (``disk_format='qcow2'`` or ``'raw'``).
"""

import collections
import hashlib
import os
import shutil
import struct

from xloud_harness.heartbeat import build

DISK_PACKAGES = ('syslinux', 'syslinux-common', 'mtools', 'dosfstools')
#: Where Debian's packages put the MBR boot code (first one found).
MBR_CODE = ('/usr/lib/SYSLINUX/mbr.bin', '/usr/lib/syslinux/mbr/mbr.bin')
DISK_MIB = 64
SECTOR = 512
#: First sector of the partition (1 MiB, as partitioning tools align).
PART_START = 2048
#: Bumped when the layout below changes, so that caches are rebuilt.
LAYOUT_VERSION = '1'

SYSLINUX_CFG = """DEFAULT heartbeat
PROMPT 0
TIMEOUT 0
LABEL heartbeat
  LINUX /vmlinuz
  INITRD /initrd.gz
  APPEND {cmdline}
"""

DiskImage = collections.namedtuple('DiskImage', 'path disk_format')


def _mbr_code():
    for path in MBR_CODE:
        if os.path.isfile(path):
            with open(path, 'rb') as f:
                return f.read(440)
    raise build.BuildError('no SYSLINUX MBR code at %s: install the '
                           'syslinux package (tools/install-debian-deps.sh)'
                           % ' or '.join(MBR_CODE))


def partition_table(start, sectors):
    """Bytes 440-511 of an MBR: one bootable FAT16 (LBA) partition."""
    # CHS fields say "use LBA" (0xfe 0xff 0xff), as for any disk > 8 GB.
    entry = struct.pack('<B3sB3sII', 0x80, b'\xfe\xff\xff', 0x0e,
                        b'\xfe\xff\xff', start, sectors)
    return (b'XLHB' + b'\0\0' + entry + b'\0' * 48 + b'\x55\xaa')


def _write_disk(work, guest, raw):
    part = os.path.join(work, 'part.img')
    sectors = DISK_MIB * 1024 * 1024 // SECTOR - PART_START
    # Hidden sectors = the partition's offset: SYSLINUX's boot sector
    # finds its files relative to it.
    build._run(['mkfs.fat', '-C', '-F', '16', '-n', 'XLOUDHB',
                '-h', str(PART_START), part, str(sectors * SECTOR // 1024)])
    cfg = os.path.join(work, 'syslinux.cfg')
    with open(cfg, 'w') as f:
        f.write(SYSLINUX_CFG.format(cmdline=guest.cmdline))
    for src, name in ((guest.kernel, 'vmlinuz'),
                      (guest.initramfs, 'initrd.gz'), (cfg, 'syslinux.cfg')):
        build._run(['mcopy', '-i', part, src, '::' + name])
    build._run(['syslinux', '--install', part])
    with open(raw, 'wb') as disk:
        disk.write(_mbr_code() + partition_table(PART_START, sectors))
        disk.seek(PART_START * SECTOR)
        with open(part, 'rb') as f:
            shutil.copyfileobj(f, disk)
        disk.truncate(DISK_MIB * 1024 * 1024)


def _key(guest):
    digest = hashlib.sha256(LAYOUT_VERSION.encode())
    digest.update(os.path.basename(os.path.dirname(guest.kernel)).encode())
    for name in DISK_PACKAGES:
        digest.update(('%s=%s\n' % (name, build.candidate_version(name)))
                      .encode())
    digest.update(SYSLINUX_CFG.encode())
    return digest.hexdigest()[:16]


def build_disk(cache=None, disk_format='qcow2'):
    """The heartbeat guest's boot disk: a :class:`DiskImage`.

    Built on first use (about 2 s once the guest itself is built), then
    from cache. ``disk_format`` is ``'qcow2'`` or ``'raw'``; the image
    boots under QEMU's default BIOS (SeaBIOS) from a virtio, IDE or SCSI
    disk with the same heartbeat as :func:`.build.build`.
    """
    if disk_format not in ('qcow2', 'raw'):
        raise ValueError('disk_format must be qcow2 or raw, not %r'
                         % disk_format)
    cache = cache or build.cache_dir()
    guest = build.build(cache)

    def make(work, staged):
        raw = os.path.join(staged, 'heartbeat.raw')
        _write_disk(work, guest, raw)
        build._run(['qemu-img', 'convert', '-f', 'raw', '-O', 'qcow2', raw,
                    os.path.join(staged, 'heartbeat.qcow2')])

    out = build.cached(os.path.join(cache, 'guest-disk'), _key(guest), make)
    return DiskImage(os.path.join(out, 'heartbeat.' + disk_format),
                     disk_format)
