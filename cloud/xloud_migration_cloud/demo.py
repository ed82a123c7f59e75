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


"""xloud-migration-demo: a multinode cloud on loopback, tested by Tempest.

Starts, on 127.0.0.1 only, a real keystone, nova 34's services with four
computes running the Xloud driver and the compute API on real HTTP, then
runs the Xloud Tempest plugin's migration scenarios against it and prints a
verification table per scenario (plus an HTML and a JSON report). Needs no
OpenStack deployment. What is real and what is fake:
doc/source/user/embedded-cloud.rst.
"""

import argparse
import os
import shutil
import signal
import subprocess
import sys
import time

DEFAULT_REGEX = 'xloud_tempest_plugin'


def _parser():
    parser = argparse.ArgumentParser(
        prog='xloud-migration-demo', description=__doc__.splitlines()[0])
    parser.add_argument('--regex', default=DEFAULT_REGEX,
                        help='tempest test selection (default: %(default)s)')
    parser.add_argument('--hypervisor', choices=('auto', 'fake', 'libvirt'),
                        default='auto',
                        help='libvirt: real libvirtd, QEMU and nova-compute '
                             'processes on this machine (needs root and '
                             'tools/install-debian-deps.sh); fake: nova\'s '
                             'fake libvirt in one process (quick); auto: '
                             'libvirt where this machine can run it, else '
                             'fake, saying why (default: %(default)s)')
    parser.add_argument('--concurrency', type=int,
                        help='tempest workers (default: 2, 1 with '
                             '--hypervisor libvirt)')
    parser.add_argument('--workdir',
                        help='keep logs, tempest workspace and reports in '
                             'this directory (default: a temporary one, '
                             'removed at exit)')
    parser.add_argument('--html', metavar='PATH',
                        help='write the HTML report here (default: '
                             'xloud-migration-report.html in the current '
                             'directory)')
    parser.add_argument('--json', metavar='PATH',
                        help='write the JSON report here (default: '
                             'xloud-migration-report.json beside the HTML '
                             'report)')
    parser.add_argument('--subunit', metavar='PATH',
                        help='also keep the subunit v2 stream of the '
                             'Tempest run here (CI counts its tests)')
    parser.add_argument('--keep', action='store_true',
                        help='after the run, keep the cloud running and '
                             'print the tempest.conf path and credentials '
                             'until Ctrl-C')
    parser.add_argument('--no-tests', action='store_true',
                        help='start the cloud without running Tempest '
                             '(use with --keep or --then)')
    parser.add_argument('--then', metavar='COMMAND',
                        help='after the scenarios (or the start, with '
                             '--no-tests), run COMMAND with bash as the '
                             'cloud\'s admin (its credentials in OS_* '
                             'variables); the run fails if it fails')
    return parser


def _terminate(signum, frame):
    # Every stop signal takes the same clean shutdown as Ctrl-C.
    raise KeyboardInterrupt


def _print_access(cloud):
    from xloud_harness import keystone
    ws = cloud.tempest
    users = getattr(cloud, 'users', None) or (
        'admin / %s, project admin; demo / %s, project demo' % (
            keystone.ADMIN_PASSWORD, keystone.DEMO_PASSWORD))
    print('\nThe cloud keeps running. Press Ctrl-C to stop it.\n'
          '  tempest.conf:  %s\n'
          '  run a test:    cd %s && HOME=%s TMPDIR=%s tempest run '
          '--regex <regex>\n'
          '  keystone:      %s (%s)\n'
          '  compute API:   %s' % (
              ws.conf_path, ws.path, ws.home, ws.tmp, cloud.urls['identity'],
              users, cloud.urls['compute']), flush=True)


def _then(command, cloud):
    """Run ``command`` against the running cloud; its exit status."""
    print('--- %s' % command, file=sys.stderr, flush=True)
    env = {k: v for k, v in os.environ.items() if not k.startswith('OS_')}
    env.update(cloud.admin_env())
    return subprocess.call(['bash', '-c', command], env=env)


