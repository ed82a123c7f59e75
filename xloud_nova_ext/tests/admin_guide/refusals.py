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

"""The table of refusals in the operator's troubleshooting page.

doc/source/admin/refusals.inc is generated from xloud_nova_ext/exception.py,
one row per refusal (code, cause, fix), because the documentation build
loads no extension of this project. A unit test fails when the file is
stale; regenerate it with::

    python -m xloud_nova_ext.tests.admin_guide.refusals
"""

import os
import sys

from xloud_nova_ext import exception

TOP = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__)))))
INCLUDE = os.path.join(TOP, 'doc', 'source', 'admin', 'refusals.inc')

_BASES = (exception.XloudError, exception.MigrationRefused)


def refusals():
    """Every error class with a code of its own, in definition order."""
    for obj in vars(exception).values():
        if (isinstance(obj, type) and issubclass(obj, exception.XloudError)
                and obj not in _BASES and 'code' in vars(obj)):
            yield obj


class _Placeholders(dict):
    """Shows each %(name)s of a message as <name>."""

    def __missing__(self, key):
        return '<%s>' % key


def cause(cls):
    return cls.msg_fmt % _Placeholders()


def fix(cls):
    return cls.fix_fmt % _Placeholders() if cls.fix_fmt else ''


def raised(cls):
    """When and how the error shows, in words."""
    if issubclass(cls, exception.MigrationRefused):
        return ('"Migration pre-check error: [%s] ...". %s'
                % (cls.code, cls.when))
    doc = (cls.__doc__ or '').strip().splitlines()
    return doc[0] if doc else ''


def _rst(text):
    """Plain text that reStructuredText shows as it is."""
    for char in '\\*`|_':
        text = text.replace(char, '\\' + char)
    return text


def render():
    rows = [
        '.. This file is generated from xloud_nova_ext/exception.py by',
        '   "python -m xloud_nova_ext.tests.admin_guide.refusals".',
        '   Do not edit it.',
        '',
        '.. list-table::',
        '   :header-rows: 1',
        '   :widths: 30 35 35',
        '',
        '   * - Error',
        '     - Likely cause',
        '     - Resolution',
    ]
    for cls in refusals():
        remedy = fix(cls)
        if cls.fix_fmt and cls.fix_fmt.strip() == '%(remedy)s':
            remedy += ': named in the message, for the case at hand (below).'
        rows += [
            '   * - ``%s``' % cls.code,
            '',
            '       %s' % _rst(raised(cls)),
            '     - %s' % _rst(cause(cls)),
            '     - %s' % _rst(remedy or '-'),
        ]
    return '\n'.join(rows) + '\n'


def main():
    with open(INCLUDE, 'w') as f:
        f.write(render())
    print('wrote %s' % os.path.relpath(INCLUDE))
    return 0


if __name__ == '__main__':
    sys.exit(main())
