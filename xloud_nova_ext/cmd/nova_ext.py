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

"""xloud-nova-ext: the state of the package in this Python environment.

``xloud-nova-ext check`` says whether nova-compute, run by this Python,
can load ``compute_driver = xloud.XloudLibvirtDriver``: nova is a regular
package that imports, its release is the one the driver extends, and
``nova.virt.xloud`` resolves to this package's driver. One line per check;
the first failing one names its cause and its fix.

Exit status: 0 nova can load the driver; 1 it cannot.
"""

import argparse
import sys

from xloud_nova_ext import installation

PROG = 'xloud-nova-ext'


def _parser():
    parser = argparse.ArgumentParser(prog=PROG,
                                     description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest='command', required=True)
    commands.add_parser(
        'check', help='can nova-compute load the Xloud driver here?')
    return parser


def check():
    failed = False
    for what, found in installation.check():
        if isinstance(found, installation.Problem):
            failed = True
            print('ERROR %s: %s' % (what, found))
        else:
            print('OK    %s: %s' % (what, found))
    return 1 if failed else 0


def main(argv=None):
    _parser().parse_args(argv)
    return check()


if __name__ == '__main__':
    sys.exit(main())
