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

"""Guests for the integration hosts: domain XML, vTPM secrets, migration."""

import threading
import time
import uuid as uuid_mod
from xml.etree import ElementTree as ET

try:
    import libvirt
except ImportError:  # the tests skip (or fail in CI) without it
    libvirt = None

QEMU = '/usr/bin/qemu-system-x86_64'

#: Block migration modes of :func:`live_migrate` and their libvirt flag.
BLOCK_FLAGS = {'incremental': 'VIR_MIGRATE_NON_SHARED_INC',
               'full': 'VIR_MIGRATE_NON_SHARED_DISK'}


def _sub(parent, tag, text=None, **attrs):
    node = ET.SubElement(parent, tag, attrs)
    node.text = text
    return node


def domain_xml(name, memory_mib=128, disk=None, disk_format='qcow2',
               vtpm_secret=None, cpu_model=None, uuid=None):
    """XML of a minimal TCG guest (domain type 'qemu', no OS needed).

    :param disk: path (inside the host) of a disk image, attached as vda
    :param vtpm_secret: UUID of a vTPM secret: adds a ``tpm-crb`` device
        with an emulator backend whose state that secret encrypts
    :param cpu_model: a named CPU model (``mode='custom'``,
        ``fallback='forbid'``) instead of QEMU's default
    """
    dom = ET.Element('domain', type='qemu')
    _sub(dom, 'name', name)
    _sub(dom, 'uuid', uuid or str(uuid_mod.uuid4()))
    _sub(dom, 'memory', str(memory_mib), unit='MiB')
    _sub(dom, 'vcpu', '1')
    os_el = _sub(dom, 'os')
    _sub(os_el, 'type', 'hvm', arch='x86_64', machine='pc')
    if cpu_model:
        cpu = _sub(dom, 'cpu', mode='custom', match='exact')
        _sub(cpu, 'model', cpu_model, fallback='forbid')
    _sub(dom, 'on_poweroff', 'destroy')
    _sub(dom, 'on_reboot', 'restart')
    _sub(dom, 'on_crash', 'destroy')
    devices = _sub(dom, 'devices')
    _sub(devices, 'emulator', QEMU)
    if disk:
        disk_el = _sub(devices, 'disk', type='file', device='disk')
        _sub(disk_el, 'driver', name='qemu', type=disk_format)
        _sub(disk_el, 'source', file=disk)
        _sub(disk_el, 'target', dev='vda', bus='virtio')
    if vtpm_secret:
        tpm = _sub(devices, 'tpm', model='tpm-crb')
        backend = _sub(tpm, 'backend', type='emulator', version='2.0')
        _sub(backend, 'encryption', secret=vtpm_secret)
    _sub(devices, 'memballoon', model='none')
    return ET.tostring(dom, encoding='unicode')


def start_guest(conn, xml):
    """Define ``xml`` persistently on ``conn``, start it, return it."""
    dom = conn.defineXML(xml)
    dom.create()
    return dom


def define_vtpm_secret(conn, value, secret_uuid=None, private=True,
                       ephemeral=False):
    """Define a ``vtpm`` usage secret holding ``value`` (bytes); its UUID.

    A private secret's value cannot be read back through libvirt.
    """
    secret_uuid = secret_uuid or str(uuid_mod.uuid4())
    secret = ET.Element('secret', ephemeral='yes' if ephemeral else 'no',
                        private='yes' if private else 'no')
    _sub(secret, 'uuid', secret_uuid)
    usage = _sub(secret, 'usage', type='vtpm')
    _sub(usage, 'name', 'xloud-vtpm-%s' % secret_uuid)
    conn.secretDefineXML(ET.tostring(secret, encoding='unicode')).setValue(
        value)
    return secret_uuid


def qemu_io_argv(path, commands, read_only=False, fmt='qcow2'):
    """argv of ``qemu-io`` running ``commands`` on image ``path``.

    E.g. ``['write -P 0x5a 0 8M']`` fills 8 MiB with a pattern, ``['read
    -P 0x5a 0 8M']`` exits non-zero unless the pattern is there.
    ``read_only`` also skips the image lock a running guest holds.
    """
    argv = ['qemu-io', '-f', fmt]
    if read_only:
        argv += ['-r', '-U']
    for command in commands:
        argv += ['-c', command]
    return argv + [path]


class MigrationTimeout(Exception):
    pass


def migration_flags(block=None):
    """nova's live migration flags; ``block`` 'incremental' or 'full'."""
    flags = (libvirt.VIR_MIGRATE_LIVE | libvirt.VIR_MIGRATE_PEER2PEER |
             libvirt.VIR_MIGRATE_PERSIST_DEST |
             libvirt.VIR_MIGRATE_UNDEFINE_SOURCE)
    if block:
        flags |= getattr(libvirt, BLOCK_FLAGS[block])
    return flags


def live_migrate(dom, dest, block=None, timeout=60.0, params=None,
                 extra_flags=0):
    """Live-migrate ``dom`` peer-to-peer to host ``dest``; the seconds it took.

    ``dom`` comes from the source host's connection; its libvirtd connects
    to ``dest.peer_uri`` itself. ``block`` ('incremental' or 'full') copies
    non-shared disks, which must already exist on ``dest`` (as nova
    pre-creates them). After ``timeout`` seconds the job is aborted and
    :class:`MigrationTimeout` raised. libvirt errors propagate.
    """
    flags = migration_flags(block) | extra_flags
    outcome = {}

    def migrate():
        try:
            dom.migrateToURI3(dest.peer_uri, params or {}, flags)
        except Exception as exc:
            outcome['error'] = exc

    start = time.monotonic()
    worker = threading.Thread(target=migrate, daemon=True)
    worker.start()
    worker.join(timeout)
    if worker.is_alive():
        try:
            dom.abortJob()
        except libvirt.libvirtError:
            pass
        worker.join(10.0)
        raise MigrationTimeout('migration of %s to %s not done after %ss'
                               % (dom.name(), dest.name, timeout))
    if 'error' in outcome:
        raise outcome['error']
    return time.monotonic() - start
