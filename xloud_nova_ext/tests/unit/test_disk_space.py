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

"""What a host has: statvfs on a real small filesystem, the remote probe."""

import errno
import os
import subprocess

import fixtures

from xloud_harness import testing

from xloud_nova_ext.disk import need
from xloud_nova_ext.disk import space
from xloud_nova_ext import exception
from xloud_nova_ext.tests.fixtures import disk as disk_fx
from xloud_nova_ext.tests import requirements

MiB = disk_fx.MiB


class SmallExt4(fixtures.Fixture):
    """A 32 MiB ext4 with the usual 5% root reserve, loop-mounted."""

    def __init__(self, size_mb=32):
        super().__init__()
        self.size_mb = size_mb

    def _setUp(self):
        tmp = self.useFixture(fixtures.TempDir()).path
        image = os.path.join(tmp, 'fs.img')
        self.path = os.path.join(tmp, 'mnt')
        os.mkdir(self.path)
        with open(image, 'wb') as f:
            f.truncate(self.size_mb * MiB)
        disk_fx.run('mkfs.ext4', '-q', '-F', '-m', '5', image)
        # A loop mount with autoclear: umount frees the loop device.
        disk_fx.run('mount', '-o', 'loop', image, self.path)
        self.addCleanup(disk_fx.run, 'umount', self.path)
        # Writable by an unprivileged user, as nova-compute is.
        os.chmod(tmp, 0o755)
        os.chmod(self.path, 0o777)


