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

"""The migration records of one server, never of the whole cloud."""

# os-migrations ``migration_type`` values.
LIVE = 'live-migration'
COLD = 'migration'

# Statuses after which nova never changes a record again.
TERMINAL = frozenset(['completed', 'confirmed', 'reverted', 'done',
                      'error', 'failed', 'cancelled'])


def server_migrations(client, server_id, migration_type=None):
    """This server's migration records, oldest first.

    The API is asked to filter, and the answer is filtered again: a record of
    another instance must never be taken for this server's.
    """
    params = {'instance_uuid': server_id}
    if migration_type:
        params['migration_type'] = migration_type
    records = client.list_migrations(**params)['migrations']
    mine = [r for r in records
            if r.get('instance_uuid') == server_id and
            (migration_type is None or
             r.get('migration_type') == migration_type)]
    return sorted(mine, key=lambda r: r['id'])


def migration_ids(client, server_id, migration_type=None):
    """IDs of this server's records, to tell the next request's record."""
    return frozenset(
        r['id'] for r in server_migrations(client, server_id, migration_type))


def new_migrations(client, server_id, migration_type, known_ids):
    """This server's records of this type that were not in known_ids."""
    return [r for r in server_migrations(client, server_id, migration_type)
            if r['id'] not in known_ids]
