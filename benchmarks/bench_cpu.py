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

"""What the CPU baseline safeguard costs, beside stock nova.

Prints, in one run:

1. the CPU pre-check our destination adds to a live migration:
   :meth:`CPUGuard.check_destination` on real libvirt (an embedded QEMU
   driver, ``qemu:///embed``: libvirt's own compareHypervisorCPU, no RPC),
   beside nova's own CPU compare on the same libvirt, which our driver
   switches off, and beside stock ``LibvirtDriver.
   check_can_live_migrate_destination`` in nova's functional harness;
   target: under 0.5 ms;
2. ``xloud-cpu-baseline`` on 10,000 generated host descriptions (one
   os-hypervisors JSON; 10,000 XML files), input parsing included, in
   process and as a command; target: under 2 s. Stock nova has no
   baseline: operators pick a model by hand.

Run from the repository root::

    OS_WSGI__API_PASTE_CONFIG=/opt/xvenv/etc/nova/api-paste.ini \\
        /opt/xvenv/bin/python benchmarks/bench_cpu.py [--hosts N]

A figure, not a timed test: the machine is shared and noisy.
"""

from nova import monkey_patch; monkey_patch.patch()  # noqa

import argparse  # noqa: E402
import io  # noqa: E402
import json  # noqa: E402
import os  # noqa: E402
import random  # noqa: E402
import shutil  # noqa: E402
import statistics  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(
    __file__))))

from nova import conf as nova_conf  # noqa: E402
from nova import context as nova_context  # noqa: E402
from nova import objects  # noqa: E402
from nova.objects import base as obj_base  # noqa: E402
from nova.virt.libvirt import driver as libvirt_driver  # noqa: E402

from xloud_harness import fake_cpu  # noqa: E402

from xloud_nova_ext.cmd import cpu_baseline  # noqa: E402
from xloud_nova_ext.cpu import compare  # noqa: E402
from xloud_nova_ext.cpu import guard  # noqa: E402
from xloud_nova_ext.cpu import xmlcpu  # noqa: E402
from xloud_nova_ext.tests.fixtures import embedded_libvirt  # noqa: E402
from xloud_nova_ext.tests.fixtures import real_host  # noqa: E402
from xloud_nova_ext.tests.functional import test_cpu  # noqa: E402

CONF = nova_conf.CONF
PRECHECK_TARGET_MS = 0.5
BASELINE_TARGET_S = 2.0
MODELS = ('Skylake-Client', 'Cascadelake-Server', 'Haswell', 'Broadwell',
          'IvyBridge', 'Icelake-Server', 'Westmere')
OPTIONAL = ('vmx', 'pdpe1gb', 'ssbd', 'spec-ctrl', 'md-clear', 'hypervisor',
            'arch-capabilities', 'tsc_adjust', 'xsaves', 'invtsc', 'pcid',
            'stibp')


def ms(seconds):
    return seconds * 1000.0


def median_ms(func, runs):
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        func()
        times.append(time.perf_counter() - start)
    return ms(statistics.median(times))


class _Harness(test_cpu.CPUTestBase):
    """nova's functional harness, driven by hand: setUp, measure, cleanup."""

    CPUS = {'src': fake_cpu.CASCADELAKE, 'dest': fake_cpu.CASCADELAKE}

    def runTest(self):
        pass

    def measure(self, runs):
        server = self.boot('src')
        ctxt = nova_context.get_admin_context()
        instance = objects.Instance.get_by_uuid(
            ctxt, server['id'], expected_attrs=['system_metadata'])
        dest = self.computes['dest']
        src_info = objects.ComputeNode.get_first_node_by_host_for_old_compat(
            ctxt, 'src')
        dst_info = objects.ComputeNode.get_first_node_by_host_for_old_compat(
            ctxt, 'dest')
        # As nova's compute manager hands them to the driver.
        src = obj_base.obj_to_primitive(src_info)
        dst = obj_base.obj_to_primitive(dst_info)
        driver = dest.driver

        def stock():
            # nova's own method on our driver's instance, nova's CPU
            # compare switched back on: what stock nova does.
            data = libvirt_driver.LibvirtDriver.\
                check_can_live_migrate_destination(
                    driver, ctxt, instance, src, dst, False, False)
            driver.cleanup_live_migration_destination_check(ctxt, data)

        self.flags(skip_cpu_compare_on_dest=False, group='workarounds')
        stock()
        stock_ms = median_ms(stock, runs)
        ours_ms = median_ms(
            lambda: driver._cpu.check_destination(instance, src), runs)
        return stock_ms, ours_ms


