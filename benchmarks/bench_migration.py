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

"""Real migrations, Xloud compute against stock compute, on one real cloud.

Prints, per kind of move (live on shared storage, block, vTPM) and per
driver, the median of N moves (``--moves``, default 5; each series of a
kind starts with a round trip, printed as warm-up moves and not counted)
of:

- wall time: from the ``os-migrateLive`` request to the migration record's
  ``completed`` (polled every 0.1 s: the figures are good to about 0.1 s);
- QEMU's downtime: libvirt's completed-job statistics of the move
  (``downtime``), from the ``VIR_DOMAIN_EVENT_ID_JOB_COMPLETED`` event of
  the source's libvirtd. The benchmark listens for that event itself, on
  its own connection to the source host's libvirtd, for both drivers
  alike: the event XloudLibvirtDriver's own statistics line comes from,
  and the only way to read a stock source's figures (the source domain is
  undefined as soon as the move completes).

and the median seconds of each phase of the moves (``PHASES``: nova's
pre-checks, the preparation, the copy and what follows), which say where a
difference between the drivers comes from; then the ratio of the medians,
Xloud over stock, direction by direction (:func:`_verdict`: the two
directions of a kind differ on this test bed, and the drivers' moves do
not split alike between them), against the targets (wall ratio <= 1.05,
downtime at most 2 ms more), met or not met, with the medians per
direction. Figures, never an assertion: the machine is shared and noisy;
a move that fails is printed and counted out.

Design (fairness: same hosts, same guests, each direction compared with
itself):

- One real cloud (the real cloud's own start and stop,
  :class:`~xloud_migration_cloud.real.cloud.RealCloud`) with only the three
  hosts needed: ``xlc-a`` and ``xlc-b`` share their instances directory
  (live and vTPM moves between them), ``xlc-s`` has a local one (block
  moves between it and ``xlc-a``). All three start with the Xloud driver.
- Three guests (the heartbeat guest; the vTPM one with
  ``hw:tpm_secret_security=host``, booted as admin) go back and forth, one
  move at a time: ``N`` moves per kind, half in each direction.
- Then the same nova-compute processes are restarted with
  ``compute_driver = libvirt.LibvirtDriver``
  (:meth:`~xloud_migration_cloud.real.cloud.RealCloud.set_driver`; the
  guests keep running) and the same guests make the same moves; then they
  are restarted with the Xloud driver again for the rest of its moves
  (the first half of the Xloud moves before the stock series, the second
  after it).
- Between the two, with ``xlc-b`` already stock and ``xlc-a`` still Xloud,
  the live guest moves once each way: the stock<->Xloud live move on
  shared storage that the main job's rolling-install runs lack (printed as
  completed or failed, not timed against a target).

The series run Xloud, stock, Xloud (N/2 Xloud moves per kind before the
stock series, the rest after), not one after the other: with the stock
series last, one run found every phase of the Xloud moves slower, QEMU's
copy included, where no Xloud code runs (the machine's state during the
first series: guests just booted, a control plane just started, other
runs); a drift in time now weighs on both drivers alike. More
interleaving would cost a restart of the computes each. Each series of a
kind starts with a round trip of warm-up moves: the first
move to each host after a (re)start of its nova-compute pays one-time
costs (nova's privsep daemon, a backing image fetched into its cache: 2
to 3 s more, for either driver), which counted in fell on the first
series (the cloud's start) and on the first moves of the second (the
restart): an order bias, seen as a 1.6 block wall ratio.
Load from other jobs on the machine in either series shows as noise in the
ratios.

Run as root on a machine that can run the real cloud (``tox -e bench``)::

    python benchmarks/bench_migration.py [--moves N]
"""

import argparse
import collections
import os
import statistics
import sys
import threading
import time

STOCK = 'libvirt.LibvirtDriver'
XLOUD = 'xloud.XloudLibvirtDriver'
HOSTS = ('xlc-a', 'xlc-b', 'xlc-s')
#: kind: (flavor, the two hosts it moves between, block migration)
KINDS = (
    ('live', 'xl1', ('xlc-a', 'xlc-b'), False),
    ('block', 'xl1', ('xlc-a', 'xlc-s'), True),
    ('vTPM', 'bench-vtpm', ('xlc-a', 'xlc-b'), False),
)
VTPM_SPECS = {'hw:tpm_version': '2.0', 'hw:tpm_model': 'tpm-crb',
              'hw:tpm_secret_security': 'host'}
