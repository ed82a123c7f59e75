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

"""The cloud's network: one bridge here, one veth per host into its namespace.

The control plane listens on the bridge's address, which exists only while
the cloud runs; the hosts reach it over their veth. No NAT, no route out.
"""

from xloud_harness import process

from xloud_migration_cloud.real import layout


def _ip(argv, netns=None, check=True):
    enter = ['nsenter', '--net=' + netns, '--'] if netns else []
    return process.run(enter + ['ip'] + argv, check=check)


def add_bridge():
    _ip(['link', 'add', layout.BRIDGE, 'type', 'bridge'])
    _ip(['addr', 'add', '%s/%d' % (layout.CONTROL_IP, layout.PREFIX_LEN),
         'dev', layout.BRIDGE])
    _ip(['link', 'set', layout.BRIDGE, 'up'])


def plug(spec, netns_file):
    """A veth from the bridge into host ``spec``'s network namespace."""
    inside, outside = layout.veth(spec.name)
    _ip(['link', 'add', outside, 'type', 'veth', 'peer', 'name', inside,
         'netns', netns_file])
    _ip(['link', 'set', outside, 'master', layout.BRIDGE, 'up'])
    _ip(['addr', 'add', '%s/%d' % (spec.ip, layout.PREFIX_LEN),
         'dev', inside], netns=netns_file)
    _ip(['link', 'set', inside, 'up'], netns=netns_file)


def bridge_exists():
    return _ip(['link', 'show', layout.BRIDGE], check=False).returncode == 0


def remove():
    """Delete the bridge and any veth end a killed run left here."""
    for spec in layout.HOSTS:
        _ip(['link', 'del', layout.veth(spec.name)[1]], check=False)
    _ip(['link', 'del', layout.BRIDGE], check=False)
