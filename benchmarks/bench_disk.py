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

"""What the disk preflight adds to a block migration's checks.

In nova's functional harness (fakelibvirt), with a server of 4 local disks
(root, ephemeral, swap, config drive) whose files are real images made with
qemu-img at the paths of its domain XML, this prints, in one run, medians
over N calls:

1. stock nova's ``LibvirtDriver.check_can_live_migrate_source`` and the
   same hook of XloudLibvirtDriver (all three safeguards), on the same
   instance and migrate data;
2. the disk preflight's own part of it (``DiskGuard.check_source``: domain
   XML, one stat per disk, arithmetic), against the target of 0.5 ms;
3. the destination's parts: its question and its judgement of the
   source's answer (statvfs and the ledger) in
   ``check_can_live_migrate_destination`` and
   ``check_source_migrate_data_at_dest``, and
   the check-and-reserve of ``pre_live_migration`` from nova's disk info
   for the 4 disks;
4. ``os.statvfs`` alone, and what nova's own disk info costs (qemu-img per
   disk), which the preflight does not run.

Only the product's and the harness's public APIs are used: nova's
functional harness (``xloud_harness.nova_fakelibvirt``, run as a test by
``xloud_harness.testing.run``) and its real images
(``xloud_harness.disk_images``). Run from the repository root in the
bench tier's virtualenv and settings::

    tox -e bench --notest
    tox exec -e bench -- python benchmarks/bench_disk.py [--calls N]

A figure, not a timed test: the machine is shared and noisy.
"""

# First: nova's services run on eventlet, patched before nova is imported.
from xloud_harness import nova_eventlet  # noqa: F401

import argparse
import os
import statistics
import time

from nova import conf as nova_conf
from nova import context as nova_context
from nova import objects
from nova.virt.libvirt import driver as libvirt_driver
from oslo_serialization import jsonutils
from oslo_utils import units

from xloud_harness import disk_images
from xloud_harness import nova_fakelibvirt
from xloud_harness import testing
from xloud_nova_ext.disk import need
from xloud_nova_ext.disk import space

CONF = nova_conf.CONF
TARGET_MS = 0.5
MiB = units.Mi


def ms(seconds):
    return seconds * 1000.0


def median_ms(func, calls):
    func()  # warm up
    times = []
    for _ in range(calls):
        start = time.perf_counter()
        func()
        times.append(time.perf_counter() - start)
    return ms(statistics.median(times))