def precheck_on_real_libvirt(conn, runs):
    """(ours, nova's compare) in ms on an embedded real libvirt."""
    objects.register_all()
    CONF.set_override('virt_type', 'qemu', 'libvirt')
    domcaps = xmlcpu.parse_xml(conn.getDomainCapabilities(
        None, 'x86_64', None, 'qemu', 0))
    host_model = xmlcpu.host_model(domcaps).replace(
        mode='custom', vendor=None, arch=None)
    instance = objects.Instance(uuid='8b1c5b3c-8d1f-4a55-9d6e-3c1e5f0b2a11',
                                host='src', image_ref='', vcpu_model=None,
                                system_metadata={})
    guard.write_record(instance.system_metadata, host_model,
                       'pc-i440fx-7.2', 'src')
    checker = guard.CPUGuard(real_host.LibvirtHost(conn))
    checker.check_destination(instance, {'cpu_info': '{}'})  # warm caches
    ours = median_ms(lambda: checker.check_destination(
        instance, {'cpu_info': '{}'}), runs)
    # nova's Host.compare_hypervisor_cpu: no arch, machine or virt type.
    nova_xml = xmlcpu.to_guest_xml(host_model)
    novas = median_ms(lambda: conn.compareHypervisorCPU(
        None, None, None, None, nova_xml, 0), runs)
    return ours, novas


def hypervisors(count, rng, expand):
    """An os-hypervisors API answer with ``count`` generated hosts."""
    docs = []
    for i in range(count):
        model = rng.choice(MODELS)
        features = set(expand(model)) | set(rng.sample(
            OPTIONAL, rng.randint(0, len(OPTIONAL))))
        docs.append({'hypervisor_hostname': 'cmp%05d' % i, 'cpu_info': {
            'arch': 'x86_64', 'model': model, 'vendor': 'Intel',
            'topology': {'sockets': 2, 'cores': 16, 'threads': 2},
            'features': sorted(features)}})
    return {'hypervisors': docs}


def cpu_files(directory, doc):
    paths = []
    for hyp in doc['hypervisors']:
        info = hyp['cpu_info']
        path = os.path.join(directory, hyp['hypervisor_hostname'] + '.xml')
        with open(path, 'w') as f:
            f.write('<cpu><arch>x86_64</arch><model>%s</model><vendor>Intel'
                    '</vendor>%s</cpu>' % (info['model'], ''.join(
                        "<feature name='%s'/>" % n
                        for n in info['features'])))
        paths.append(path)
    return paths


