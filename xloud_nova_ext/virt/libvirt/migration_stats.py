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

"""QEMU's own figures of each completed live migration, logged on the source.

After a successful live migration the source domain is gone (nova migrates
with ``VIR_MIGRATE_UNDEFINE_SOURCE``), so ``virDomainGetJobStats`` with
``VIR_DOMAIN_JOB_STATS_COMPLETED`` answers "Domain not found", and nova's
``Guest.get_job_info`` only reports the job as completed, without figures.
libvirt hands the same completed-job statistics to the source in its
``VIR_DOMAIN_EVENT_ID_JOB_COMPLETED`` event, before the migration API call
returns. So :class:`MigrationStats` keeps the figures of that event and
logs them from nova's source hook ``post_live_migration``, one INFO line::

    xloud-migration-stats instance=<uuid> destination=<host>
    qemu_total_ms=<int> qemu_downtime_ms=<int> qemu_setup_ms=<int>
    qemu_transferred_bytes=<int> qemu_memory_bytes=<int>
    qemu_disk_bytes=<int> qemu_memory_iterations=<int>

(one line; ``key=value`` pairs separated by single spaces, always in this
order). A figure libvirt did not report is ``unknown``; ``destination`` is
``unknown`` when nova did not say. :data:`FIGURES` maps each key to
libvirt's statistic.

Only numbers from libvirt's statistics and names nova already logs are
written: nothing secret. Figures are a by-product: a failure to get them is
a WARNING and never touches the migration.
"""

import time

from oslo_log import log as logging

LOG = logging.getLogger(__name__)

#: Start of every statistics line (grep for it).
PREFIX = 'xloud-migration-stats'

#: Key in the line -> libvirt's completed-job statistic (typed parameter).
FIGURES = (
    ('qemu_total_ms', 'time_elapsed'),
    ('qemu_downtime_ms', 'downtime'),
    ('qemu_setup_ms', 'setup_time'),
    ('qemu_transferred_bytes', 'data_processed'),
    ('qemu_memory_bytes', 'memory_processed'),
    ('qemu_disk_bytes', 'disk_processed'),
    ('qemu_memory_iterations', 'memory_iteration'),
)

UNKNOWN = 'unknown'

# libvirt's public ABI numbers (include/libvirt/libvirt-domain.h): named
# here because nova's fake libvirt, which the other tiers run on, lacks them.
#: VIR_DOMAIN_EVENT_ID_JOB_COMPLETED (libvirt >= 3.3).
EVENT_ID_JOB_COMPLETED = 21
#: VIR_DOMAIN_JOB_OPERATION_MIGRATION_OUT, the ``operation`` statistic of
#: the source's job (the destination's is MIGRATION_IN).
OPERATION_MIGRATION_OUT = 5

#: How long post_live_migration waits for an event still on its way.
#: libvirt sends it before the migration call returns, and nova notices
#: completion only after that call returned: this wait almost never runs.
EVENT_WAIT = 2.0
EVENT_POLL = 0.05


def format_line(instance_uuid, destination, stats):
    """The statistics line for libvirt's completed-job ``stats`` (a dict)."""
    fields = [PREFIX, 'instance=%s' % instance_uuid,
              'destination=%s' % (destination or UNKNOWN)]
    for key, stat in FIGURES:
        value = stats.get(stat)
        if isinstance(value, bool) or not isinstance(value, int) \
                or value < 0:
            value = UNKNOWN
        fields.append('%s=%s' % (key, value))
    return ' '.join(fields)


def parse_line(line):
    """{key: value} of a statistics line found in ``line``, or None.

    Values of :data:`FIGURES` are ints (None when ``unknown``). For readers
    of the log (reports, benchmarks) and our tests.
    """
    start = line.find(PREFIX + ' ')
    if start < 0:
        return None
    figures = {}
    for field in line[start + len(PREFIX) + 1:].split():
        key, sep, value = field.partition('=')
        if not sep:
            break
        figures[key] = value
    for key, _stat in FIGURES:
        if key not in figures:
            return None
        figures[key] = (None if figures[key] == UNKNOWN
                        else int(figures[key]))
    return figures


class MigrationStats(object):
    """Collects the completed-job event of outgoing migrations; logs it.

    ``host`` is nova's :class:`nova.virt.libvirt.host.Host` (only
    ``get_connection()`` is used). Hook-named methods run on the source.
    """

    def __init__(self, host):
        self._host = host
        self._registered = None   # the connection our callback is on
        self._stats = {}          # instance uuid -> completed-job stats
        self._unregistered_reason = None

    def _ensure_registered(self):
        # nova opens a new connection after losing one; the callback goes
        # with the connection, so register again on a new one.
        conn = self._host.get_connection()
        if conn is self._registered:
            return
        try:
            conn.domainEventRegisterAny(None, EVENT_ID_JOB_COMPLETED,
                                        self._job_completed, None)
        except Exception as e:
            self._unregistered_reason = '%s: %s' % (type(e).__name__, e)
            raise
        self._registered = conn
        self._unregistered_reason = None

    def _job_completed(self, conn, dom, params, opaque):
        """libvirt's event callback (libvirt's event thread).

        It runs on a native thread while nova may run eventlet: no
        logging here, only a dict assignment.
        """
        try:
            if params.get('operation') == OPERATION_MIGRATION_OUT:
                self._stats[dom.UUIDString()] = dict(params)
        except Exception:  # nosec: a bad event must not kill libvirt's loop
            pass

    def live_migration(self, instance):
        """Before nova starts the migration: listen, forget old figures."""
        self._stats.pop(instance.uuid, None)
        self._ensure_registered()

    def post_live_migration(self, instance, migrate_data=None):
        """After a successful migration: log its line (or a WARNING)."""
        stats = self._wait_for(instance.uuid)
        if stats is None:
            reason = (self._unregistered_reason or
                      'libvirt sent no completed-job event within %.1f s'
                      % EVENT_WAIT)
            LOG.warning('QEMU migration statistics are not available for '
                        'this live migration (%s); the migration itself is '
                        'not affected.', reason, instance=instance)
            return
        LOG.info('%s', format_line(instance.uuid, _destination(migrate_data),
                                   stats), instance=instance)

    def rollback_live_migration_at_source(self, instance):
        """A failed migration has no figures to keep."""
        self._stats.pop(instance.uuid, None)

    def _wait_for(self, uuid):
        deadline = time.monotonic() + EVENT_WAIT
        while True:
            stats = self._stats.pop(uuid, None)
            if (stats is not None or self._registered is None or
                    time.monotonic() >= deadline):
                return stats
            time.sleep(EVENT_POLL)


def _destination(migrate_data):
    try:
        return migrate_data.migration.dest_compute
    except Exception:  # no migrate_data, or fields nova did not set
        return None
