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

"""Reading a guest's console log across a migration."""

import re

# Enough of the old log's end to find it again in the new one; long, so
# that a repeated short line (a login prompt) cannot be mistaken for it.
ANCHOR_CHARS = 2048


def new_output(before, after):
    """What the guest wrote to its console after ``before`` was read.

    nova returns at most the tail of the log (100 KiB for libvirt), so the
    old log's start may have scrolled out of ``after``: the old log's end is
    looked for instead. A destination that started a new log (nothing of
    the old one in it) wrote everything in ``after`` since.
    """
    if not before:
        return after
    if after.startswith(before):
        return after[len(before):]
    anchor = before[-ANCHOR_CHARS:]
    at = after.find(anchor)
    if at < 0:
        return after
    return after[at + len(anchor):]


def matching_lines(text, patterns):
    """Lines of text that match any of the regular expressions."""
    compiled = [re.compile(p) for p in patterns if p]
    return [line for line in text.splitlines()
            if any(c.search(line) for c in compiled)]