#: Moves per kind and driver before the measured ones, not counted: one
#: there and back, so that each of the kind's two hosts has received one.
WARM_UP = 2
WALL_RATIO_TARGET = 1.05
DOWNTIME_DELTA_TARGET_MS = 2
POLL = 0.1


#: Phases of a live migration, as its record's status shows them: nova's
#: pre-checks (API, scheduler, conductor, destination and source checks:
#: the Xloud pre-checks run there), the preparation (the source's disk
#: information, then the destination's pre_live_migration: the Xloud disk
#: reservation), and the copy with what follows (the Xloud statistics line,
#: the destination's release), each ending when the record's next status
#: was first seen (polled every POLL s).
PHASES = ('pre-check', 'prepare', 'copy+post')


class Move(collections.namedtuple('Move', 'wall downtime phases route')):
    """One move: wall s, QEMU downtime ms (or None), phase s, route."""


def phases(seen):
    """Seconds of each of PHASES from ``seen`` ({status: first seen at}).

    A phase shorter than the poll may show no status of its own: it then
    counts as 0 and the next phase holds its time (None if unknown).
    """
    bounds = [0.0]
    for statuses in (('queued', 'preparing', 'running'), ('running',),
                     ('completed',)):
        times = [seen[s] for s in statuses if s in seen]
        bounds.append(min(times) if times else None)
    out = []
    for start, end in zip(bounds, bounds[1:]):
        out.append(None if start is None or end is None else end - start)
    return tuple(out)


class JobEvents(object):
    """Completed-job statistics of outgoing migrations, from the hosts.

    One connection per host with libvirt's default event loop running in a
    thread of ours.
    """

    def __init__(self, hosts):
        import libvirt
        libvirt.virEventRegisterDefaultImpl()
        self._outgoing = libvirt.VIR_DOMAIN_JOB_OPERATION_MIGRATION_OUT
        self._stats = {}
        self._cond = threading.Condition()
        thread = threading.Thread(target=self._loop, args=(libvirt,),
                                  daemon=True)
        thread.start()
        self._conns = []
        for host in hosts:
            conn = libvirt.open(host.uri)
            conn.domainEventRegisterAny(
                None, libvirt.VIR_DOMAIN_EVENT_ID_JOB_COMPLETED,
                self._completed, host.name)
            self._conns.append(conn)

    @staticmethod
    def _loop(libvirt):
        while True:
            libvirt.virEventRunDefaultImpl()

    def _completed(self, conn, dom, params, host):
        if params.get('operation') == self._outgoing:
            with self._cond:
                self._stats[(host, dom.UUIDString())] = dict(params)
                self._cond.notify_all()

    def forget(self, host, uuid):
        with self._cond:
            self._stats.pop((host, uuid), None)

    def wait(self, host, uuid, timeout=10):
        """The statistics of ``uuid``'s move out of ``host``, or None."""
        with self._cond:
            self._cond.wait_for(lambda: (host, uuid) in self._stats, timeout)
            return self._stats.pop((host, uuid), None)