class DiskBench(nova_fakelibvirt.MigrationTestBase):
    """Computes running XloudLibvirtDriver, as in the functional tests."""

    COMPUTE_DRIVER = 'xloud.XloudLibvirtDriver'
    LIBVIRT_MODULES = ('xloud_nova_ext.cpu.compare',)
    #: Calls per median.
    calls = 200

    def test_figures(self):
        # Into the caller's dict: nova's TestCase deletes its public
        # attributes at clean-up.
        self.figures.update(self.measure(self.calls))

    def server_with_four_disks(self):
        self.flags(force_config_drive=True)
        flavor = self._create_flavor(memory_mb=512, vcpu=1, disk=1,
                                     ephemeral=1, swap=64)
        server = self._create_server(host='src', flavor_id=flavor,
                                     networks='none')
        context = nova_context.get_admin_context()
        instance = objects.Instance.get_by_uuid(context, server['id'])
        return context, instance

    def make_real_disks(self, instance):
        """Real images at the paths of the guest's domain XML."""
        guest = self.driver('src')._host.get_guest(instance)
        paths = need.local_disk_paths(guest.get_all_disks())
        cache = os.path.join(CONF.instances_path,
                             CONF.image_cache.subdirectory_name)
        os.makedirs(cache, exist_ok=True)
        os.makedirs(os.path.dirname(paths[0]), exist_ok=True)
        base_image = disk_images.make_image(
            os.path.join(cache, 'b4se'), 'raw', 64 * MiB,
            writes=[(0, 8 * MiB)])
        disks = []
        for n, path in enumerate(paths):
            if path.endswith('disk.config'):
                disk_images.make_image(path, 'raw', 1 * MiB,
                                       writes=[(0, 1 * MiB)])
                disks.append((path, 'raw', 'vd%s' % 'abcd'[n]))
            else:
                disk_images.make_image(path, 'qcow2', 1 << 30,
                                       writes=[(0, (n + 1) * MiB)],
                                       backing=base_image)
                disks.append((path, 'qcow2', 'vd%s' % 'abcd'[n]))
        return disks

    def migrate_data(self, instance):
        return objects.LibvirtLiveMigrateData(
            filename='bench', image_type=CONF.libvirt.images_type,
            block_migration=True,
            # As an Xloud destination asks the source for its disks' size.
            disk_available_mb=None,
            is_volume_backed=False, graphics_listen_addr_vnc='127.0.0.1',
            graphics_listen_addr_spice='127.0.0.1', serial_listen_addr=None,
            dst_wants_file_backed_memory=False,
            instance_relative_path=instance.uuid,
            is_shared_instance_path=False, is_shared_block_storage=False)

    def measure(self, calls):
        self.use_local_storage()
        context, instance = self.server_with_four_disks()
        disks = self.make_real_disks(instance)
        src, dest = self.driver('src'), self.driver('dest')
        figures = {'disks': len(disks)}

        def stock():
            libvirt_driver.LibvirtDriver.check_can_live_migrate_source(
                src, context, instance, self.migrate_data(instance), None)

        def xloud():
            src.check_can_live_migrate_source(
                context, instance, self.migrate_data(instance), None)

        data = self.migrate_data(instance)

        def preflight_source():
            # Answers in the data: fresh data each call, its cost
            # subtracted below.
            src._disk.check_can_live_migrate_source(
                instance, self.migrate_data(instance), None)

        def precheck_dest():
            # The destination's question, the source's answer, judged (and
            # cleared) at the destination.
            data = self.migrate_data(instance)
            dest._disk.check_can_live_migrate_destination(instance, data)
            data.disk_available_mb = 64
            dest._disk.check_source_migrate_data_at_dest(instance, data)

        def build_data():
            self.migrate_data(instance)

        # What the source sends to pre_live_migration: nova's disk info
        # (qemu-img per disk, run by nova anyway) plus our backing sizes.
        start = time.perf_counter()
        info = disk_images.nova_disk_info(disks)
        figures['nova disk info (qemu-img)'] = ms(
            time.perf_counter() - start)
        info = jsonutils.dumps(need.annotate(
            info, os.path.join(CONF.instances_path,
                               CONF.image_cache.subdirectory_name),
            space.LocalFS.allocated))

        def reserve_and_release():
            dest._disk._reserve(instance, data, info)
            dest._disk.ledger.release(instance.uuid)

        figures['stock'] = median_ms(stock, calls)
        figures['xloud'] = median_ms(xloud, calls)
        figures['build data'] = median_ms(build_data, calls)
        figures['preflight source'] = (median_ms(preflight_source, calls) -
                                       figures['build data'])
        figures['precheck dest'] = (median_ms(precheck_dest, calls) -
                                    figures['build data'])
        figures['reserve'] = median_ms(reserve_and_release, calls)
        figures['statvfs'] = median_ms(
            lambda: os.statvfs(CONF.instances_path), calls)
        return figures


def main():
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--calls', type=int, default=200)
    args = parser.parse_args()

    f = {}
    case = DiskBench('test_figures')
    case.calls, case.figures = args.calls, f
    testing.run(case)

    stock = f['stock'] - f['build data']
    xloud = f['xloud'] - f['build data']
    print("Block migration pre-checks, nova's harness (fakelibvirt), a server "
          "with %d local disks as real qcow2/raw files; medians of %d calls"
          % (f['disks'], args.calls))
    print('%-62s %8.3f ms' % ('stock LibvirtDriver.check_can_live_migrate_'
                              'source', stock))
    print('%-62s %8.3f ms' % ('XloudLibvirtDriver.check_can_live_migrate_'
                              'source (3 safeguards)', xloud))
    print('%-62s %8.3f ms  target < %.1f ms: %s' % (
        '  of which the disk preflight (its check_can_live_migrate_source)',
        f['preflight source'], TARGET_MS,
        'met' if f['preflight source'] < TARGET_MS else 'NOT MET'))
    print('%-62s %8.3f ms' % ("destination: question and judgement of "
                              "the answer (statvfs + ledger)",
                              f['precheck dest']))
    print('%-62s %8.3f ms' % ('destination: pre_live_migration check and '
                              'reserve (4 disks)', f['reserve']))
    print('%-62s %8.4f ms' % ('os.statvfs alone', f['statvfs']))
    print('%-62s %8.1f ms' % ("nova's disk info for 4 disks, once (qemu-img;"
                              " not run by the preflight)",
                              f['nova disk info (qemu-img)']))


if __name__ == '__main__':
    main()
