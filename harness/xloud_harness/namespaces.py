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

"""A host's network, mount and UTS namespaces.

The network and UTS namespaces are bind-mounted onto files in
layout.NS_DIR (``unshare --net=FILE``), so they live without any process in
them and one sweep of that directory removes what any earlier run left. We
do not use ``ip netns add``: it leaves /run/netns mounted for ever.

The mount namespace is held by a process instead, the host's "holder"
(``sleep infinity``, pid in layout.holder_pid_file()): binding a mount
namespace file fails now and then with EINVAL when the test process is not
in the machine's initial mount namespace (e.g. in a container), which we
saw on kernel 6.18.
"""

import os
import shlex
import subprocess

from xloud_harness import layout
from xloud_harness import poll
from xloud_harness import process

FILE_KINDS = ('net', 'uts')
CREATE_TIMEOUT = 30.0


class NamespaceError(Exception):
    pass


def holder_pid(name):
    """Pid of the process that holds host ``name``'s mount namespace."""
    pid = process.read_pid(layout.holder_pid_file(name))
    if pid and process.alive(pid) and process.comm(pid) == 'sleep':
        return pid
    return None


def ns_paths(name):
    """{kind: path} of host ``name``'s namespaces that exist now."""
    paths = {}
    for kind in FILE_KINDS:
        path = layout.ns_file(name, kind)
        if os.path.ismount(path):
            paths[kind] = path
    pid = holder_pid(name)
    if pid:
        paths['mnt'] = '/proc/%d/ns/mnt' % pid
    return paths


def enter_argv(name):
    """The argv prefix that runs a command inside host ``name``."""
    paths = ns_paths(name)
    if sorted(paths) != sorted(layout.NS_KINDS):
        raise NamespaceError('host %s has no namespaces %s' % (
            name, sorted(set(layout.NS_KINDS) - set(paths))))
    return ['nsenter'] + ['--%s=%s' % ({'mnt': 'mount'}.get(k, k), p)
                          for k, p in sorted(paths.items())] + ['--']


def inodes(name):
    """{kind: inode} of host ``name``'s namespaces that exist now."""
    return {kind: process.ns_inode(path)
            for kind, path in ns_paths(name).items()}


def _setup_script(name, binds):
    """Shell commands run inside the new namespaces, then the holder."""
    lines = ['set -e', 'ip link set lo up', 'hostname %s' % name]
    for source, target in binds:
        lines.append('mount --bind %s %s' % (shlex.quote(source),
                                             shlex.quote(target)))
    # Drop this namespace's copy of the other hosts' namespace files, so that
    # no host keeps another's namespaces alive.
    lines.append('umount --lazy %s' % shlex.quote(layout.NS_DIR))
    lines.append('echo $$ > %s' % shlex.quote(layout.holder_pid_file(name)))
    lines.append('exec sleep infinity')
    return '\n'.join(lines)


def create(name, binds, log):
    """Create host ``name``'s namespaces; ``binds`` is [(source, target)].

    Returns the holder's pid. ``log`` (a file name) gets its errors.
    """
    files = [layout.ns_file(name, k) for k in FILE_KINDS]
    for path in files:
        open(path, 'w').close()
    with open(log, 'ab') as out:
        holder = subprocess.Popen(
            ['unshare', '--net=' + files[0], '--uts=' + files[1], '--mount',
             '--propagation', 'private', '--',
             'sh', '-c', _setup_script(name, binds)],
            stdin=subprocess.DEVNULL, stdout=out, stderr=out,
            close_fds=True, start_new_session=True)

    def failed():
        with open(log, errors='replace') as f:
            return NamespaceError('cannot create the namespaces of %s: %s'
                                  % (name, f.read()[-2000:]))

    def holding():
        if holder_pid(name) == holder.pid:
            return True
        if holder.poll() is not None:
            raise failed()
        return False

    try:
        poll.wait_until(holding, CREATE_TIMEOUT, 0.005,
                        what='the namespaces of ' + name)
    except poll.WaitTimeout:
        raise failed()
    return holder


def link(spec_a, spec_b, prefix_len):
    """Join two hosts with a veth pair and address both ends."""
    process.run(['ip', 'link', 'add', spec_a.ifname,
                 'netns', layout.ns_file(spec_a.name, 'net'), 'type', 'veth',
                 'peer', 'name', spec_b.ifname,
                 'netns', layout.ns_file(spec_b.name, 'net')])
    for spec in (spec_a, spec_b):
        enter = ['nsenter', '--net=' + layout.ns_file(spec.name, 'net'), '--']
        process.run(enter + ['ip', 'addr', 'add',
                             '%s/%d' % (spec.ip, prefix_len),
                             'dev', spec.ifname])
        process.run(enter + ['ip', 'link', 'set', spec.ifname, 'up'])


def remove_leftover_links(specs):
    """Delete veth ends that an interrupted run left in our own namespace."""
    for spec in specs:
        process.run(['ip', 'link', 'del', spec.ifname], check=False)