class Bench(object):

    def __init__(self, cloud):
        from xloud_migration_cloud.real import admin
        self.real = cloud
        self.admin = admin.Admin(cloud)
        self.terminal = admin.TERMINAL
        self.events = JobEvents(cloud.hosts)
        #: (kind, driver) -> [(wall s, downtime ms or None)]
        self.results = {}
        self.failures = []
        self.mixed = []

    def vtpm_flavor(self):
        self.admin.api('POST', '/flavors', json={'flavor': {
            'id': 'bench-vtpm', 'name': 'bench-vtpm', 'ram': 128,
            'vcpus': 1, 'disk': 1}})
        self.admin.api('POST', '/flavors/bench-vtpm/os-extra_specs',
                       json={'extra_specs': VTPM_SPECS})

    def boot(self):
        """{kind: server id}, every guest ACTIVE on its first host."""
        ids = {}
        for kind, flavor, hosts, _block in KINDS:
            ids[kind] = self.admin.api('POST', '/servers', json={'server': {
                'name': 'bench-' + kind, 'imageRef': self.admin.image,
                'flavorRef': flavor, 'networks': 'none',
                'host': hosts[0]}})['server']['id']
        for server_id in ids.values():
            self.admin.wait_settled(server_id)
        return ids

    def move(self, server_id, source, dest, block):
        """The figures (a :class:`Move`) of one live migration."""
        self.admin.wait_settled(server_id)
        self.events.forget(source, server_id)
        before = (self.admin.migration(server_id) or {}).get('id', 0)
        start = time.monotonic()
        self.admin.live_migrate(server_id, dest, block)
        seen = {}  # status: seconds since the request, when first seen
        while True:
            migration = self.admin.migration(server_id)
            if migration and migration['id'] > before:
                seen.setdefault(migration['status'],
                                time.monotonic() - start)
                if migration['status'] in self.terminal:
                    break
            if time.monotonic() - start > 300:
                raise AssertionError('no end of the move of %s to %s in '
                                     '300 s' % (server_id, dest))
            time.sleep(POLL)
        wall = time.monotonic() - start
        if migration['status'] != 'completed':
            raise AssertionError('move %s -> %s of %s: migration %s' % (
                source, dest, server_id, migration['status']))
        server = self.admin.wait_settled(server_id)
        if server['OS-EXT-SRV-ATTR:host'] != dest:
            raise AssertionError('%s is on %s after its move to %s' % (
                server_id, server['OS-EXT-SRV-ATTR:host'], dest))
        stats = self.events.wait(source, server_id)
        return Move(wall, (stats or {}).get('downtime'), phases(seen),
                    (source, dest))

    def series(self, driver, ids, moves):
        """``moves`` measured moves per kind, after WARM_UP moves.

        The warm-up moves are printed, not counted: the first move of a
        kind to each host after the computes (re)started pays one-time
        costs there (nova's privsep daemon, a backing image fetched into
        its cache: 2 to 3 s more in the "prepare" phase, measured here for
        both drivers), which would otherwise fall on whichever series ran
        first, or on the first moves of each.
        """
        for kind, _flavor, hosts, block in KINDS:
            for n in range(WARM_UP + moves if moves else 0):
                warm_up = n < WARM_UP
                source = dest = '?'
                try:
                    # Back and forth, from wherever it is.
                    source = self.admin.wait_settled(
                        ids[kind])['OS-EXT-SRV-ATTR:host']
                    dest = hosts[1] if source == hosts[0] else hosts[0]
                    figures = self.move(ids[kind], source, dest, block)
                except Exception as e:  # counted out, printed
                    self.failures.append('%s, %s, %s -> %s: %s' % (
                        kind, driver, source, dest, str(e)[:300]))
                    print('  %-5s %-26s %s -> %s: FAILED (see the end)' % (
                        kind, driver, source, dest), flush=True)
                    break
                if not warm_up:
                    self.results.setdefault((kind, driver), []).append(
                        figures)
                print('  %-5s %-26s %s -> %s: %.2f s (%s), QEMU downtime %s '
                      'ms%s' % (kind, driver, source, dest, figures.wall,
                                ', '.join('%s %.1f s' % p for p in
                                          zip(PHASES, figures.phases)),
                                figures.downtime,
                                ' (warm-up, not counted)' if warm_up else ''),
                      flush=True)

    def mixed_live(self, server_id):
        """Xloud xlc-a <-> stock xlc-b, both ways, on shared storage.

        From wherever the guest is: after an odd number of moves in the
        series before, it is on xlc-b (a move "to" its own host is refused
        by nova's conductor, and ends as a migration in error).
        """
        moves = [('Xloud xlc-a -> stock xlc-b', 'xlc-a', 'xlc-b'),
                 ('stock xlc-b -> Xloud xlc-a', 'xlc-b', 'xlc-a')]
        here = self.admin.wait_settled(server_id)['OS-EXT-SRV-ATTR:host']
        if here == 'xlc-b':
            moves.reverse()
        for label, source, dest in moves:
            try:
                figures = self.move(server_id, source, dest, False)
                self.mixed.append('%s: completed in %.2f s, QEMU downtime '
                                  '%s ms' % (label, figures.wall,
                                             figures.downtime))
            except Exception as e:  # counted out, printed
                self.mixed.append('%s: FAILED: %s' % (label, str(e)[:300]))
                return


