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

    run.py [--repo-url DIR] [--stock] [all | stestr run arguments...]

Without arguments: the modules of :mod:`.selection` (those whose tests move
servers) and this package's own checks. ``all``: every module of
``nova.tests.functional.libvirt``. Anything else goes to ``stestr run`` as
is (e.g. a regex). ``--stock`` runs nova's own LibvirtDriver instead of
ours, into its own stestr repository, to measure the reference.
"""

import argparse
import os
import subprocess
import sys

from xloud_nova_ext.tests.nova_compat import selection

HERE = os.path.dirname(os.path.abspath(__file__))
TOP = os.path.dirname(os.path.dirname(os.path.dirname(HERE)))


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--repo-url', default='.stestr-nova-compat')
    parser.add_argument('--stock', action='store_true')
    args, rest = parser.parse_known_args(argv)
    env = dict(os.environ)
    repo = args.repo_url
    if args.stock:
        env['XLOUD_NOVA_COMPAT_DRIVER'] = 'stock'
        repo += '-stock'
    if rest == ['all']:
        rest = []
    elif not rest:
        rest = [selection.regex()]
    os.makedirs(repo, exist_ok=True)
    cmd = ['stestr', '--repo-url', repo, '--test-path', HERE,
           '--top-dir', TOP, 'run'] + rest
    return subprocess.call(cmd, env=env)


if __name__ == '__main__':
    sys.exit(main())
