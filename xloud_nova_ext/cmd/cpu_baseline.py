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

"""xloud-cpu-baseline: one CPU model every host of a group can run.

Reads the CPUs of N hosts (libvirt URIs, ``virsh capabilities`` /
``virsh domcapabilities`` XML files, nova hypervisor JSON with
``cpu_info``), asks libvirt for their baseline (``baselineHypervisorCPU``,
its real CPU maps) and prints the newest named model they all run with the
extra flags they share, the nova.conf snippet that gives every guest that
CPU, and which host can run which candidate model (and what it lacks).
``--format json`` prints the same as data. Admin guide:
doc/source/reference/cpu.rst.

Exit status: 0 done; 2 bad input (one line on stderr names it); 3 a host
cannot run the baseline (its libvirt disagrees with the others); 1 other
libvirt errors.
"""

import argparse
import json
import os
import sys
import time

from xloud_nova_ext.cpu import baseline
from xloud_nova_ext.cpu import compare
from xloud_nova_ext.cpu import inputs
from xloud_nova_ext.cpu import xmlcpu
from xloud_nova_ext import exception

PROG = 'xloud-cpu-baseline'
DEFAULT_CONNECT = 'qemu:///system'
EMBED_HINT = 'qemu:///embed?root=/tmp/xloud-cpu-baseline'


def _parser():
    parser = argparse.ArgumentParser(
        prog=PROG, description=__doc__.splitlines()[0],
        epilog='Files may be XML (virsh capabilities, virsh '
               'domcapabilities, a <cpu>) or JSON (openstack hypervisor '
               'show -f json, the os-hypervisors API, or a list of them); '
               '"-" reads standard input.')
    parser.add_argument('files', nargs='*', metavar='FILE',
                        help='host CPU descriptions')
    parser.add_argument('--uri', action='append', default=[],
                        help='libvirt URI of a host (repeatable); its own '
                             'libvirt then judges each candidate model')
    parser.add_argument('--connect', metavar='URI',
                        help='libvirt that computes the baseline (default: '
                             'the first --uri, else %s)' % DEFAULT_CONNECT)
    parser.add_argument('--virt-type', choices=('kvm', 'qemu'),
                        help='virt type of the hosts (default: the one the '
                             'inputs name, else kvm where the libvirt that '
                             'computes can use it, else qemu)')
    parser.add_argument('--candidate', action='append', default=[],
                        metavar='MODEL',
                        help='another CPU model to show in the matrix')
    parser.add_argument('--format', choices=('text', 'json'),
                        default='text')
    parser.add_argument('--chunk-size', type=int,
                        default=baseline.MAX_CPUS_PER_CALL,
                        help=argparse.SUPPRESS)
    parser.add_argument('--quiet', action='store_true',
                        help='no progress on standard error')
    return parser


#: Beyond this many hosts --format json prints one line.
JSON_INDENT_MAX_HOSTS = 200
#: Seconds between two progress lines; a run shorter than that prints none.
PROGRESS_INTERVAL = 0.5


class Progress(object):
    """Progress lines on stderr, at most two a second (quiet when fast)."""

    def __init__(self, enabled, stream=None):
        self.enabled = enabled
        self.stream = stream or sys.stderr
        self.interval = PROGRESS_INTERVAL
        self._last = time.monotonic()

    def __call__(self, text):
        now = time.monotonic()
        if self.enabled and now - self._last >= self.interval:
            self._last = now
            self.stream.write('%s: %s\n' % (PROG, text))
            self.stream.flush()


def read_hosts(args, progress):
    hosts = []
    reader = inputs.FileReader()
    for n, path in enumerate(args.files, 1):
        hosts.extend(reader.read(path))
        progress('read %d of %d files (%d hosts)'
                 % (n, len(args.files), len(hosts)))
    for uri in args.uri:
        progress('connecting to %s' % uri)
        hosts.append(inputs.read_uri(uri, args.virt_type))
    if not hosts:
        raise inputs.input_error(PROG, 'no input: give FILEs and/or --uri')
    return hosts


def common_arch(hosts, default):
    first = next((h for h in hosts if h.arch), None)
    for host in hosts:
        if host.arch and host.arch != first.arch:
            raise inputs.input_error(host.source, (
                'architecture %s differs from %s of %s; run %s once per '
                'architecture' % (host.arch, first.arch, first.source,
                                  PROG)))
    return first.arch if first else default


def common_virt_type(hosts, chosen, conn, connect_uri, arch):
    """(virt type, where it comes from) that the baseline is judged for.

    --virt-type, else the inputs', else what the computing libvirt can use
    (kvm only where it is usable).
    """
    if chosen:
        return chosen, '--virt-type'
    first = next((h for h in hosts if h.virt_type), None)
    for host in hosts:
        if host.virt_type and host.virt_type != first.virt_type:
            raise inputs.input_error(host.source, (
                'virt type %s differs from %s of %s; pass --virt-type'
                % (host.virt_type, first.virt_type, first.source)))
    if first:
        return first.virt_type, 'the inputs'
    caps = xmlcpu.parse_xml(conn.getCapabilities())
    virt_type, _ = inputs.choose_virt_type(conn, caps, arch)
    return virt_type, 'what %s can use' % connect_uri


