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

from oslo_config import cfg

OPTS = [
    cfg.FloatOpt(
        'migration_connection_timeout',
        default=3.0,
        min=0.0,
        max=60.0,
        help="""
Seconds the source of a live migration waits, in its pre-check, for a TCP
connection to the destination's libvirt; ``0`` turns the check off.

Before anything is prepared or copied, the source opens (and closes at
once) a TCP connection to the host and port of the libvirt URI nova will
migrate over: ``[libvirt] live_migration_uri``, else
``qemu+<live_migration_scheme>://<destination>/system``, where the
destination is its ``[libvirt] live_migration_inbound_addr``, else its host
name. When nothing answers within this time, or the connection is refused,
the migration is refused with ``xloud.connection.unreachable``, naming the
address, the port and the firewall; with a destination left to the
scheduler, nova tries another host. Stock nova would find out only after
the destination was prepared, after libvirt's own TCP timeout (minutes on a
firewall that drops packets).

URIs whose endpoint this host cannot judge (``ssh``, ``libssh``, ``unix``
or ``ext`` transports, whose ssh configuration may go elsewhere; a name
this host cannot resolve, which libvirtd may still resolve) are let through
as stock nova does, with a warning. The check only covers libvirt's
connection: QEMU's own migration stream (a port of ``migration_port_min``
to ``migration_port_max`` in the destination's ``qemu.conf``) opens later.

Related options:

* ``[libvirt] live_migration_uri``, ``[libvirt] live_migration_scheme``
* ``[libvirt] live_migration_inbound_addr`` (on the destination)
"""),
]