def run_tool(argv):
    out, err = io.StringIO(), io.StringIO()
    start = time.perf_counter()
    rc = cpu_baseline.main(argv, stdout=out, stderr=err)
    elapsed = time.perf_counter() - start
    if rc:
        raise RuntimeError('xloud-cpu-baseline: %s' % err.getvalue())
    return elapsed, out.getvalue()


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--hosts', type=int, default=10000)
    parser.add_argument('--runs', type=int, default=1000,
                        help='pre-check calls per median (real libvirt)')
    parser.add_argument('--harness-runs', type=int, default=30)
    parser.add_argument('--pair', action='store_true',
                        help='also measure the pre-check against a real '
                             'libvirtd over its socket: host B of the '
                             'integration tier (root; takes its lock)')
    args = parser.parse_args()

    class _Test(object):
        def skipTest(self, reason):
            sys.exit('cannot run: %s' % reason)
        fail = skipTest

    embedded = embedded_libvirt.EmbeddedLibvirt(_Test())
    embedded.setUp()
    conn = embedded.conn
    work = tempfile.mkdtemp(prefix='xloud-bench-cpu-')
    try:
        print('1. CPU pre-check on the destination (median)')
        ours, novas = precheck_on_real_libvirt(conn, args.runs)
        CONF.clear_override('virt_type', 'libvirt')
        harness = _Harness()
        harness.setUp()
        try:
            stock_ms, harness_ms = harness.measure(args.harness_runs)
        finally:
            harness.doCleanups()
        verdict = 'OK' if ours < PRECHECK_TARGET_MS else 'OVER TARGET'
        print('   stock LibvirtDriver.check_can_live_migrate_destination '
              '(nova harness, nova compare on): %7.3f ms' % stock_ms)
        print('   nova\'s own CPU compare, real libvirt (switched off by '
              'our driver):   %7.3f ms' % novas)
        print('   Xloud CPUGuard.check_destination, real libvirt '
              '(qemu:///embed):       %7.3f ms  target < %.1f ms: %s'
              % (ours, PRECHECK_TARGET_MS, verdict))
        print('   Xloud CPUGuard.check_destination, nova harness '
              '(fakelibvirt):         %7.3f ms' % harness_ms)
        print('   net change to a pre-check with nova\'s compare on: '
              '%+.3f ms' % (ours - novas))
        if args.pair:
            from xloud_harness import hosts
            pair = hosts.shared_pair()
            import libvirt
            daemon = libvirt.open(pair.b.uri)
            try:
                CONF.set_override('virt_type', 'qemu', 'libvirt')
                ours, novas = precheck_on_real_libvirt(daemon, args.runs)
                CONF.clear_override('virt_type', 'libvirt')
            finally:
                daemon.close()
                pair.down()
            print('   over a real libvirtd socket (integration host B): '
                  'ours %.3f ms, nova\'s compare %.3f ms' % (ours, novas))

        print('\n2. xloud-cpu-baseline on %d host descriptions' % args.hosts)
        rng = random.Random(20261127)
        from xloud_nova_ext.cpu import baseline as baseline_mod
        expander = baseline_mod.Baseliner(conn, 'x86_64', 'qemu')
        doc = hypervisors(args.hosts, rng, expander.expand)
        hyp_json = os.path.join(work, 'hypervisors.json')
        with open(hyp_json, 'w') as f:
            json.dump(doc, f)
        os.makedirs(os.path.join(work, 'xml'))
        files = cpu_files(os.path.join(work, 'xml'), doc)
        distinct = len({(h['cpu_info']['model'],
                         tuple(h['cpu_info']['features']))
                        for h in doc['hypervisors']})
        common = ['--connect', embedded.uri, '--virt-type', 'qemu',
                  '--quiet']
        rows = []
        for label, argv in (
                ('one os-hypervisors JSON, text', [hyp_json]),
                ('one os-hypervisors JSON, --format json',
                 [hyp_json, '--format', 'json']),
                ('%d XML files, text' % len(files), files)):
            elapsed, out = run_tool(argv + common)
            rows.append((label, elapsed))
        model = [line for line in out.splitlines()
                 if line.strip().startswith('model:')][0].split()[-1]
        # As a command: interpreter start-up and a fresh libvirt included.
        root = tempfile.mkdtemp(prefix='xloud-bench-embed-', dir=work)
        embedded_libvirt.prepare_root(root)
        start = time.perf_counter()
        subprocess.run([sys.executable, '-m',
                        'xloud_nova_ext.cmd.cpu_baseline', hyp_json,
                        '--connect', 'qemu:///embed?root=%s' % root,
                        '--virt-type', 'qemu', '--quiet'],
                       check=True, stdout=subprocess.DEVNULL,
                       cwd=os.path.dirname(os.path.dirname(
                           os.path.abspath(__file__))))
        rows.append(('xloud-cpu-baseline command, JSON (start-up incl.)',
                     time.perf_counter() - start))
        print('   %d hosts, %d distinct CPUs, baseline: %s'
              % (args.hosts, distinct, model))
        for label, elapsed in rows:
            verdict = 'OK' if elapsed < BASELINE_TARGET_S else 'OVER TARGET'
            print('   %-52s %6.2f s  target < %.0f s: %s'
                  % (label, elapsed, BASELINE_TARGET_S, verdict))
        one = [xmlcpu.to_guest_xml(xmlcpu.CPUDef.make(
            h['cpu_info']['model'], {n: 'require' for n in
                                     h['cpu_info']['features']},
            vendor='Intel'), with_vendor=True)
            for h in doc['hypervisors'][:256]]
        single = median_ms(lambda: conn.baselineHypervisorCPU(
            None, 'x86_64', None, 'qemu', one,
            compare.VIR_CONNECT_BASELINE_CPU_MIGRATABLE), 5)
        print('   one baselineHypervisorCPU call of 256 CPUs:          '
              '%6.1f ms' % single)
        print('   stock nova: no baseline (operators pick cpu_models by '
              'hand)')
    finally:
        shutil.rmtree(work, True)
        embedded.cleanUp()


if __name__ == '__main__':
    main()
