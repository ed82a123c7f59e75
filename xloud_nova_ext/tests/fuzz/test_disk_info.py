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


"""Disk info JSON, as a source (stock, Xloud or hostile) may send it."""

import collections
import json

from hypothesis import strategies as st
from oslo_serialization import jsonutils

from xloud_nova_ext.disk import need
from xloud_nova_ext.disk import space
from xloud_nova_ext import exception
from xloud_nova_ext.tests.fixtures import disk as disk_fx
from xloud_nova_ext.tests.fuzz import base

CACHE = '/i/_base'

scalars = (st.none() | st.booleans() | st.integers() |
           st.floats(allow_nan=True) | st.text(max_size=20))
any_json = st.recursive(
    scalars, lambda inner: st.lists(inner, max_size=4) |
    st.dictionaries(st.text(max_size=10), inner, max_size=4), max_leaves=20)
sizes = st.integers(min_value=0, max_value=1 << 44)
#: Mostly sizes, sometimes what no size is.
size_or_junk = sizes | st.sampled_from([-1, True, 1.5, '10', None, []])
names = st.sampled_from(['disk', 'disk.eph0', 'disk.config', 'disk.swap',
                         '', '/', 'a/b'])
bases = st.sampled_from(['', None, 'b4se', '/i/_base/b4se', 'other', 7])


@st.composite
def disks(draw):
    """One disk entry: valid, near-valid or missing a key."""
    disk = {'type': draw(st.sampled_from(['qcow2', 'raw', 'ploop', 1])),
            'path': draw(st.builds(lambda n: '/i/u/' + n, names) |
                         st.sampled_from([None, 3, ''])),
            'virt_disk_size': draw(size_or_junk),
            'disk_size': draw(size_or_junk),
            'backing_file': draw(bases),
            'over_committed_disk_size': draw(size_or_junk)}
    if draw(st.booleans()):
        disk[need.BACKING_SIZE_KEY] = draw(size_or_junk)
    if draw(st.integers(0, 9)) == 0:
        del disk[draw(st.sampled_from(sorted(disk)))]
    return disk


@st.composite
def valid_disks(draw):
    """One disk as nova (with or without our key) reports it."""
    disk = {'type': draw(st.sampled_from(['qcow2', 'raw'])),
            'path': '/i/u/' + draw(st.sampled_from(
                ['disk', 'disk.eph0', 'disk.config', 'disk.swap'])),
            'virt_disk_size': draw(sizes), 'disk_size': draw(sizes),
            'backing_file': draw(st.sampled_from(['', 'b4se', 'other'])),
            'over_committed_disk_size': draw(sizes)}
    if draw(st.booleans()):
        disk[need.BACKING_SIZE_KEY] = draw(st.none() | sizes)
    return disk


disk_info = (st.lists(valid_disks(), max_size=5).map(json.dumps) |
             st.lists(disks(), max_size=5).map(json.dumps) |
             any_json.map(json.dumps) | st.text(max_size=50) |
             st.sampled_from(['[' * 5000 + ']' * 5000, 'NaN',
                              '[{"path": "/i/u/disk"}]', '', None]))


def expected_total(disks, cached, headroom):
    """The oracle: what a block migration writes, from first principles."""
    total = headroom + sum(d['disk_size'] for d in disks)
    over = collections.defaultdict(list)
    for d in disks:
        if d['backing_file']:
            over[d['backing_file'].rsplit('/', 1)[-1]].append(d)
    for name, users in over.items():
        if name in cached:
            continue
        reported = [d.get(need.BACKING_SIZE_KEY) for d in users]
        if None in reported:
            total += max(d['virt_disk_size'] for d in users)
        else:
            total += max(reported)
    return total


class DiskInfoFuzzTest(base.FuzzTestCase):

    def run_property(self, check):
        """Run ``check`` on generated inputs.

        ``check(text, cached, headroom, free)`` returns True when it got an
        answer, False on a clean refusal; both kinds must be reached.
        """
        outcomes = []
        self.fuzz(st.tuples(disk_info, st.sets(st.sampled_from(
            ['b4se', 'other'])), st.integers(0, 1 << 30), sizes),
            lambda args: outcomes.append(bool(check(*args))))
        answered = sum(outcomes)
        self.assertGreater(answered, len(outcomes) // 10)
        self.assertLess(answered, len(outcomes))

    def test_block_migration_need(self):
        def check(text, cached, headroom, free):
            try:
                disks = need.parse_disk_info(text)
            except exception.DiskInfoInvalid:
                return False  # a clean refusal
            self.assertIsInstance(disks, list)
            result = need.block_migration_need(
                disks, '/d/u', CACHE, headroom,
                lambda path: path.rsplit('/', 1)[-1] in cached)
            self.assertEqual(expected_total(disks, cached, headroom),
                             result.total)
            self.assertLessEqual(result.lower().total, result.total)
            have = space.Have('/d', free)
            try:
                space.check_fits(result, have, 'host dest', 'block '
                                 'migration')
                self.assertLessEqual(result.total, free)
            except exception.InsufficientDisk as e:
                self.assertGreater(result.total, free)
                self.assertIn('xloud.disk.insufficient', str(e))
            return True
        self.run_property(check)

    def test_cold_migration_need(self):
        def check(text, cached, headroom, free):
            try:
                disks = need.cold_copied(need.parse_disk_info(text))
                result = need.cold_migration_need(
                    disks, '/d/u', CACHE, headroom,
                    lambda path: path.rsplit('/', 1)[-1] in cached,
                    sparse=free % 2 == 0, apparent=lambda path: free)
            except exception.DiskInfoInvalid:
                return False
            self.assertNotIn(need.SWAP_DISK,
                             [i.label for i in result.items])
            self.assertGreaterEqual(result.total, headroom)
            return True
        self.run_property(check)

    def test_source_annotation_never_raises(self):
        fs = disk_fx.FakeFS(free=0)
        fs.add(CACHE + '/b4se', 4096)

        def check(text, cached, headroom, free):
            if not isinstance(text, str):
                return False
            try:
                disks = jsonutils.loads(text)
            except (ValueError, RecursionError):
                return False  # passed on unchanged by the guard
            if not isinstance(disks, list):
                return False
            out = need.annotate([d for d in disks if isinstance(d, dict)],
                                CACHE, fs.allocated)
            self.assertIsInstance(out, list)
            return True
        self.run_property(check)
