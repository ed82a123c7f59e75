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

"""The real main job's wall time and memory against its budgets.

Budgets (issue 14), on a 2-core machine: the real main job (``tox -e
real-cloud``) within 12 min warm and 20 min fresh; the whole real cloud
within 4 GiB. The real-cloud tier records its figures
(``xloud-migration-budget.json`` beside its JSON report, see
:mod:`xloud_migration_cloud.real.budget`); this prints the last record,
with its age, and says whether that run was fresh or warm. It measures
nothing itself: with no record (the bench tier run alone), it says so.
Figures, not a test: a budget missed is printed, the exit status is 0.

    python benchmarks/bench_budget.py [RECORD]

RECORD defaults to CI's (``.ci-results/xloud-migration-budget.json``,
tools/run-tests.sh), else the one ``tox -e real-cloud`` leaves in the
repository's top directory.
"""

import json
import os
import sys
import time

WARM_S = 12 * 60
FRESH_S = 20 * 60
MEMORY_BYTES = 4 * 2 ** 30
CANDIDATES = ('.ci-results/xloud-migration-budget.json',
              'xloud-migration-budget.json')


def _verdict(ok):
    return 'met' if ok else 'NOT MET'


def _minutes(seconds):
    return '%d min %02d s' % divmod(round(seconds), 60)


def report(path):
    with open(path) as f:
        data = json.load(f)
    age = time.time() - os.path.getmtime(path)
    wall = data['wall_s']
    fresh = data['fresh']
    budget = FRESH_S if fresh else WARM_S
    memory = data['memory']
    lines = [
        'Real main job budgets, from %s (recorded %s ago)' % (
            path, _minutes(age)),
        '  run: %s%s' % ('fresh' if fresh else 'warm',
                         ' (built: %s)' % ', '.join(data['built'])
                         if data['built'] else
                         ' (guest and QEMU caches reused)'),
        '  wall: %s total = env %s + cloud start %s + scenarios %s + '
        'stop %s' % (_minutes(wall['total']),
                     '-' if wall['env'] is None else _minutes(wall['env']),
                     _minutes(wall['start']), _minutes(wall['scenarios']),
                     _minutes(wall['stop'])),
        '  wall budget (%s): <= %s: %s' % (
            'fresh' if fresh else 'warm', _minutes(budget),
            _verdict(wall['total'] <= budget)),
        '  memory: peak %.2f GiB PSS over %d processes (%d samples, every '
        '%.0f s); budget <= 4 GiB: %s' % (
            memory['peak_pss_bytes'] / 2 ** 30,
            memory['processes_at_peak'], memory['samples'],
            memory['interval_s'],
            _verdict(memory['peak_pss_bytes'] <= MEMORY_BYTES)),
    ]
    if wall['env'] is None:
        lines.append('  (not run by tox: the environment\'s build is not '
                     'counted)')
    return '\n'.join(lines)


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    paths = argv[:1] or [p for p in CANDIDATES if os.path.exists(p)]
    if not paths:
        print('Real main job budgets: no record (%s): the real-cloud tier '
              'did not run before this one; nothing measured here.'
              % ' or '.join(CANDIDATES))
        return 0
    print(report(paths[0]))
    return 0


if __name__ == '__main__':
    sys.exit(main())
