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

"""Where the integration hosts live on this machine.

Every name here is fixed, not random: a run that was killed must be found
and removed by the next one, and the exclusive lock in :data:`LOCK_FILE`
makes sure only one pair of hosts exists on the machine at a time.
"""

import collections
import os
import uuid

#: Held (flock) for the whole life of a host pair, stale clean-up included.
LOCK_FILE = '/run/xloud-integration.lock'

#: Everything a pair creates, removed at tear-down.
WORK_DIR = '/run/xloud-integration'

#: Persistent namespace files (net, uts of each host); a private mount.
NS_DIR = os.path.join(WORK_DIR, 'ns')

#: Backing files of the loop devices made by mount_small_fs().
LOOP_DIR = os.path.join(WORK_DIR, 'loop')

#: Mount points this run had to create in the real filesystem.
CREATED_DIRS_FILE = os.path.join(WORK_DIR, 'created-dirs')

#: QEMU capability cache kept between runs (probing it costs ~8 s).
CAPS_CACHE_DIR = '/var/cache/xloud-integration/qemu-capabilities'

#: Directories each host has for itself (bind-mounted inside its mount
#: namespace); everything else, /tmp included, is shared between hosts.
PRIVATE_DIRS = (
    '/etc/libvirt',
    '/run/libvirt',
    '/var/lib/libvirt',
    '/var/log/libvirt',
    '/var/cache/libvirt',
    '/var/log/swtpm',
    '/var/lib/swtpm-localca',
)

#: Files each host has for itself.
PRIVATE_FILES = ('/etc/hosts',)

#: Directories the real filesystem may lack; bind mounts need them.
RUNTIME_DIRS = ('/run/libvirt', '/var/log/swtpm', '/var/lib/swtpm-localca')

NS_KINDS = ('net', 'mnt', 'uts')

HostSpec = collections.namedtuple('HostSpec', 'name ip ifname')

#: The two hosts, joined by one veth pair; the addresses exist only inside
#: their network namespaces.
HOSTS = (
    HostSpec('xhost-a', '10.77.0.1', 'xhost-a-eth0'),
    HostSpec('xhost-b', '10.77.0.2', 'xhost-b-eth0'),
)
PREFIX_LEN = 24


def host_dir(name):
    """The real directory that holds host ``name``'s private files."""
    return os.path.join(WORK_DIR, name)


def ns_file(name, kind):
    """The file that keeps namespace ``kind`` of host ``name`` alive."""
    return os.path.join(NS_DIR, '%s.%s' % (name, kind))


def holder_pid_file(name):
    """Pid file of the process that holds host ``name``'s mount namespace."""
    return os.path.join(WORK_DIR, '%s.holder.pid' % name)


def host_uuid(name):
    """A stable UUID per host.

    Two hosts with the same one make libvirt refuse a migration with
    "Attempt to migrate guest to the same host".
    """
    return str(uuid.uuid5(uuid.NAMESPACE_DNS, name + '.xloud-integration'))
