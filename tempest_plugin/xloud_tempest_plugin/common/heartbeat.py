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

"""The Xloud heartbeat: what a guest that can testify prints on its console.

A heartbeat guest writes, every 100 ms on its serial console::

    xloud-heartbeat boot_id=<32 hex> uptime_ms=<int> seq=<int> memsum=<8 hex>

(boot_id: random per boot; uptime_ms: the guest's monotonic clock; seq:
one more per line; memsum: the checksum of a memory area filled at boot).
Read before and after a move, it proves that the guest kept running (same
boot, growing uptime), that its memory arrived intact, and how long it was
paused around the switchover.
"""

import dataclasses
import re

LINE = re.compile(r'xloud-heartbeat boot_id=(?P<boot_id>[0-9a-f]{32}) '
                  r'uptime_ms=(?P<uptime_ms>\d+) seq=(?P<seq>\d+) '
                  r'memsum=(?P<memsum>[0-9a-f]{8})\b')
# What the guest aims for between two lines.
INTERVAL_MS = 100


@dataclasses.dataclass(frozen=True)
class Beat:
    boot_id: str
    uptime_ms: int
    seq: int
    memsum: str

    def __str__(self):
        return 'seq %d (boot %s, uptime %d ms, memsum %s)' % (
            self.seq, self.boot_id[:8], self.uptime_ms, self.memsum)


def parse(text):
    """Every complete heartbeat line in a console log, in order."""
    return [Beat(m['boot_id'], int(m['uptime_ms']), int(m['seq']),
                 m['memsum'])
            for m in LINE.finditer(text or '')]


def since(last, beats):
    """The beats of last's boot written after it, by sequence, one per seq.

    A console log that two QEMUs wrote around a switchover may hold a line
    twice; the first copy is kept.
    """
    seen = {}
    for b in beats:
        if b.boot_id == last.boot_id and b.seq > last.seq:
            seen.setdefault(b.seq, b)
    return [seen[seq] for seq in sorted(seen)]


def other_boots(last, beats):
    """Boot ids other than last's among beats, in order of appearance."""
    seen = []
    for b in beats:
        if b.boot_id != last.boot_id and b.boot_id not in seen:
            seen.append(b.boot_id)
    return seen


def gaps(last, newer):
    """(gap in ms, beat before, beat after) for each consecutive pair.

    The guest writes one line per 100 ms tick and skips the ticks it was
    late for, so the time between two lines beyond their share of ticks is
    a pause of the guest. For neighbours (seq n, n+1) that is the time
    between them; across lines missing from the console (a log restarted on
    the new host) it is the time between the two seen lines less the ticks
    of the unseen ones: an upper bound of the largest pause among them.
    """
    chain = [last] + list(newer)
    return [((b.uptime_ms - a.uptime_ms) -
             (b.seq - a.seq - 1) * INTERVAL_MS, a, b)
            for a, b in zip(chain, chain[1:])]


def largest_gap(last, newer):
    """The largest of gaps(last, newer), or None without a newer beat."""
    found = gaps(last, newer)
    return max(found, key=lambda g: g[0]) if found else None
