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

"""A live migration that nova has rolled back is over: not an ERROR.

nova 34's libvirt driver copies in a worker thread and watches it; when
libvirt says the migration failed, its watcher runs nova's rollback
(``recover_method``: the instance is ACTIVE on its source again, the
record ``failed``). Then it re-raises the worker's libvirt error, and the
compute manager, seeing ``live_migration`` raise, puts the instance in
ERROR "as it is almost certainly too late to roll back", though the
rollback is done and the guest runs unharmed on its source. Seen on the
real cloud for every fault that makes libvirt fail the copy: the
destination's libvirtd killed, the migration network cut, the
destination's disk filled (``tox -e faults``).

:class:`Rollback` stands for nova's ``recover_method`` and remembers that
it completed; :func:`settled_by_rollback` turns the error that follows a
completed rollback into a WARNING. Any other failure (no rollback, or a
rollback that itself failed) reaches nova as before.
"""

import contextlib

from oslo_log import log as logging

LOG = logging.getLogger(__name__)


class Rollback(object):
    """nova's ``recover_method``, which remembers that it completed."""

    def __init__(self, recover_method):
        self._recover_method = recover_method
        self.completed = False

    def __call__(self, *args, **kwargs):
        result = self._recover_method(*args, **kwargs)
        self.completed = True
        return result


@contextlib.contextmanager
def settled_by_rollback(instance, rollback):
    """Let an error raised after ``rollback`` completed end as a WARNING."""
    try:
        yield
    except Exception as e:
        if not rollback.completed:
            raise
        LOG.warning('The live migration failed (%s) and was rolled back: '
                    'the instance stays ACTIVE on this host.', e,
                    instance=instance)
