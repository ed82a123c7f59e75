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

"""The disk space that block migrations to this host have been promised.

Without it two block migrations that each fit alone both pass their check
(each sees the same free space) and then overflow the disk together. A
destination accepts a block migration by reserving its bytes here, under the
same lock as the check, and releases them when the migration completes,
fails or rolls back.

The ledger lives in nova-compute's memory on purpose. After a restart of
nova-compute it is empty, and that is correct: a persisted reservation of a
migration whose end this process never saw could only leak (refusing every
later migration until someone deletes it), while the bytes an interrupted
copy already wrote are in the filesystem and are counted by ``statvfs``
anyway. What a restart forgets is the part of a still-running copy not yet
written; see the admin guide. Reservations whose migration ended without
telling this host are dropped by :meth:`Ledger.prune`, which the driver runs
from the resource tracker's periodic task.
"""

import threading


class Reservation(object):
    """Bytes promised to one incoming block migration.

    ``targets`` are (path, bytes) of the files the copy will fill on this
    host; ``headroom`` is held whole until release.
    """

    def __init__(self, instance_uuid, targets, headroom):
        self.instance_uuid = instance_uuid
        self.targets = tuple(targets)
        self.headroom = headroom

    @property
    def total(self):
        return self.headroom + sum(size for _path, size in self.targets)

    def outstanding(self, allocated):
        """Bytes promised but not yet written.

        As the copy proceeds its files grow and ``statvfs`` already counts
        what they hold; counting the whole reservation as well would count
        those bytes twice. ``allocated(path)`` is None for a file not
        created yet.
        """
        left = self.headroom
        for path, size in self.targets:
            left += max(0, size - (allocated(path) or 0))
        return left


class Ledger(object):
    """Reservations by instance UUID; thread-safe."""

    def __init__(self):
        self._lock = threading.Lock()
        self._entries = {}

    def in_flight(self, allocated, exclude=None):
        """(outstanding bytes, count) of every reservation but ``exclude``."""
        with self._lock:
            return self._in_flight(allocated, exclude)

    def _in_flight(self, allocated, exclude):
        entries = [r for uuid, r in self._entries.items() if uuid != exclude]
        return sum(r.outstanding(allocated) for r in entries), len(entries)

    def reserve(self, instance_uuid, targets, headroom, admit, allocated):
        """Reserve for ``instance_uuid`` if ``admit`` lets it.

        ``admit(in_flight_bytes, in_flight_count)`` runs under the lock and
        raises to refuse, so that no other migration can be checked or
        reserved between this check and this reservation; it may return
        other ``(targets, headroom)`` to reserve instead (a lower bound it
        settled for). A leftover reservation of the same instance is
        replaced, not added to.
        """
        with self._lock:
            instead = admit(*self._in_flight(allocated, instance_uuid))
            if instead is not None:
                targets, headroom = instead
            reservation = Reservation(instance_uuid, targets, headroom)
            self._entries[instance_uuid] = reservation
            return reservation

    def release(self, instance_uuid, reservation=None):
        """Drop the reservation of ``instance_uuid``; return it (or None).

        With ``reservation`` given, drop it only if it is still the current
        one (a newer migration of the same instance keeps its own).
        """
        with self._lock:
            current = self._entries.get(instance_uuid)
            if current is None or (reservation is not None and
                                   current is not reservation):
                return None
            return self._entries.pop(instance_uuid)

    def snapshot(self):
        """{instance_uuid: Reservation}, a copy."""
        with self._lock:
            return dict(self._entries)

    def prune(self, still_incoming):
        """Release every reservation whose migration is over.

        ``still_incoming(instance_uuid)`` may be slow (a database query), so
        it runs outside the lock; a reservation made meanwhile is kept.
        Returns the released reservations.
        """
        released = []
        for uuid, reservation in self.snapshot().items():
            if not still_incoming(uuid):
                if self.release(uuid, reservation) is not None:
                    released.append(reservation)
        return released

    def __len__(self):
        with self._lock:
            return len(self._entries)