class LocalFSTest(testing.TestCase):

    def setUp(self):
        super().setUp()
        requirements.require(self, requirements.is_root(),
                             'mounting a small filesystem needs root')
        missing = requirements.missing_commands('mkfs.ext4', 'mount')
        requirements.require(self, not missing,
                             'missing %s' % ', '.join(missing))
        self.fs = self.useFixture(SmallExt4())

    def test_free_is_what_an_unprivileged_write_can_use(self):
        st = os.statvfs(self.fs.path)
        free = space.LocalFS.free(self.fs.path)
        self.assertEqual(st.f_bavail * st.f_frsize, free)
        # The root reserve is not ours: f_bfree would overstate by ~5%.
        self.assertLess(free, st.f_bfree * st.f_frsize)
        self.assertGreater(st.f_bfree * st.f_frsize - free, 1 * MiB)

    def test_verdict_agrees_with_a_real_write(self):
        """"Does not fit" means a write of that size really fails."""
        free = space.LocalFS.free(self.fs.path)
        have = space.Have(self.fs.path, free)
        too_big = need.Need([need.Item('disk', 'x', free + 1 * MiB)], 0)
        self.assertRaises(exception.InsufficientDisk, space.check_fits,
                          too_big, have, 'host b', 'block migration')
        # Not as root: root may eat into the reserve; nova's QEMU may not.
        target = os.path.join(self.fs.path, 'disk')
        out = subprocess.run(
            ['setpriv', '--reuid=65534', '--regid=65534', '--clear-groups',
             'dd', 'if=/dev/zero', 'of=%s' % target, 'bs=1M',
             'count=%d' % ((free + 1 * MiB) // MiB)],
            capture_output=True, text=True)
        self.assertNotEqual(0, out.returncode)
        self.assertIn(os.strerror(errno.ENOSPC), out.stderr)

        os.unlink(target)
        fits = need.Need([need.Item('disk', 'x', free - 2 * MiB)], 1 * MiB)
        space.check_fits(fits, space.Have(self.fs.path,
                                          space.LocalFS.free(self.fs.path)),
                         'host b', 'block migration')
        out = subprocess.run(
            ['setpriv', '--reuid=65534', '--regid=65534', '--clear-groups',
             'dd', 'if=/dev/zero', 'of=%s' % target, 'bs=1M',
             'count=%d' % ((free - 2 * MiB) // MiB)],
            capture_output=True, text=True)
        self.assertEqual(0, out.returncode, out.stderr)

    def test_allocated_counts_blocks_not_size(self):
        path = os.path.join(self.fs.path, 'sparse')
        with open(path, 'wb') as f:
            f.truncate(64 * MiB)  # larger than the filesystem: all hole
            f.seek(4 * MiB)
            f.write(b'x' * MiB)
        self.assertEqual(1 * MiB, space.LocalFS.allocated(path))
        self.assertEqual(64 * MiB, space.LocalFS.apparent(path))
        self.assertIsNone(space.LocalFS.allocated(path + '.missing'))


class CheckFitsTest(testing.TestCase):

    def setUp(self):
        super().setUp()
        self.need = need.Need([need.Item('disk', '/d/disk', 600 * MiB),
                               need.Item('disk.config', '/d/cfg', 1 * MiB)],
                              256 * MiB)

    def test_exact_fit_passes_one_byte_less_refuses(self):
        total = self.need.total
        space.check_fits(self.need, space.Have('/i', total), 'host b', 'x')
        err = self.assertRaises(exception.InsufficientDisk, space.check_fits,
                                self.need, space.Have('/i', total - 1),
                                'host b', 'block migration')
        self.assertIn('Free at least 1 bytes on host b', str(err))

    def test_message_names_host_disks_have_and_fix(self):
        have = space.Have('/var/lib/nova/instances', 900 * MiB,
                          reserved=100 * MiB, in_flight=300 * MiB,
                          in_flight_count=1)
        err = self.assertRaises(exception.InsufficientDisk, space.check_fits,
                                self.need, have, 'host dest',
                                'block migration')
        text = str(err)
        self.assertEqual('xloud.disk.insufficient', err.code)
        self.assertIn('The disks of this block migration do not fit on host '
                      'dest: 857.0 MiB needed, 500.0 MiB available; 1 block '
                      'migration(s) in flight there hold 300.0 MiB. Fix: '
                      'Retry once those have finished. Free at least 357.0 '
                      'MiB on host dest, or migrate to a host with more free '
                      'disk. Detail: Needed: disk 600.0 MiB '
                      '(629145600 bytes), disk.config 1.0 MiB (1048576 '
                      'bytes), headroom 256.0 MiB (268435456 bytes). '
                      'Available: 900.0 MiB (943718400 bytes) free for '
                      'unprivileged writes in /var/lib/nova/instances, less '
                      'reserved_host_disk_mb 100.0 MiB (104857600 bytes), '
                      'less 1 block migration(s) in flight there 300.0 MiB '
                      '(314572800 bytes).', text)

    def test_what_nova_keeps_names_cause_migrations_in_flight_and_fix(self):
        # nova keeps 255 characters of "Migration pre-check error: <text>"
        # in the instance action event, all an API user sees.
        have = space.Have('/var/lib/nova/instances', 440 * MiB,
                          in_flight=271 * MiB, in_flight_count=1)
        source = need.allocated_need([("the source's disks", 0)],
                                     256 * MiB)
        err = self.assertRaises(exception.InsufficientDisk, space.check_fits,
                                source, have, 'host compute-17',
                                'block migration')
        kept = ('Migration pre-check error: %s' % err)[:255]
        self.assertIn('do not fit on host compute-17: 256.0 MiB needed, 169.0 '
                      'MiB available; 1 block migration(s) in flight there '
                      'hold 271.0 MiB. Fix: Retry once those have finished.',
                      kept)
        have = space.Have('/var/lib/nova/instances', 40 * MiB)
        err = self.assertRaises(exception.InsufficientDisk, space.check_fits,
                                source, have, 'host compute-17',
                                'block migration')
        kept = ('Migration pre-check error: %s' % err)[:255]
        self.assertIn('256.0 MiB needed, 40.0 MiB available. Fix: Free at '
                      'least 216.0 MiB on host compute-17, or migrate to a '
                      'host with more free disk.', kept)

    def test_sizes_apart_by_less_than_the_rounding_are_exact(self):
        have = space.Have('/var/lib/nova/instances', 857 * MiB - 1)
        err = self.assertRaises(exception.InsufficientDisk, space.check_fits,
                                self.need, have, 'host dest',
                                'block migration')
        self.assertIn('857.0 MiB (898629632 bytes) needed, 857.0 MiB '
                      '(898629631 bytes) available. Fix: Free at least 1 '
                      'bytes on host dest', str(err))


class ProbeTest(testing.TestCase):
    """The cold-migration probe, run by a real sh as ssh would run it."""

    def setUp(self):
        super().setUp()
        self.dir = self.useFixture(fixtures.TempDir()).path
        self.present = os.path.join(self.dir, "it's here")
        open(self.present, 'w').close()
        self.absent = os.path.join(self.dir, 'not; rm -rf /')

    def test_script_answers_free_space_and_existence(self):
        paths = [self.present, self.absent]
        out = subprocess.run(
            ['sh', '-c', space.probe_script(self.dir, paths)],
            capture_output=True, text=True, check=True).stdout
        free, exists = space.parse_probe(out, paths)
        st = os.statvfs(self.dir)
        # Other tests write to the same filesystem meanwhile.
        self.assertAlmostEqual(st.f_bavail * st.f_frsize, free,
                               delta=64 * MiB)
        self.assertEqual({self.present: True, self.absent: False}, exists)

    def test_script_fails_when_instances_path_is_missing(self):
        out = subprocess.run(
            ['sh', '-c', space.probe_script(self.dir + '/nope', [])],
            capture_output=True, text=True)
        self.assertEqual(1, out.returncode)
        self.assertEqual('', out.stdout)

    def test_half_answers_are_refused(self):
        for output in ('', '123 4096\n', '123 4096\n1\n2\n', 'a b\n1\n',
                       '123\n1\n', '123 4096\nyes\n'):
            self.assertRaises(ValueError, space.parse_probe, output, ['/x'])
        self.assertEqual((123 * 4096, {'/x': False}),
                         space.parse_probe('123 4096\n0\n', ['/x']))
