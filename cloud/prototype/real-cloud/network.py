"""The cloud's network: one bridge in the machine's namespace, one veth per
compute host into that host's network namespace.

The control plane (databases, message bus, APIs) listens on the bridge's
address, which exists only while the cloud runs; the computes reach it over
their veth. Names and the subnet differ from the integration tier's
(10.77.0.0/24, xhost-*), so both can run on one machine.
"""

import subprocess

BRIDGE = 'xlcbr0'
PREFIX_LEN = 24


def _ip(argv, check=True, netns=None):
    prefix = ['nsenter', '--net=' + netns, '--'] if netns else []
    r = subprocess.run(prefix + ['ip'] + argv, capture_output=True, text=True)
    if check and r.returncode:
        raise RuntimeError('%s: %s' % (argv, r.stderr))
    return r


def add_bridge(address):
    _ip(['link', 'add', BRIDGE, 'type', 'bridge'])
    _ip(['addr', 'add', '%s/%d' % (address, PREFIX_LEN), 'dev', BRIDGE])
    _ip(['link', 'set', BRIDGE, 'up'])


def plug(netns_file, ifname, address, gateway):
    """A veth from the bridge into the host's namespace, addressed."""
    outside = ifname + '-br'
    _ip(['link', 'add', outside, 'type', 'veth', 'peer', 'name', ifname,
         'netns', netns_file])
    _ip(['link', 'set', outside, 'master', BRIDGE, 'up'])
    _ip(['addr', 'add', '%s/%d' % (address, PREFIX_LEN), 'dev', ifname],
        netns=netns_file)
    _ip(['link', 'set', ifname, 'up'], netns=netns_file)
    _ip(['route', 'add', 'default', 'via', gateway], netns=netns_file)


def remove(ifnames):
    """Delete the bridge and our veth ends (whatever a killed run left)."""
    for ifname in ifnames:
        _ip(['link', 'del', ifname + '-br'], check=False)
    _ip(['link', 'del', BRIDGE], check=False)
