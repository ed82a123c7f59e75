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

"""Where the real cloud lives on this machine: fixed names, one at a time.

Fixed, not random, so that a run that was killed is found and removed by
the next one (:mod:`.sweep`); the lock makes sure only one real cloud runs
on the machine. Names and subnet differ from the integration tier's
(``/run/xloud-integration``, 10.77.0.0/24, ``xhost-*``): both can run at
once.
"""

import collections
import os
import shutil
import uuid

WORK_DIR = '/run/xloud-cloud'
#: What the real cloud runs, from Debian packages
#: (tools/install-debian-deps.sh).
COMMANDS = ('libvirtd', 'qemu-system-x86_64', 'bindfs', 'mariadbd',
            '/usr/lib/rabbitmq/bin/rabbitmq-server', 'rsync', 'swtpm')
LOCK_FILE = '/run/xloud-cloud.lock'
#: Namespace files of the hosts (a private bind mount of its own).
NS_DIR = os.path.join(WORK_DIR, 'ns')
#: Pids (and start times) of the control plane's processes, for the sweep.
PIDS_FILE = os.path.join(WORK_DIR, 'control.pids')
#: Mount points this run had to create in the real filesystem.
CREATED_DIRS_FILE = os.path.join(WORK_DIR, 'created-dirs')

BRIDGE = 'xlcbr0'
PREFIX_LEN = 24
CONTROL_IP = '10.78.0.254'
CONTROL_HOST = 'xlc-control'

#: Inside each host: its own copy of these (bind mounts in its mount
#: namespace); everything else is the machine's.
PRIVATE_DIRS = ('/etc/libvirt', '/run/libvirt', '/var/lib/libvirt',
                '/var/log/libvirt', '/var/cache/libvirt', '/var/log/swtpm',
                '/var/lib/swtpm-localca', '/var/lib/nova')
PRIVATE_FILES = ('/etc/hosts',)
#: Bind mount points the machine may lack (created, then removed).
RUNTIME_DIRS = ('/run/libvirt', '/var/log/swtpm', '/var/lib/swtpm-localca',
                '/var/lib/nova')
#: nova's ``instances_path`` in every host: nova's default, where an
#: operator looks (``df -h /var/lib/nova/instances`` on a host shows that
#: host's instances filesystem, as the operator's guide has it).
INSTANCES_PATH = '/var/lib/nova/instances'

XLOUD_DRIVER = 'xloud.XloudLibvirtDriver'
STOCK_DRIVER = 'libvirt.LibvirtDriver'

#: ``storage``: ``shared`` (one instances directory for all such hosts),
#: ``small`` (a filesystem of its own, SMALL_FS_MB), ``local`` (a private
#: directory).
HostSpec = collections.namedtuple('HostSpec', 'name ip driver storage')
HOSTS = (
    HostSpec('xlc-a', '10.78.0.11', XLOUD_DRIVER, 'shared'),
    HostSpec('xlc-b', '10.78.0.12', XLOUD_DRIVER, 'shared'),
    HostSpec('xlc-c', '10.78.0.13', XLOUD_DRIVER, 'small'),
    HostSpec('xlc-d', '10.78.0.14', XLOUD_DRIVER, 'local'),
    HostSpec('xlc-s', '10.78.0.15', STOCK_DRIVER, 'local'),
    HostSpec('xlc-e', '10.78.0.16', XLOUD_DRIVER, 'local'),
)
SMALL_FS_MB = 1536
#: What the small host keeps free (a ballast file takes the rest): room for
#: a block migration of the heartbeat guest from a host with thin disks
#: (about 260 MiB with the safeguard's 256 MiB headroom), not for two at
#: once (the concurrent block migration scenario), nor for one from a
#: PREALLOCATING_HOSTS host (its 1 GiB disk allocated in full).
SMALL_FREE_MB = 440
#: Hosts with ``preallocate_images = space``.
PREALLOCATING_HOSTS = ('xlc-d',)

#: The guests' CPU model (``[libvirt] cpu_mode = custom``, ``cpu_models``);
#: Nehalem has ``popcnt``.
GUEST_CPU_MODEL = 'Nehalem'
#: Hosts whose QEMU really lacks CPU features (xloud_harness.lacking_qemu:
#: a wrapper bind-mounted over QEMU in the host), and the model their own
#: guests run instead (Penryn has no ``popcnt``). A guest started on any
#: other host cannot run there: Xloud's CPU pre-check refuses it.
LACKING_HOSTS = {'xlc-e': (('popcnt',), 'Penryn')}
#: Kept across runs, as libvirt's own cache: the wrapper (whose ctime
#: libvirt's capability cache checks), the copy of QEMU it runs, and that
#: cache edited to say what the wrapped QEMU lacks.
LACKING_QEMU_CACHE = '/var/cache/xloud-cloud'

#: The shared instances directory (real path) of the ``shared`` hosts.
SHARED_INSTANCES = os.path.join(WORK_DIR, 'shared-instances')
#: Backing files of the small hosts' filesystems.
LOOP_DIR = os.path.join(WORK_DIR, 'loop')


def unavailable():
    """Why this machine cannot run the real cloud, or None if it can."""
    if os.geteuid() != 0:
        return 'it needs root (namespaces, mounts, a bridge)'
    missing = [c for c in COMMANDS
               if shutil.which(c) is None and not os.path.exists(c)]
    if missing:
        return 'missing %s: run tools/install-debian-deps.sh' % ', '.join(
            missing)
    return None


def host_dir(name):
    """The real directory holding host ``name``'s private files."""
    return os.path.join(WORK_DIR, 'hosts', name)


def ns_file(name, kind):
    return os.path.join(NS_DIR, '%s.%s' % (name, kind))


def holder_pid_file(name):
    return os.path.join(host_dir(name), 'holder.pid')


def host_uuid(name):
    """Distinct per host, or libvirt refuses to migrate "to the same host"."""
    return str(uuid.uuid5(uuid.NAMESPACE_DNS, name + '.xloud-cloud'))


def veth(name):
    """(name inside the host, name on the bridge) of host ``name``'s veth."""
    return name + '-e', name + '-e-br'


def lacking_qemu_dir(features):
    return os.path.join(LACKING_QEMU_CACHE,
                        'qemu-lacking-' + '-'.join(features))
