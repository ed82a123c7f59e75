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

"""Waiters built on tempest.lib clients; they read no tempest config."""

import time

from oslo_log import log as logging

from tempest.lib import exceptions as lib_exc

from xloud_tempest_plugin.common import evidence
from xloud_tempest_plugin.common import exceptions
from xloud_tempest_plugin.common import migrations

LOG = logging.getLogger(__name__)


def wait_for_migration_status(migrations_client, server_id, migration_type,
                              status, known_ids=(), servers_client=None,
                              timeout=None, request_id=None, interval=None):
    """Wait until this server's new migration record reaches ``status``.

    ``status`` is one status or a collection of them (any one will do);
    ``interval`` the seconds between polls (default: the client's
    ``build_interval``).

    The record is the newest of the server's records of ``migration_type``
    whose id is not in ``known_ids`` (the ids before the request), so neither
    another instance's migration nor an earlier one of this server is taken
    for it. A record may not exist yet right after the API answered 202.

    Fails at once when the record reaches any other final status (e.g.
    ``error``), and on timeout; both messages carry the server's migration
    records and, given ``servers_client``, its instance action events.

    :returns: the migration record.
    """
    timeout = timeout or migrations_client.build_timeout
    interval = interval or migrations_client.build_interval
    wanted = {status} if isinstance(status, str) else set(status)
    expected = ' or '.join(sorted(wanted))
    start = time.time()
    last = None
    while True:
        records = migrations.new_migrations(
            migrations_client, server_id, migration_type, known_ids)
        record = records[-1] if records else None
        current = record['status'] if record else None
        if current != last:
            LOG.info('Migration of server %s: %s -> %s after %d s',
                     server_id, last, current, time.time() - start)
            last = current
        if current in wanted:
            return record
        if current in migrations.TERMINAL:
            raise exceptions.MigrationFailed(
                migration_id=record['id'], server_id=server_id,
                status=current, expected=expected,
                evidence=evidence.describe(servers_client, migrations_client,
                                           server_id, request_id))
        if time.time() - start >= timeout:
            raise lib_exc.TimeoutException(
                'Migration %s (%s) of server %s did not reach status %s '
                'within %s s; current status: %s.\n%s' % (
                    record['id'] if record else '(no record yet)',
                    migration_type, server_id, expected, timeout, current,
                    evidence.describe(servers_client, migrations_client,
                                      server_id, request_id)))
        time.sleep(interval)
