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

"""QEMU's own figures of a live migration, from its source's nova log.

XloudLibvirtDriver logs, on the source, one INFO line per completed live
migration with libvirt's completed-job statistics::

    ... xloud-migration-stats instance=<uuid> destination=<host>
    qemu_total_ms=<int> qemu_downtime_ms=<int> ... (one line)

A figure libvirt did not report reads ``unknown`` (None here). A stock
source (``libvirt.LibvirtDriver``) logs no such line: no figures.
"""

import re

PREFIX = 'xloud-migration-stats'
_FIELD = re.compile(r'(\w+)=(\S+)')


def parse(line):
    """{key: int or None} of the statistics in ``line``, or None."""
    start = line.find(PREFIX + ' ')
    if start < 0:
        return None
    fields = dict(_FIELD.findall(line[start + len(PREFIX):]))
    return {k: (int(v) if v.isdigit() else None if v == 'unknown' else v)
            for k, v in fields.items()}


def for_instance(log_path, instance_uuid):
    """The figures of ``instance_uuid``'s last live migration, or None.

    ``log_path`` is the log of that migration's source nova-compute.
    """
    found = None
    try:
        with open(log_path, errors='replace') as f:
            for line in f:
                if PREFIX in line and instance_uuid in line:
                    figures = parse(line)
                    if figures and figures.get('instance') == instance_uuid:
                        found = figures
    except OSError:
        return None
    return found
