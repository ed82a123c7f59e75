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

"""What one run of the real main job cost: wall time and peak memory.

Written by ``xloud-migration-demo --hypervisor libvirt`` beside its JSON
report (:data:`FILE_NAME`), read by ``benchmarks/bench_budget.py`` (the
bench tier, after the real-cloud tier in CI), which prints it against the
budgets (issue 14): the real main job within 12 min warm, 20 min fresh,
the whole cloud within 4 GiB.

- Wall time per phase: ``env`` (from the start of the ``tox`` that runs
  the demo to the demo's own start: the environment's creation or check,
  its installs; None when not run by tox), ``start`` (the cloud's start,
  the guest's build included), ``scenarios``, ``stop``.
- ``fresh``: whether this run built the guest or QEMU caches (a fresh
  machine; later runs reuse them: warm), and ``built``, what it built
  (the tox environment counts as built when tox created it in this run).
- Memory: the sum of the proportional set size (PSS) of every process of
  the cloud (control plane, libvirtd, QEMU, swtpm, nova-compute...),
  sampled every :data:`INTERVAL` seconds; the peak and its process count.
  Sampled: a peak between two samples is missed.
"""

import json
import os
import sys
import threading
import time

FILE_NAME = 'xloud-migration-budget.json'
INTERVAL = 3.0


def pss_bytes(pid):
    """The PSS of ``pid`` in bytes, or 0 once it is gone."""
    try:
        with open('/proc/%d/smaps_rollup' % pid) as f:
            for line in f:
                if line.startswith('Pss:'):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    return 0


def _boot_time():
    with open('/proc/stat') as f:
        for line in f:
            if line.startswith('btime '):
                return int(line.split()[1])
    return None


def _stat_fields(pid):
    """The fields of /proc/PID/stat after the command name (state first)."""
    with open('/proc/%d/stat' % pid) as f:
        return f.read().rsplit(')', 1)[1].split()


def _started_at(pid):
    """When ``pid`` started (epoch seconds), or None."""
    try:
        ticks = int(_stat_fields(pid)[19])
        return _boot_time() + ticks / os.sysconf('SC_CLK_TCK')
    except (OSError, ValueError, IndexError, TypeError):
        return None


def _parent_of(pid):
    """The parent of ``pid``, or None."""
    try:
        return int(_stat_fields(pid)[1])
    except (OSError, ValueError, IndexError):
        return None


def _tox_start(pid=None):
    """When the tox that runs us started (epoch seconds), or None.

    tox may be further up than our parent: ``tox -e real-cloud`` runs the
    guide's block runner, which runs the page's command with bash.
    """
    pid = os.getppid() if pid is None else pid
    while pid and pid > 1:
        try:
            with open('/proc/%d/cmdline' % pid, 'rb') as f:
                argv = f.read().split(b'\0')
        except OSError:
            return None
        if any(os.path.basename(a) == b'tox' or a == b'tox' for a in argv):
            return _started_at(pid)
        pid = _parent_of(pid)
    return None


def cache_dirs():
    """The caches a fresh machine builds in its first run."""
    from xloud_harness.heartbeat import build
    from xloud_harness import layout as harness_layout

    from xloud_migration_cloud.real import layout
    cache = build.cache_dir()
    return {'guest': os.path.join(cache, 'guest'),
            'guest disk': os.path.join(cache, 'guest-disk'),
            'QEMU capabilities': harness_layout.CAPS_CACHE_DIR,
            'QEMU lacking popcnt': layout.LACKING_QEMU_CACHE}


def _entries(path):
    try:
        return set(n for n in os.listdir(path) if not n.startswith('.'))
    except OSError:
        return set()


class Recorder(object):
    """Times the phases of one run and samples its cloud's memory.

    ``pids()`` lists the cloud's processes now.
    """

    def __init__(self, pids, interval=INTERVAL):
        self._pids = pids
        self._interval = interval
        self._stop = threading.Event()
        self._thread = None
        self.started = time.time()
        self.tox_started = _tox_start()
        self._caches = {name: _entries(path)
                        for name, path in cache_dirs().items()}
        self._last = time.monotonic()
        self.phases = {}
        self.peak = (0, 0)  # (bytes, processes)
        self.samples = 0

    def start(self):
        self._thread = threading.Thread(target=self._sample_loop,
                                        daemon=True)
        self._thread.start()
        return self

    def _sample_loop(self):
        while not self._stop.wait(self._interval):
            self.sample()

    def sample(self):
        try:
            pids = self._pids()
        except Exception:  # the cloud is being stopped or swept
            return
        total = sum(pss_bytes(pid) for pid in pids)
        self.samples += 1
        if total > self.peak[0]:
            self.peak = (total, len(pids))

    def mark(self, phase):
        """The phase ``phase`` ended now."""
        now = time.monotonic()
        self.phases[phase] = round(now - self._last, 1)
        self._last = now

    def data(self):
        self._stop.set()
        if self._thread:
            self._thread.join(self._interval + 30)
        built = sorted(name for name, path in cache_dirs().items()
                       if _entries(path) - self._caches[name])
        env = None
        if self.tox_started is not None:
            env = round(self.started - self.tox_started, 1)
            cfg = os.path.join(sys.prefix, 'pyvenv.cfg')
            if os.path.getmtime(cfg) >= self.tox_started:
                built.append('tox environment')
        total = sum(self.phases.values()) + (env or 0)
        return {
            'wall_s': dict(self.phases, env=env, total=round(total, 1)),
            'fresh': bool(set(built) - {'tox environment'}),
            'built': built,
            'memory': {'peak_pss_bytes': self.peak[0],
                       'processes_at_peak': self.peak[1],
                       'samples': self.samples,
                       'interval_s': self._interval},
        }

    def write(self, directory):
        path = os.path.join(directory, FILE_NAME)
        with open(path, 'w') as f:
            json.dump(self.data(), f, indent=1)
        return path
