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

"""Figures: the CPU safeguard's cost beside stock nova's, on real libvirt.

Prints, in one run:

1. the CPU pre-check our destination adds to a live migration
   (:meth:`CPUGuard.check_can_live_migrate_destination` on real libvirt,
   an embedded QEMU driver ``qemu:///embed``: libvirt's own
   compareHypervisorCPU, no RPC) beside stock nova's own CPU comparison
   on the same libvirt (``compareHypervisorCPU`` as nova's
   ``Host.compare_hypervisor_cpu`` calls it); target: under 0.5 ms; and,
   with ``--pair``, the same over a real libvirtd socket;
2. ``xloud-cpu-baseline`` on 10,000 generated host descriptions (one
   os-hypervisors JSON; 10,000 XML files), input parsing included, in
   process and as a command; target: under 2 s. Stock nova has no
   baseline: operators pick a model by hand.

Only the product's public API (the guard, the tool, the input reader) and
the harness (``xloud_harness``) are used. Run from the repository root::

    python benchmarks/bench_cpu.py [--hosts N]

A figure, not a timed test: the machine is shared and noisy.
"""

import argparse
import io
import json
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

from nova import conf as nova_conf
from nova import objects

from xloud_harness import nova_host
from xloud_nova_ext.cmd import cpu_baseline
from xloud_nova_ext import conf as xloud_conf
from xloud_nova_ext.cpu import baseline
from xloud_nova_ext.cpu import compare
from xloud_nova_ext.cpu import guard
from xloud_nova_ext.cpu import inputs
from xloud_nova_ext.cpu import xmlcpu

CONF = nova_conf.CONF
PRECHECK_TARGET_MS = 0.5
BASELINE_TARGET_S = 2.0
MODELS = ('Skylake-Client', 'Cascadelake-Server', 'Haswell', 'Broadwell',
          'IvyBridge', 'Icelake-Server', 'Westmere')
OPTIONAL = ('vmx', 'pdpe1gb', 'ssbd', 'spec-ctrl', 'md-clear', 'hypervisor',
            'arch-capabilities', 'tsc_adjust', 'xsaves', 'invtsc', 'pcid',
            'stibp')
INSTANCE_UUID = '8b1c5b3c-8d1f-4a55-9d6e-3c1e5f0b2a11'


def median_ms(func, runs):
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        func()
        times.append(time.perf_counter() - start)
    return statistics.median(times) * 1000.0


def precheck(conn, runs):
    """(ours, stock nova's compare) in ms on one real libvirt."""
    domcaps = xmlcpu.parse_xml(conn.getDomainCapabilities(
        None, 'x86_64', None, 'qemu', 0))
    host_model = xmlcpu.host_model(domcaps).replace(
        mode='custom', vendor=None, arch=None)
    instance = objects.Instance(uuid=INSTANCE_UUID, host='src', image_ref='',
                                vcpu_model=None, system_metadata={})
    guard.write_record(instance.system_metadata, host_model,
                       'pc-i440fx-7.2', 'src')
    checker = guard.CPUGuard(nova_host.LibvirtHost(conn))
    info = {'cpu_info': '{}'}
    checker.check_can_live_migrate_destination(instance, info)  # warm up
    ours = median_ms(lambda: checker.check_can_live_migrate_destination(
        instance, info), runs)
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
            f.write(xmlcpu.to_host_xml(info['model'], 'x86_64', 'Intel',
                                       info['features']))
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


def print_precheck(args, conn):
    print('1. CPU pre-check on the destination (median of %d)' % args.runs)
    ours, novas = precheck(conn, args.runs)
    verdict = 'OK' if ours < PRECHECK_TARGET_MS else 'OVER TARGET'
    print('   stock nova\'s CPU compare, real libvirt (qemu:///embed): '
          '%7.3f ms' % novas)
    print('   Xloud CPU pre-check, real libvirt (qemu:///embed):     '
          '%7.3f ms  target < %.1f ms: %s'
          % (ours, PRECHECK_TARGET_MS, verdict))
    print('   difference to stock nova\'s compare: %+.3f ms'
          % (ours - novas))
    if args.pair:
        import libvirt
        from xloud_harness import hosts
        pair = hosts.shared_pair()
        daemon = libvirt.open(pair.b.uri)
        try:
            ours, novas = precheck(daemon, args.runs)
        finally:
            daemon.close()
            pair.down()
        print('   over a real libvirtd socket (integration host B): '
              'Xloud %.3f ms, stock nova\'s compare %.3f ms' % (ours, novas))


def print_baseline(args, conn, uri, work):
    print('\n2. xloud-cpu-baseline on %d host descriptions' % args.hosts)
    rng = random.Random(20261127)
    doc = hypervisors(args.hosts, rng,
                      baseline.Baseliner(conn, 'x86_64', 'qemu').expand)
    hyp_json = os.path.join(work, 'hypervisors.json')
    with open(hyp_json, 'w') as f:
        json.dump(doc, f)
    os.makedirs(os.path.join(work, 'xml'))
    files = cpu_files(os.path.join(work, 'xml'), doc)
    distinct = len({(h['cpu_info']['model'],
                     tuple(h['cpu_info']['features']))
                    for h in doc['hypervisors']})
    common = ['--connect', uri, '--virt-type', 'qemu', '--quiet']
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
    # As a command: interpreter start-up and a fresh embedded libvirt
    # (the tool prepares its root) included.
    root = tempfile.mkdtemp(prefix='xloud-bench-embed-', dir=work)
    start = time.perf_counter()
    command = os.path.join(os.path.dirname(sys.executable),
                           'xloud-cpu-baseline')
    subprocess.run([command, hyp_json, '--connect',
                    'qemu:///embed?root=%s' % root, '--virt-type', 'qemu',
                    '--quiet'], check=True, stdout=subprocess.DEVNULL)
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
    print('   stock nova: no baseline (operators pick cpu_models by hand)')


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--hosts', type=int, default=10000)
    parser.add_argument('--runs', type=int, default=1000,
                        help='pre-check calls per median')
    parser.add_argument('--pair', action='store_true',
                        help='also measure the pre-check against a real '
                             'libvirtd over its socket: host B of the '
                             'integration tier (root; takes its lock)')
    args = parser.parse_args()
    objects.register_all()
    if 'xloud' not in CONF:
        xloud_conf.register_opts(CONF)
    CONF.set_override('virt_type', 'qemu', 'libvirt')
    work = tempfile.mkdtemp(prefix='xloud-bench-cpu-')
    try:
        # The product's own embedded connection: the tool prepares the
        # root (a qemu.conf running QEMU as root) so libvirt keeps its
        # capabilities cache; the first call probes QEMU (seconds).
        uri = 'qemu:///embed?root=%s' % os.path.join(work, 'embed')
        conn = inputs.open_connection(uri)
        print_precheck(args, conn)
        print_baseline(args, conn, uri, work)
    finally:
        shutil.rmtree(work, True)


if __name__ == '__main__':
    main()