def _median(values):
    values = [v for v in values if v is not None]
    return statistics.median(values) if values else None


def _by_route(figures):
    """{(source, destination): (median wall s, median downtime ms)}."""
    routes = collections.defaultdict(list)
    for f in figures:
        routes[f.route].append(f)
    return {route: (_median([f.wall for f in moves]),
                    _median([f.downtime for f in moves]))
            for route, moves in routes.items()}


def table(results):
    lines = ['%-6s | %-6s | %2s | %13s | %18s | %s' % (
        'kind', 'driver', 'n', 'median wall s', 'median downtime ms',
        'ratio Xloud/stock, direction by direction (targets: wall <= '
        '%.2f, downtime <= +%d ms)' % (WALL_RATIO_TARGET,
                                       DOWNTIME_DELTA_TARGET_MS))]
    for kind, _flavor, _hosts, _block in KINDS:
        routes = {}
        for label, driver in (('stock', STOCK), ('Xloud', XLOUD)):
            figures = results.get((kind, driver), [])
            wall = _median([f.wall for f in figures])
            down = _median([f.downtime for f in figures])
            routes[label] = _by_route(figures)
            verdict = ''
            if label == 'Xloud':
                verdict = _verdict(routes['stock'], routes['Xloud'])
            lines.append('%-6s | %-6s | %2d | %13s | %18s | %s' % (
                kind, label, len(figures),
                '-' if wall is None else '%.2f' % wall,
                '-' if down is None else '%.0f' % down, verdict))
    return '\n'.join(lines)


def route_table(results):
    """Median wall s / downtime ms per direction of each kind and driver."""
    lines = ['%-6s | %-13s | %-22s | %s' % (
        'kind', 'direction', 'stock: n, wall, down', 'Xloud: n, wall, down')]
    for kind, _flavor, _hosts, _block in KINDS:
        by = {label: (_by_route(results.get((kind, driver), [])),
                      collections.Counter(f.route for f in results.get(
                          (kind, driver), [])))
              for label, driver in (('stock', STOCK), ('Xloud', XLOUD))}
        for route in sorted(set(by['stock'][0]) | set(by['Xloud'][0])):
            cells = []
            for label in ('stock', 'Xloud'):
                medians, counts = by[label]
                wall, down = medians.get(route, (None, None))
                cells.append('%d, %s s, %s ms' % (
                    counts[route], '-' if wall is None else '%.2f' % wall,
                    '-' if down is None else '%.0f' % down))
            lines.append('%-6s | %-13s | %-22s | %s' % (
                kind, '%s>%s' % route, cells[0], cells[1]))
    return '\n'.join(lines)


def phase_table(results):
    """Median seconds of each phase of a move, per kind and driver."""
    lines = ['%-6s | %-6s | %s' % ('kind', 'driver', ' | '.join(
        '%13s' % p for p in PHASES))]
    for kind, _flavor, _hosts, _block in KINDS:
        for label, driver in (('stock', STOCK), ('Xloud', XLOUD)):
            figures = results.get((kind, driver), [])
            medians = [_median([f.phases[i] for f in figures])
                       for i in range(len(PHASES))]
            lines.append('%-6s | %-6s | %s' % (kind, label, ' | '.join(
                '%13s' % ('-' if m is None else '%.2f' % m)
                for m in medians)))
    return '\n'.join(lines)


