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


"""xloud-migration-demo: migrate servers on an embedded cloud and verify.

Boots nova 34's services in this process with three computes running the
Xloud driver, runs live, block and cold migration scenarios, and prints a
post-migration verification report per scenario. Needs no OpenStack
deployment.
"""

import argparse
import os
import sys


def _paste_config():
    # The nova wheel installs api-paste.ini under <prefix>/etc/nova.
    path = os.path.join(sys.prefix, 'etc', 'nova', 'api-paste.ini')
    os.environ.setdefault('OS_WSGI__API_PASTE_CONFIG', path)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('scenarios', nargs='*',
                        help='run only scenarios whose name contains one '
                             'of these words')
    parser.add_argument('--list', action='store_true',
                        help='list the scenarios and exit')
    args = parser.parse_args(argv)

    _paste_config()
    from nova import monkey_patch
    monkey_patch.patch()
    from xloud_nova_ext.demo import report
    from xloud_nova_ext.demo import scenarios

    if args.list:
        print('\n'.join(n[len('scenario_'):]
                        for n in scenarios.scenario_names()))
        return 0

    def progress(name):
        print('running %s ...' % name[len('scenario_'):], file=sys.stderr,
              flush=True)

    print('starting the embedded cloud (API, conductor, scheduler, '
          'placement, 3 computes with XloudLibvirtDriver) ...',
          file=sys.stderr, flush=True)
    results = scenarios.run(args.scenarios, progress=progress)
    print(report.render(results))
    if not results:
        print('no scenario matched %s' % args.scenarios, file=sys.stderr)
        return 2
    return 0 if all(r.passed for r in results) else 1


if __name__ == '__main__':
    sys.exit(main())