def main(argv=None):
    args = _parser().parse_args(argv)
    from xloud_harness import process

    from xloud_migration_cloud import cloud as cloud_mod
    from xloud_migration_cloud import report

    # Set SIGINT too: a shell starting us in the background makes us
    # inherit "ignore SIGINT", and Ctrl-C must always stop the cloud.
    for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(signum, _terminate)
    html = os.path.abspath(args.html or 'xloud-migration-report.html')
    json_path = os.path.abspath(args.json or os.path.join(
        os.path.dirname(html), 'xloud-migration-report.json'))
    started = time.monotonic()
    if args.hypervisor == 'auto':
        from xloud_migration_cloud.real import layout
        why = layout.unavailable()
        if why:
            print('--hypervisor fake: this machine cannot run the real '
                  'cloud: %s' % why, file=sys.stderr, flush=True)
        args.hypervisor = 'fake' if why else 'libvirt'
    budget = None
    if args.hypervisor == 'libvirt':
        from xloud_migration_cloud.real import budget as budget_mod
        from xloud_migration_cloud.real import cloud as real_cloud
        cloud = real_cloud.RealCloud(workdir=args.workdir)
        concurrency = args.concurrency or 1
        # Its wall time and memory, for the bench tier's budgets.
        budget = budget_mod.Recorder(cloud.pids).start()
    else:
        cloud = cloud_mod.EmbeddedCloud(workdir=args.workdir)
        concurrency = args.concurrency or 2
    rc = 0
    try:
        try:
            cloud.start()
        except process.ServiceError as e:
            print('error: %s' % e, file=sys.stderr)
            budget = None
            return 2
        print('cloud ready in %.0f s' % (time.monotonic() - started),
              file=sys.stderr, flush=True)
        if budget:
            budget.mark('start')
        if not args.no_tests:
            ws = cloud.tempest
            runs = [('', None, args.regex)]
            if args.regex == DEFAULT_REGEX:
                # A cloud may run some scenarios again, differently (the
                # real cloud: between stock and Xloud computes).
                runs += getattr(cloud, 'extra_runs', list)()
            tests, streams = [], []
            for n, (label, conf, regex) in enumerate(runs):
                streams.append(os.path.join(cloud.workdir,
                                            'tempest-%d.subunit' % n))
                if label:
                    print('--- %s' % label, file=sys.stderr, flush=True)
                run_rc, run_tests = report.run_tempest(
                    ws.run_argv(regex, concurrency, conf), cwd=ws.path,
                    env=ws.env, stream_path=streams[-1], label=label)
                rc, tests = rc or run_rc, tests + run_tests
            print(report.table(tests))
            # Any cloud: what runs the guests, its computes, and per move
            # what only it knows (QEMU's downtime on a real hypervisor).
            data = report.report_data(
                cloud.HYPERVISOR, cloud.computes(), tests,
                figures=getattr(cloud, 'migration_figures', None))
            for sc in data['scenarios']:
                if sc['status'] == 'FAIL':
                    # Also those that a check of the cloud failed.
                    rc = rc or 1
            print('JSON report: %s' % report.write_json(data, json_path))
            print('HTML report: %s' % report.write_html(data, html))
            if args.subunit:
                # subunit v2 streams concatenate.
                with open(args.subunit, 'wb') as out:
                    for stream in streams:
                        with open(stream, 'rb') as f:
                            shutil.copyfileobj(f, out)
            if not tests:
                print('error: no test matched %r' % args.regex,
                      file=sys.stderr)
                rc = rc or 1
        if args.then:
            then_rc = _then(args.then, cloud)
            rc = rc or then_rc
        if budget and not args.no_tests:
            budget.mark('scenarios')
        if args.keep:
            _print_access(cloud)
            while True:
                time.sleep(3600)
    except KeyboardInterrupt:
        print('\nstopping the cloud ...', file=sys.stderr)
        rc = rc or 130
    finally:
        # A second Ctrl-C must not cut the clean-up short.
        for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
            signal.signal(signum, signal.SIG_IGN)
        cloud.stop()
        if budget and 'scenarios' in budget.phases and not args.keep:
            budget.mark('stop')
            print('Wall time and memory: %s' % budget.write(
                os.path.dirname(json_path)))
    return rc


if __name__ == '__main__':
    sys.exit(main())
