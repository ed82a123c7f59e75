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

"""The reservation ledger, alone and under concurrent migrations."""

import os
import threading
import time

import fixtures

from xloud_harness import testing

from xloud_nova_ext.disk import reservations
from xloud_nova_ext.disk import space

MiB = 1 << 20


class Full(Exception):
    pass


def nothing_written(path):
    return None


class LedgerTest(testing.TestCase):

    def setUp(self):
        super().setUp()
        self.ledger = reservations.Ledger()

    def admit_within(self, capacity, size):
        def admit(in_flight, count):
            if size > capacity - in_flight:
                raise Full(in_flight)
        return admit

    def reserve(self, uuid, size, capacity=1000 * MiB, headroom=0):
        return self.ledger.reserve(
            uuid, [('/i/%s/disk' % uuid, size)], headroom,
            self.admit_within(capacity, size + headroom), nothing_written)

    def test_reserve_counts_and_release_frees(self):
        self.reserve('a', 300 * MiB, headroom=10 * MiB)
        self.reserve('b', 200 * MiB)
        self.assertEqual((510 * MiB, 2),
                         self.ledger.in_flight(nothing_written))
        self.assertEqual((200 * MiB, 1),
                         self.ledger.in_flight(nothing_written, exclude='a'))
        self.assertEqual(310 * MiB, self.ledger.release('a').total)
        self.assertIsNone(self.ledger.release('a'))
        self.assertEqual((200 * MiB, 1),
                         self.ledger.in_flight(nothing_written))

    def test_refused_reservation_leaves_nothing(self):
        self.reserve('a', 600 * MiB)
        self.assertRaises(Full, self.reserve, 'b', 600 * MiB)
        self.assertEqual(['a'], list(self.ledger.snapshot()))

    def test_same_instance_replaces_its_leftover(self):
        self.reserve('a', 600 * MiB)
        # Not refused by its own old reservation, and not counted twice.
        self.reserve('a', 700 * MiB)
        self.assertEqual((700 * MiB, 1),
                         self.ledger.in_flight(nothing_written))

    def test_release_of_a_stale_reservation_keeps_the_new_one(self):
        old = self.reserve('a', 100 * MiB)
        new = self.reserve('a', 200 * MiB)
        self.assertIsNone(self.ledger.release('a', old))
        self.assertIs(new, self.ledger.release('a', new))

    def test_prune_releases_only_what_is_over(self):
        self.reserve('over', 100 * MiB)
        self.reserve('running', 100 * MiB)
        released = self.ledger.prune(lambda uuid: uuid == 'running')
        self.assertEqual(['over'], [r.instance_uuid for r in released])
        self.assertEqual(['running'], list(self.ledger.snapshot()))

    def test_written_bytes_are_not_counted_twice(self):
        # statvfs already sees what the copy wrote; the reservation keeps
        # only what is still to come (and its headroom, whole).
        tmp = self.useFixture(fixtures.TempDir()).path
        target = os.path.join(tmp, 'disk')
        self.ledger.reserve('a', [(target, 8 * MiB)], 1 * MiB,
                            lambda *a: None, space.LocalFS.allocated)
        allocated = space.LocalFS.allocated
        self.assertEqual(9 * MiB, self.ledger.in_flight(allocated)[0])
        with open(target, 'wb') as f:
            f.write(b'\1' * (3 * MiB))
            f.flush()
            os.fsync(f.fileno())
        self.assertEqual(6 * MiB, self.ledger.in_flight(allocated)[0])
        with open(target, 'ab') as f:
            f.write(b'\1' * (6 * MiB))
        # Written more than promised (qcow2 metadata): never negative.
        self.assertEqual(1 * MiB, self.ledger.in_flight(allocated)[0])


class ConcurrencyTest(testing.TestCase):
    """Many migrations checked at once: no two may share the same bytes."""

    THREADS = 12
    SIZE = 100 * MiB
    CAPACITY = 450 * MiB  # room for four

    def _race(self, ledger):
        start = threading.Barrier(self.THREADS)
        accepted, refused = [], []

        def admit(in_flight, count):
            # Widen the window between reading in_flight and reserving:
            # another migration that is not serialised would slip in here.
            time.sleep(0.002)
            if self.SIZE > self.CAPACITY - in_flight:
                raise Full()

        def migrate(n):
            start.wait()
            try:
                ledger.reserve('vm-%d' % n, [('/i/%d/disk' % n, self.SIZE)],
                               0, admit, nothing_written)
                accepted.append(n)
            except Full:
                refused.append(n)

        threads = [threading.Thread(target=migrate, args=(n,))
                   for n in range(self.THREADS)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(30)
        return accepted, refused

    def test_exactly_as_many_as_fit_are_accepted(self):
        ledger = reservations.Ledger()
        accepted, refused = self._race(ledger)
        self.assertEqual(4, len(accepted), accepted)
        self.assertEqual(self.THREADS - 4, len(refused))
        in_flight, count = ledger.in_flight(nothing_written)
        self.assertEqual((4 * self.SIZE, 4), (in_flight, count))
        self.assertLessEqual(in_flight, self.CAPACITY)

    def test_nothing_leaks_once_all_settle(self):
        ledger = reservations.Ledger()
        accepted, _refused = self._race(ledger)
        releasers = [threading.Thread(target=ledger.release,
                                      args=('vm-%d' % n,)) for n in accepted]
        for t in releasers:
            t.start()
        for t in releasers:
            t.join(30)
        self.assertEqual(0, len(ledger))
        self.assertEqual((0, 0), ledger.in_flight(nothing_written))