def _verdict(stock, xloud):
    """Xloud against stock, each direction against the same direction.

    ``stock``, ``xloud``: :func:`_by_route` of each driver. The two
    directions of a kind are not alike on this test bed (live moves,
    2026-12-06: xlc-a to xlc-b 1.72 s and 31 ms of downtime, xlc-b to xlc-a
    1.94 s and 112 to 203 ms, for either driver), and a driver's moves
    need not split alike between them (the series' lengths are odd: 3 of
    one direction and 2 of the other for Xloud, the other way round for
    stock). So the wall ratio is the mean of the directions' ratios, and
    the downtime difference the mean of their differences.
    """
    routes = sorted(set(stock) & set(xloud))
    ratios = [xloud[r][0] / stock[r][0] for r in routes
              if stock[r][0] and xloud[r][0]]
    deltas = [xloud[r][1] - stock[r][1] for r in routes
              if stock[r][1] is not None and xloud[r][1] is not None]
    parts = []
    if ratios:
        ratio = statistics.mean(ratios)
        parts.append('wall %.3f (%s)' % (
            ratio, 'met' if ratio <= WALL_RATIO_TARGET else 'not met'))
    else:
        parts.append('wall: no figures')
    if deltas:
        delta = statistics.mean(deltas)
        parts.append('downtime %+.0f ms (%s)' % (
            delta, 'met' if delta <= DOWNTIME_DELTA_TARGET_MS
            else 'not met'))
    else:
        parts.append('downtime: no figures')
    return ', '.join(parts)


def _progress(message):
    print(message, file=sys.stderr, flush=True)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--moves', type=int, default=5,
                        help='measured moves per kind and driver, after %d '
                        'warm-up moves (default 5)' % WARM_UP)
    parser.add_argument('--workdir',
                        help='keep the cloud\'s logs in this directory')
    args = parser.parse_args(argv)
    print('Real migrations on one real cloud: Xloud compute vs stock '
          'compute, %d moves per kind and driver.' % args.moves, flush=True)
    try:
        from xloud_migration_cloud.real import cloud as real
        from xloud_migration_cloud.real import layout
        why = layout.unavailable()
    except ImportError as e:
        why = 'the real cloud (cloud/) is not installed: %s' % e
    if why:
        print('Not run: this machine cannot run the real cloud: %s' % why)
        # CI runs every tier for real: there, this is a failure.
        return 1 if os.environ.get('XLOUD_TEST_REQUIRE_ALL') == '1' else 0
    started = time.monotonic()
    cloud = real.RealCloud(args.workdir, progress=_progress, hosts=HOSTS,
                           drivers={h: XLOUD for h in HOSTS})
    with cloud:
        print('cloud of %s ready in %.0f s' % (
            ', '.join(HOSTS), time.monotonic() - started), flush=True)
        bench = Bench(cloud)
        bench.vtpm_flavor()
        ids = bench.boot()
        print('guests ACTIVE at %.0f s' % (time.monotonic() - started),
              flush=True)
        # Xloud, stock, Xloud: the stock series in the middle, so that a
        # machine getting faster or slower during the run weighs on both.
        first = (args.moves + 1) // 2
        bench.series(XLOUD, ids, first)
        cloud.set_driver(['xlc-b'], STOCK)
        bench.mixed_live(ids['live'])
        cloud.set_driver(['xlc-a', 'xlc-s'], STOCK)
        print('first half with Xloud done, computes restarted as stock at '
              '%.0f s' % (time.monotonic() - started), flush=True)
        bench.series(STOCK, ids, args.moves)
        cloud.set_driver(list(HOSTS), XLOUD)
        print('series with stock done, computes restarted as Xloud at %.0f '
              's' % (time.monotonic() - started), flush=True)
        bench.series(XLOUD, ids, args.moves - first)
    print(table(bench.results))
    print('Medians per direction (the ratios above compare these):')
    print(route_table(bench.results))
    print('Median seconds per phase (%s):' % ', '.join(PHASES))
    print(phase_table(bench.results))
    print('Stock<->Xloud live moves on shared storage:')
    for line in bench.mixed:
        print('  ' + line)
    for failure in bench.failures:
        print('FAILED move (counted out): ' + failure)
    print('bench_migration: %.0f s in all (cloud start and stop included)'
          % (time.monotonic() - started))
    return 0


if __name__ == '__main__':
    sys.exit(main())
