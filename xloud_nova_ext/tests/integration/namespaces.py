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

"""A host's network, mount and UTS namespaces, kept alive by files.

Each namespace is bind-mounted onto a file in layout.NS_DIR (``unshare
--net=FILE``), so it lives without any process in it and one sweep of that
directory removes what any earlier run left. We do not use ``ip netns
add``: it leaves /run/netns mounted for ever.
"""

import os
import shlex

from xloud_nova_ext.tests.integration import layout
from xloud_nova_ext.tests.integration import mounts
from xloud_nova_ext.tests.integration import procs


def enter_argv(name):
    """The argv prefix that runs a command inside host ``name``."""
    return ['nsenter'] + ['--%s=%s' % ({'mnt': 'mount'}.get(k, k),
                                       layout.ns_file(name, k))
                          for k in layout.NS_KINDS] + ['--']


def inodes(name):
    """{kind: inode} of host ``name``'s namespaces that exist now."""
    found = {}
    for kind in layout.NS_KINDS:
        ino = procs.ns_inode(layout.ns_file(name, kind))
        if ino and os.path.ismount(layout.ns_file(name, kind)):
            found[kind] = ino
    return found


def _setup_script(name, binds):
    """Shell commands run once inside the new namespaces."""
    lines = ['set -e', 'ip link set lo up', 'hostname %s' % name]
    for source, target in binds:
        lines.append('mount --bind %s %s' % (shlex.quote(source),
                                             shlex.quote(target)))
    # Drop this namespace's copy of the other hosts' namespace files, so that
    # no host keeps another's namespaces alive.
    lines.append('umount --lazy %s' % shlex.quote(layout.NS_DIR))
    return '\n'.join(lines)


def create(name, binds):
    """Create host ``name``'s namespaces; ``binds`` is [(source, target)]."""
    files = [layout.ns_file(name, k) for k in layout.NS_KINDS]
    for path in files:
        open(path, 'w').close()
    procs.run(['unshare', '--net=' + files[0], '--mount=' + files[1],
               '--uts=' + files[2], '--propagation', 'private', '--',
               'sh', '-c', _setup_script(name, binds)])


def link(spec_a, spec_b, prefix_len):
    """Join two hosts with a veth pair and address both ends."""
    procs.run(['ip', 'link', 'add', spec_a.ifname,
               'netns', layout.ns_file(spec_a.name, 'net'), 'type', 'veth',
               'peer', 'name', spec_b.ifname,
               'netns', layout.ns_file(spec_b.name, 'net')])
    for spec in (spec_a, spec_b):
        enter = ['nsenter', '--net=' + layout.ns_file(spec.name, 'net'), '--']
        procs.run(enter + ['ip', 'addr', 'add',
                           '%s/%d' % (spec.ip, prefix_len),
                           'dev', spec.ifname])
        procs.run(enter + ['ip', 'link', 'set', spec.ifname, 'up'])


def remove_leftover_links(specs):
    """Delete veth ends that an interrupted run left in our own namespace."""
    for spec in specs:
        procs.run(['ip', 'link', 'del', spec.ifname], check=False)


def destroy_all():
    """Unmount every namespace file; a namespace dies with its last user."""
    mounts.umount_under(layout.NS_DIR)