def connect(args, hosts):
    uri = args.connect or (args.uri[0] if args.uri else DEFAULT_CONNECT)
    for host in hosts:
        if host.conn is not None and host.source == uri:
            return uri, host.conn
    try:
        return uri, inputs.CachedConnection(inputs.open_connection(uri))
    except exception.BaselineInputError as e:
        raise inputs.input_error(uri, (
            '%s. The baseline needs one reachable libvirt of this '
            'architecture: pass --connect URI (e.g. qemu+ssh://HOST/system '
            'or qemu:///system on a compute host; %s works without a '
            'daemon where QEMU is installed)' % (
                e.kwargs['detail'], EMBED_HINT)))


def host_arch(conn):
    return xmlcpu.parse_xml(conn.getCapabilities()).findtext('host/cpu/arch')


def candidates(tool, cpu, hosts, extra):
    """(label, CPUDef) to show in the matrix, baseline first."""
    flags = baseline.extra_flags(cpu)
    found = [('baseline', cpu.replace(vendor=None))]
    names = [cpu.model] if flags else []
    names += list(extra)
    by_size = sorted({h.cpu.model for h in hosts},
                     key=lambda m: (-len(tool.expand(m)), m))
    names += by_size
    seen = set()
    for name in names:
        if name not in seen:
            seen.add(name)
            found.append((name, xmlcpu.CPUDef.make(name)))
    return found


def build_report(args, progress):
    hosts = read_hosts(args, progress)
    connect_uri, conn = connect(args, hosts)
    arch = common_arch(hosts, None) or host_arch(conn)
    virt_type, virt_type_from = common_virt_type(
        hosts, args.virt_type, conn, connect_uri, arch)
    tool = baseline.Baseliner(conn, arch, virt_type, args.chunk_size,
                              progress)
    tool.check_models(hosts)
    for model in args.candidate:
        if model not in tool.known_models():
            raise inputs.input_error('--candidate %s' % model,
                                     'unknown CPU model')
    cpu, vendor_dropped = tool.baseline(hosts)
    cands = candidates(tool, cpu, hosts, args.candidate)
    groups = {}
    for host in hosts:
        key = (host.cpu.model, host.cpu.features, host.cpu.vendor,
               id(host.conn),
               tuple(sorted(host.usable.items())) if host.usable else ())
        groups.setdefault(key, []).append(host)
    rows = []
    for n, members in enumerate(groups.values(), 1):
        progress('matrix: %d of %d distinct CPUs' % (n, len(groups)))
        cells = [tool.cell(members[0], c) for _, c in cands]
        rows.append((members, cells))
    return {
        'arch': arch, 'virt_type': virt_type,
        'virt_type_from': virt_type_from, 'connect': connect_uri,
        'connect_is_input': any(h.conn is conn for h in hosts),
        'hosts': hosts,
        'distinct': len({(h.cpu.model, h.cpu.features, h.cpu.vendor)
                         for h in hosts}),
        'cpu': cpu, 'vendor_dropped': vendor_dropped,
        'candidates': cands, 'rows': rows,
        'unverified': [(h, c) for members, cells in rows for h in members
                       for c in cells[:1] if not c.runs],
    }


def as_json(report):
    cpu = report['cpu']
    labels = [label for label, _ in report['candidates']]
    return {
        'arch': report['arch'],
        'virt_type': report['virt_type'],
        'virt_type_from': report['virt_type_from'],
        'computed_by': report['connect'],
        'hosts': len(report['hosts']),
        'distinct_cpus': report['distinct'],
        'vendor_dropped': report['vendor_dropped'],
        'computed_by_a_host_of_the_group': report['connect_is_input'],
        'baseline': {
            'model': cpu.model,
            'vendor': cpu.vendor,
            'features': sorted(cpu.names(xmlcpu.REQUIRE, xmlcpu.FORCE)),
            'disabled': sorted(cpu.names(xmlcpu.DISABLE, xmlcpu.FORBID)),
        },
        'nova_conf': {
            'cpu_mode': 'custom',
            'cpu_models': [cpu.model],
            'cpu_model_extra_flags': baseline.extra_flags(cpu),
        },
        'nova_conf_snippet': baseline.nova_conf(cpu),
        'candidates': labels,
        'matrix': [
            {'host': host.name, 'source': host.source, 'models': models}
            for members, models in (
                (members, {label: {'runs': cell.runs,
                                   'lacks': list(cell.lacks),
                                   'checked_by': cell.checked_by}
                           for label, cell in zip(labels, cells)})
                for members, cells in report['rows'])
            for host in members],
    }


