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

"""What nova recorded about one server, for failure messages.

A failed migration scenario must say why without anyone logging in to the
cloud: the server's migration records and its instance actions with their
events (``details`` at microversion 2.84 and later, ``traceback`` for admin).
"""

from oslo_log import log as logging

from tempest.lib import exceptions as lib_exc

from xloud_tempest_plugin.common import migrations

LOG = logging.getLogger(__name__)

MIGRATION_FIELDS = ('id', 'migration_type', 'status', 'source_compute',
                    'dest_compute', 'created_at', 'updated_at')
# How many of the server's most recent actions to show.
RECENT_ACTIONS = 3


def sorted_events(action):
    """An instance action's events, in the order they started."""
    return sorted(action.get('events') or [],
                  key=lambda e: e.get('start_time') or '')


def action_events(servers_client, server_id, request_id):
    """The events of the instance action of one request."""
    return sorted_events(servers_client.show_instance_action(
        server_id, request_id)['instanceAction'])


def recent_request_ids(servers_client, server_id, limit=RECENT_ACTIONS):
    """Request IDs of the server's most recent actions, newest first."""
    actions = servers_client.list_instance_actions(
        server_id)['instanceActions']
    actions = sorted(actions, key=lambda a: a.get('start_time') or '',
                     reverse=True)
    return [a['request_id'] for a in actions[:limit]]


def format_event(event):
    text = '    %s: %s' % (event.get('event'), event.get('result'))
    if event.get('host'):
        text += ' on %s' % event['host']
    if event.get('details'):
        text += '\n      details: %s' % event['details']
    elif event.get('traceback'):
        # Without 'details' (before 2.84) the message is the last line.
        lines = event['traceback'].strip().splitlines()
        text += '\n      traceback: %s' % (lines[-1] if lines else '')
    return text


def describe(servers_client, migrations_client, server_id, request_id=None):
    """Migration records and recent action events of one server, as text.

    Never raises: evidence is gathered while a test is already failing.
    """
    lines = ['Evidence for server %s:' % server_id]
    try:
        records = migrations.server_migrations(migrations_client, server_id)
        lines.append('  migrations:')
        lines.extend('    %s' % {k: r.get(k) for k in MIGRATION_FIELDS}
                     for r in records)
        if not records:
            lines.append('    (none)')
    except lib_exc.TempestException as e:
        lines.append('  migrations unavailable: %s' % e)
    if servers_client is None:
        return '\n'.join(lines)
    try:
        request_ids = ([request_id] if request_id else
                       recent_request_ids(servers_client, server_id))
        for rid in request_ids:
            action = servers_client.show_instance_action(
                server_id, rid)['instanceAction']
            lines.append('  action %s (%s) %s' % (
                action.get('action'), rid, action.get('message') or ''))
            lines.extend(format_event(e) for e in sorted_events(action))
    except lib_exc.TempestException as e:
        lines.append('  instance actions unavailable: %s' % e)
    text = '\n'.join(lines)
    LOG.info(text)
    return text
