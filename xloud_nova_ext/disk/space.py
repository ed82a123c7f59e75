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

"""What a host really has: free space, allocated files, remote answers."""

import os
import shlex

from xloud_nova_ext.disk import need as need_mod
from xloud_nova_ext import exception


class LocalFS(object):
    """The filesystem of this host, as nova-compute (not root) sees it.

    Tests replace a guard's ``fs`` with an object of the same four methods
    where the real filesystem cannot be used (nova's functional harness runs
    every compute in one process over one shared instances_path).
    """

    @staticmethod
    def free(path):
        """Bytes an unprivileged write can still use in ``path``'s fs.

        ``f_bavail``, not ``f_bfree``: the root reserve (5% on ext4 by
        default) is not available to nova-compute's QEMU or its copy.
        """
        st = os.statvfs(path)
        return st.f_bavail * st.f_frsize

    @staticmethod
    def allocated(path):
        """Allocated bytes of file ``path``, or None if it cannot be read.

        The same number ``qemu-img info`` prints as "disk size".
        """
        try:
            return os.stat(path).st_blocks * 512
        except OSError:
            return None

    @staticmethod
    def apparent(path):
        """Apparent size of ``path`` (what scp writes), or None."""
        try:
            return os.stat(path).st_size
        except OSError:
            return None

    @staticmethod
    def exists(path):
        return os.path.exists(path)


class Have(object):
    """Bytes a host has for a copy, with how they were counted."""

    def __init__(self, path, free, reserved=0, in_flight=0,
                 in_flight_count=0):
        self.path = path
        self.free = free
        self.reserved = reserved
        self.in_flight = in_flight
        #: None when the migrations in flight cannot be seen from here.
        self.in_flight_count = in_flight_count

    @property
    def available(self):
        return self.free - self.reserved - self.in_flight

    def describe(self):
        parts = ['%s free for unprivileged writes in %s' % (
            need_mod.fmt_bytes(self.free), self.path)]
        parts.append('less reserved_host_disk_mb %s'
                     % need_mod.fmt_bytes(self.reserved))
        if self.in_flight_count is None:
            parts.append('less migrations in flight there (not visible '
                         'from here)')
        else:
            parts.append('less %d block migration(s) in flight there %s'
                         % (self.in_flight_count,
                            need_mod.fmt_bytes(self.in_flight)))
        return ', '.join(parts)


def check_fits(need, have, host, kind):
    """Raise InsufficientDisk unless ``need`` fits in ``have``."""
    if need.total <= have.available:
        return
    in_flight = retry = ''
    if have.in_flight_count:
        in_flight = ('; %d block migration(s) in flight there hold %s'
                     % (have.in_flight_count,
                        need_mod.fmt_short(have.in_flight)))
        retry = 'Retry once those have finished. '
    needed = need_mod.fmt_short(need.total)
    available = need_mod.fmt_short(have.available)
    if needed == available:  # apart by less than the rounding: exact
        needed = need_mod.fmt_bytes(need.total)
        available = need_mod.fmt_bytes(have.available)
    raise exception.InsufficientDisk(
        kind=kind, host=host, needed=needed, per_disk=need.describe(),
        available=available, in_flight=in_flight,
        have_detail=have.describe(), retry=retry,
        shortfall=need_mod.fmt_short(need.total - have.available))


# Cold migration: the destination answers over nova's ssh channel.

def probe_script(instances_path, paths):
    """A POSIX sh command telling a destination's free space and files.

    Output: ``<f_bavail> <f_frsize>`` on the first line, then ``1`` or
    ``0`` per path, in order; exit status 1 when ``stat`` fails. ``stat -f``
    is coreutils, present wherever nova-compute runs; every path is
    shell-quoted.
    """
    commands = ["stat -f -c '%%a %%S' %s || exit 1"
                % shlex.quote(instances_path)]
    commands += ['if [ -e %s ]; then echo 1; else echo 0; fi'
                 % shlex.quote(p) for p in paths]
    return '; '.join(commands)


def parse_probe(output, paths):
    """(free bytes, {path: exists}) from :func:`probe_script`'s output.

    Raises ValueError on anything else, so a half-answer never reads as
    "enough".
    """
    lines = [line.strip() for line in output.splitlines() if line.strip()]
    if len(lines) != 1 + len(paths):
        raise ValueError('expected %d lines, got %r'
                         % (1 + len(paths), output[:200]))
    fields = lines[0].split()
    if len(fields) != 2 or not all(f.isdigit() for f in fields):
        raise ValueError('unexpected stat -f output %r' % lines[0])
    free = int(fields[0]) * int(fields[1])
    exists = {}
    for path, line in zip(paths, lines[1:]):
        if line not in ('0', '1'):
            raise ValueError('unexpected test -e output %r' % line)
        exists[path] = line == '1'
    return free, exists
