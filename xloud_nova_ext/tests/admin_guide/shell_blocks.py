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

"""The shell blocks of the operator's and QA guides, read from the .rst.

A shell block is a ``code-block`` of a shell language (``console``,
``shell``, ``bash``, ``sh``) or any code block with a ``$`` prompt. Each
one is either run by a doc test or says, in its caption, why it is not::

    .. code-block:: console
       :caption: Not run by the doc tests: needs a cloud

so that the reason is in the page, where a reader sees it.
"""

import collections
import os
import re

from xloud_nova_ext.tests.admin_guide import refusals

SOURCE = os.path.join(refusals.TOP, 'doc', 'source')
#: The operator's guide (install/, admin/) and the QA engineer's (user/).
GUIDES = ('install', 'admin', 'user')
NOT_RUN = 'Not run by the doc tests:'
SHELLS = ('console', 'shell', 'bash', 'sh')

_DIRECTIVE = re.compile(r'^(?P<indent> *)\.\. code-block::\s*(?P<lang>\S*)')
_OPTION = re.compile(r'^ *:(?P<name>[\w-]+):\s*(?P<value>.*)$')
_PROMPT = re.compile(r'^[$#] ')

Block = collections.namedtuple(
    'Block', 'page line lang caption commands output')


def _body(lines, start, indent):
    """The block's body (dedented) and the index after it."""
    body = []
    i = start
    while i < len(lines):
        line = lines[i]
        if line.strip() and len(line) - len(line.lstrip()) <= indent:
            break
        body.append(line)
        i += 1
    while body and not body[-1].strip():
        body.pop()
    depth = min((len(b) - len(b.lstrip()) for b in body if b.strip()),
                default=0)
    return [b[depth:] for b in body], i


def commands(body):
    """Commands of a console body: prompts, with their continuation lines.

    A command goes on, as in bash, after a line ending with ``\\`` or
    ``|``, and on the indented lines right below it (a loop's body).
    Returns (commands, output lines).
    """
    found, output = [], []
    current = None
    for line in body:
        if current is not None and (
                current[-1].rstrip().endswith(('\\', '|')) or
                line[:1].isspace() and line.strip()):
            current.append(line)
            continue
        if current is not None:
            found.append('\n'.join(current))
            current = None
        if _PROMPT.match(line):
            current = [line[2:]]
        elif line.strip():
            output.append(line)
    if current is not None:
        found.append('\n'.join(current))
    return found, output


def blocks_of(page):
    """Every shell block of one page (path relative to doc/source)."""
    with open(os.path.join(SOURCE, page)) as f:
        lines = f.read().split('\n')
    i = 0
    while i < len(lines):
        match = _DIRECTIVE.match(lines[i])
        if not match:
            i += 1
            continue
        indent = len(match.group('indent'))
        lang = match.group('lang')
        first = i + 1
        options = {}
        i += 1
        while i < len(lines) and _OPTION.match(lines[i]):
            option = _OPTION.match(lines[i])
            options[option.group('name')] = option.group('value')
            i += 1
        body, i = _body(lines, i, indent)
        if lang not in SHELLS:
            # Outside a shell block '#' starts a comment: only '$' prompts.
            body = [b for b in body if not b.startswith('# ')]
        found, output = commands(body)
        if lang in SHELLS or found:
            yield Block(page, first, lang, options.get('caption', ''),
                        found, output)


def pages():
    for guide in GUIDES:
        for name in sorted(os.listdir(os.path.join(SOURCE, guide))):
            if name.endswith('.rst'):
                yield os.path.join(guide, name)


def all_blocks():
    for page in pages():
        yield from blocks_of(page)


def not_run_reason(block):
    """The reason the page gives for not running the block, or None."""
    if block.caption.startswith(NOT_RUN):
        return block.caption[len(NOT_RUN):].strip()
    return None
