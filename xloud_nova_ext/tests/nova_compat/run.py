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

"""Run nova's libvirt functional tests with stestr (``tox -e nova-compat``).

    run.py [--repo-url DIR] [--stock [--record]] [all | stestr run args...]

Without arguments: the modules of :mod:`.selection` (those whose tests move
servers) and this package's own checks. ``all``: every module of
``nova.tests.functional.libvirt``. Anything else goes to ``stestr run`` as
is (e.g. a regex). ``--stock`` runs nova's own LibvirtDriver instead of
ours, into its own stestr repository, to measure the reference;
``--record`` keeps its outcomes (:mod:`.reference`), unless the runner's
own checks failed. After the selection or ``all``, our run prints its
counts beside the recorded stock ones and fails, naming the cause, if the
runner's own checks fail, the reference is missing or stale, or our driver
fails a test that stock nova passes.
"""

import argparse
import os
import subprocess
import sys
import tempfile

from xloud_nova_ext.tests.nova_compat import reference
from xloud_nova_ext.tests.nova_compat import selection
from xloud_nova_ext.tests.nova_compat import watchdog

HERE = os.path.dirname(os.path.abspath(__file__))
TOP = os.path.dirname(os.path.dirname(os.path.dirname(HERE)))


def main(argv=None, out=None):
    out = out or sys.stdout
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--repo-url', default='.stestr-nova-compat')
    parser.add_argument('--stock', action='store_true')
    parser.add_argument('--record', action='store_true')
    args, rest = parser.parse_known_args(argv)
    env = dict(os.environ)
    repo = args.repo_url
    if args.stock:
        env['XLOUD_NOVA_COMPAT_DRIVER'] = 'stock'
        repo += '-stock'
    name = None
    if rest == ['all']:
        rest, name = [], 'all'
    elif not rest:
        rest, name = [selection.regex()], 'selection'
    os.makedirs(repo, exist_ok=True)
    stestr = ['stestr', '--repo-url', repo, '--test-path', HERE,
              '--top-dir', TOP]
    with tempfile.TemporaryDirectory() as tmp:
        hung = env[watchdog.HUNG_FILE] = os.path.join(tmp, 'hung')
        rc = subprocess.call(stestr + ['run'] + rest, env=env)
        if name is None:
            return rc
        # stestr's own code counts every nova failure, stock nova's
        # included: the verdict is the comparison's.
        found = reference.outcomes(repo)
        listed = list_tests(stestr, rest, env)
        hung = read_lines(hung)
        again = sorted(set(hung) | (set(listed) - set(found)))
        if again:
            found.update(rerun(stestr, again, hung, tmp, env, repo, out))
    never = sorted(set(listed) - set(found))
    if never:
        out.write('FAILED: %d test(s) never ran, even when run again '
                  '(see the errors above).\n' % len(never))
        return 1
    if not args.stock:
        return reference.compare(name, found, out)
    return stock(name, found, args.record, out)


def read_lines(path):
    try:
        with open(path) as f:
            return [line.strip() for line in f if line.strip()]
    except FileNotFoundError:
        return []


def list_tests(stestr, rest, env):
    """The ids of the tests a run with these arguments should run."""
    lines = subprocess.run(stestr + ['list'] + rest, env=env, check=True,
                           capture_output=True, text=True).stdout
    return [line for line in lines.split() if '.' in line]


def rerun(stestr, tests, hung, tmp, env, repo, out):
    """Run these tests once more; their outcomes.

    Only for tests the watchdog ended (nova's own harness can deadlock, with
    nova's own driver too) and the tests their worker never reached; a
    failure is never run again.
    """
    out.write('Running %d test(s) again: %d hung (stacks above), the '
              'others never ran because their worker was ended.\n'
              % (len(tests), len(hung)))
    out.flush()
    load_list = os.path.join(tmp, 'again')
    with open(load_list, 'w') as f:
        f.write('\n'.join(tests) + '\n')
    subprocess.call(stestr + ['run', '--load-list', load_list], env=env)
    return reference.outcomes(repo)


def stock(name, found, record, out):
    """Print a stock run's counts; keep them if asked and the run is sound."""
    for line in reference.table([('stock LibvirtDriver (this run)',
                                  reference.counts(
                                      reference.nova_tests(found)))]):
        out.write(line + '\n')
    problems = reference.runner_problems(found)
    if problems:
        out.writelines('FAILED: %s.\n' % p for p in problems)
        if record:
            out.write('Nothing recorded.\n')
        return 1
    if record:
        reference.record(name, found)
        out.write('Recorded in %s.\n' % reference.PATH)
    return 0


if __name__ == '__main__':
    sys.exit(main())
