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

"""Print the case count of every fuzz target that ran (``tox -e fuzz``).

    python -m xloud_nova_ext.tests.fuzz.report DIR

DIR holds one file per target, named by its test id, holding its count
(written by :func:`.base.record`). Exit status 1 when no target ran or one
ran fewer than :data:`.base.CASES` cases.
"""

import os
import sys

from xloud_nova_ext.tests.fuzz import base


def main(argv=None):
    args = sys.argv[1:] if argv is None else argv
    directory = args[0]
    names = sorted(os.listdir(directory)) if os.path.isdir(directory) else []
    short = []
    total = 0
    print('fuzz targets (cases each, at least %d):' % base.CASES)
    for name in names:
        with open(os.path.join(directory, name)) as f:
            count = int(f.read().strip() or 0)
        total += count
        if count < base.CASES:
            short.append(name)
        print('  %7d  %s' % (count, name.replace(
            'xloud_nova_ext.tests.fuzz.', '')))
    print('%d targets, %d cases, %d short' % (len(names), total, len(short)))
    return 1 if short or not names else 0


if __name__ == '__main__':
    sys.exit(main())