def _names(members, limit=3):
    names = [h.name or h.source for h in members]
    text = ', '.join(names[:limit])
    if len(names) > limit:
        text += ' (+%d more)' % (len(names) - limit)
    return text


def as_text(report):
    cpu = report['cpu']
    flags = baseline.extra_flags(cpu)
    out = ['CPU baseline of %d hosts (%d distinct CPUs, %s, virt type %s '
           'from %s), computed by libvirt at %s:' % (
               len(report['hosts']), report['distinct'], report['arch'],
               report['virt_type'], report['virt_type_from'],
               report['connect']), '']
    out.append('  model:       %s' % cpu.model)
    out.append('  extra flags: %s' % (', '.join(flags) or '(none)'))
    if report['vendor_dropped']:
        out.append('  (the hosts have CPUs of several vendors: the vendor '
                   'was left out)')
    if not report['connect_is_input']:
        out += ['', 'Note: %s is not one of these hosts. libvirt never '
                'baselines beyond what its own hypervisor (%s) offers: '
                'pass --connect with a host of this group.' % (
                    report['connect'], report['virt_type'])]
    out += ['', 'nova.conf of every compute host in this group:', '']
    out += ['  ' + line for line in baseline.nova_conf(cpu).splitlines()]
    labels = [label for label, _ in report['candidates']]
    out += ['', 'Which hosts run which model ("baseline" is the model with '
                'its extra flags):', '']
    table = [['HOSTS'] + labels + ['CHECKED BY']]
    for members, cells in report['rows']:
        table.append([_names(members)] + [
            'yes' if c.runs else 'no (%d)' % len(c.lacks) if c.lacks
            else 'no' for c in cells] + [cells[0].checked_by])
    widths = [max(len(row[i]) for row in table) for i in range(len(table[0]))]
    for row in table:
        out.append('  ' + '  '.join(v.ljust(w) for v, w in
                                    zip(row, widths)).rstrip())
    lacking = [(members, label, cell)
               for members, cells in report['rows']
               for label, cell in zip(labels, cells)
               if not cell.runs]
    if lacking:
        out += ['', 'What they lack:']
        for members, label, cell in lacking:
            out.append('  %s cannot run %s: %s' % (
                _names(members), label,
                ', '.join(cell.lacks) or cell.detail or 'refused'))
    out += ['', 'CHECKED BY: libvirt = the host\'s own libvirt (--uri); '
            'usable = its domain capabilities; features = feature sets '
            'from libvirt\'s CPU map.']
    return '\n'.join(out) + '\n'


def _keep_probed_qemu(args, into_roots):
    """Carry libvirt's probed QEMU capabilities between embedded roots.

    Into every ``qemu:///embed`` root of this run before it is opened
    (files it lacks), back into this user's cache after: a new root then
    skips starting QEMU, seconds per emulator. libvirt checks each file
    and probes again when QEMU, libvirt or the kernel changed. The cache
    only saves time: when it cannot be read or written, nothing else
    changes.
    """
    cache = inputs.capabilities_cache_dir()
    for root in {inputs.embed_root(uri) for uri in args.uri + [args.connect]}:
        if not root:
            continue
        caps = os.path.join(root, inputs.EMBED_CAPABILITIES)
        try:
            if into_roots:
                inputs.copy_capabilities(cache, caps, replace=False)
            else:
                inputs.copy_capabilities(caps, cache)
        except OSError:
            pass


def main(argv=None, stdout=None, stderr=None):
    stdout = stdout or sys.stdout
    stderr = stderr or sys.stderr
    args = _parser().parse_args(argv)
    progress = Progress(not args.quiet, stderr)
    _keep_probed_qemu(args, into_roots=True)
    try:
        report = build_report(args, progress)
    except exception.BaselineInputError as e:
        stderr.write('%s: error: %s\n' % (PROG, e.cause))
        return 2
    except compare.libvirt_error() as e:
        stderr.write('%s: libvirt error: %s\n' % (PROG, compare.first_line(e)))
        return 1
    finally:
        _keep_probed_qemu(args, into_roots=False)
    if args.format == 'json':
        # Indented for people; one line for machines when it is big: only
        # json.dumps without indent runs in C (seconds for 10,000 hosts).
        indent = 2 if len(report['hosts']) <= JSON_INDENT_MAX_HOSTS else None
        stdout.write(json.dumps(as_json(report), indent=indent,
                                sort_keys=True) + '\n')
    else:
        stdout.write(as_text(report))
    for host, cell in report['unverified']:
        stderr.write('%s: warning: %s (%s) cannot run the baseline: %s\n' % (
            PROG, host.name, host.source,
            ', '.join(cell.lacks) or cell.detail or 'refused'))
    return 3 if report['unverified'] else 0


if __name__ == '__main__':
    sys.exit(main())
