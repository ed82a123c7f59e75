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

"""Connection pre-check: can the source reach the destination's libvirt?

nova's source opens its libvirt connection to the destination only once the
destination is prepared (disks created, volumes connected, ports bound, a
vTPM secret defined), and a firewall that drops packets holds it for
libvirt's TCP timeout. :class:`ConnectionGuard` finds out in the pre-check
instead, in a few seconds, before anything is prepared:

* :meth:`~ConnectionGuard.check_can_live_migrate_destination` - the
  destination publishes the address nova will connect to: its ``[libvirt]
  live_migration_inbound_addr``, else its host name (nova's ``dest``);
* :meth:`~ConnectionGuard.check_can_live_migrate_source` - the source
  builds the libvirt URI as nova will (nova's own builder, handed in) and
  opens a TCP connection to its host and port (:func:`endpoint`,
  :func:`probe`).

The address travels in nova's own field for it, ``target_connect_addr`` of
``LibvirtLiveMigrateData``: the address the source's libvirt connects to.
nova 34 sets that field only in the destination's ``pre_live_migration``
(to ``live_migration_inbound_addr``, overwriting ours) and reads it only
when the source starts the migration, after that; in the pre-check, a
stock peer neither sets nor reads it. So a stock destination publishes
nothing and is not checked, and a stock source passes our value on
untouched until nova replaces it.

Only libvirt's own TCP and TLS listeners are judged. Anything else (an ssh
transport whose ssh configuration may go elsewhere, a local URI, a name
this host cannot resolve but libvirtd may) proceeds as stock nova does,
with a warning.
"""

import socket
import time
from urllib import parse

from nova import exception as nova_exc
from oslo_log import log as logging

from xloud_nova_ext import exception

LOG = logging.getLogger(__name__)

#: libvirtd's default listening port per remote transport; a port in the
#: URI wins. libvirt uses TLS for a remote URI that names no transport.
PORTS = {'tcp': 16509, 'tls': 16514}


class Unresolved(Exception):
    """The destination's name does not resolve on this host."""


def endpoint(uri):
    """(host, port) that libvirt URI ``uri`` connects to, or None.

    None when this host cannot judge the connection: a local URI, or a
    transport other than libvirt's own TCP and TLS listeners.
    """
    parts = parse.urlsplit(uri)
    transport = parts.scheme.partition('+')[2] or 'tls'
    if not parts.hostname or transport not in PORTS:
        return None
    try:
        port = parts.port
    except ValueError:  # not a number or out of range: libvirt's to say
        return None
    return parts.hostname, port or PORTS[transport]


def probe(host, port, timeout):
    """Open, then close, a TCP connection to ``host``:``port``.

    Tries each address the name resolves to until one answers, within
    ``timeout`` seconds in all. Raises :class:`Unresolved`, or the OSError
    of the last attempt (``TimeoutError`` when time ran out).
    """
    try:
        addresses = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except socket.gaierror as e:
        raise Unresolved(str(e)) from e
    deadline = time.monotonic() + timeout
    error = TimeoutError('no answer in %s s' % timeout)
    for family, kind, proto, _name, address in addresses:
        left = deadline - time.monotonic()
        if left <= 0:
            break
        with socket.socket(family, kind, proto) as sock:
            sock.settimeout(left)
            try:
                sock.connect(address)
                return
            except OSError as e:
                error = e
    raise error


def describe(error, timeout):
    """A few words for a failed :func:`probe`."""
    if isinstance(error, (TimeoutError, socket.timeout)):
        return 'no answer in %g s' % timeout
    if isinstance(error, ConnectionRefusedError):
        return 'connection refused'
    return error.strerror or type(error).__name__


class ConnectionGuard(object):
    """The connection pre-check, one method per nova hook.

    ``conf`` is nova's configuration; ``uri_for(address)`` is nova's own
    builder of the live-migration URI (``LibvirtDriver._live_migration_uri``),
    so that the URI checked is the URI nova uses.
    """

    def __init__(self, conf, uri_for):
        self._conf = conf
        self._uri_for = uri_for

    @property
    def timeout(self):
        return self._conf.xloud.migration_connection_timeout

    # Destination

    def check_can_live_migrate_destination(self, migrate_data):
        """Publish the address the source's libvirt will connect to."""
        migrate_data.target_connect_addr = (
            self._conf.libvirt.live_migration_inbound_addr or self._conf.host)
        return migrate_data

    # Source

    @staticmethod
    def _take_published(migrate_data):
        """The destination's address, removed from the data; or None.

        Removed so that the data goes on as a stock pair's would; the
        destination's pre_live_migration sets the field again in any case.
        """
        if 'target_connect_addr' not in migrate_data:
            return None
        address = migrate_data.target_connect_addr
        del migrate_data.target_connect_addr
        return address

    def check_can_live_migrate_source(self, instance, migrate_data):
        """Refuse when the destination's libvirt does not answer."""
        address = self._take_published(migrate_data)
        if not self.timeout:
            return
        if not address:
            LOG.debug('The destination published no migration address '
                      '(stock nova there): connection not checked.',
                      instance=instance)
            return
        try:
            uri = self._uri_for(address)
        except nova_exc.LiveMigrationURINotAvailable:
            return  # nova refuses this virt type itself, later
        target = endpoint(uri)
        if target is None:
            LOG.warning('Cannot check the connection to %s from here (not '
                        'a libvirt tcp or tls URI); nova proceeds '
                        'unchecked.', uri, instance=instance)
            return
        host, port = target
        try:
            probe(host, port, self.timeout)
        except Unresolved as e:
            LOG.warning('Cannot check the connection to %(uri)s: %(host)s '
                        'does not resolve on this host (%(error)s); libvirtd '
                        'may resolve it, nova proceeds unchecked.',
                        {'uri': uri, 'host': host, 'error': e},
                        instance=instance)
            return
        except OSError as e:
            raise exception.MigrationAddressUnreachable(
                address=host, port=port,
                detail=describe(e, self.timeout)) from e
        LOG.debug('The destination answers at %(host)s port %(port)s.',
                  {'host': host, 'port': port}, instance=instance)
