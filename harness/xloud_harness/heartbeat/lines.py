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

"""The heartbeat guest's console lines, read back."""

import collections
import re

LINE = re.compile(
    r'xloud-heartbeat boot_id=(?P<boot_id>[0-9a-f]{32}) '
    r'uptime_ms=(?P<uptime_ms>\d+) seq=(?P<seq>\d+) '
    r'memsum=(?P<memsum>[0-9a-f]{8})$')

Beat = collections.namedtuple('Beat', 'boot_id uptime_ms seq memsum')


def parse(text):
    """The heartbeats in console output ``text``, in order.

    A line cut by the end of the output (or garbled) is not a heartbeat.
    """
    beats = []
    for line in text.splitlines():
        match = LINE.search(line.strip('\0').rstrip('\r'))
        if match:
            beats.append(Beat(match['boot_id'], int(match['uptime_ms']),
                              int(match['seq']), match['memsum']))
    return beats
