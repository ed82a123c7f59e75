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

"""What the baseline tool reads: files of host CPUs and libvirt hosts.

Each input becomes one or more :class:`HostCPU`: a host name, where it came
from (for error messages), its CPU as a :class:`~.xmlcpu.CPUDef` and, when
the input says so, which CPU models that host's libvirt finds usable.

Inputs:

* ``virsh domcapabilities`` XML: the host-model CPU (what the hypervisor
  offers guests, with ``disable`` features) and the usable models;
* ``virsh capabilities`` XML, or a bare ``<cpu>``: the host CPU;
* JSON of nova hypervisors (``openstack hypervisor show -f json``, the
  os-hypervisors API's ``{"hypervisor": ...}`` or ``{"hypervisors": [...]}``,
  or a list of them): their ``cpu_info``, whose ``xloud_host_model`` (added
  by our driver) is preferred to the host CPU;
* a libvirt URI: the host's domain capabilities, and its connection, so
  that its own libvirt judges each candidate model.

Identical files are parsed once: a cluster has many identical hosts.
"""

import dataclasses
import hashlib
import json
import os
import shutil
import sys
import threading
import urllib.parse

from xloud_nova_ext.cpu import compare
from xloud_nova_ext.cpu import xmlcpu
from xloud_nova_ext import exception


@dataclasses.dataclass
class HostCPU:
    name: str
    source: str
    cpu: xmlcpu.CPUDef
    #: {model: usable} from the host's domain capabilities, if known.
    usable: dict = None
    #: An open libvirt connection to the host (URI inputs only).
    conn: object = None
    virt_type: str = None

    @property
    def arch(self):
        return self.cpu.arch


def input_error(source, detail):
    return exception.BaselineInputError(source=source, detail=detail)


_EVENT_LOOP = threading.Lock()
_event_loop_started = []


def _native_threading():
    # Under eventlet (nova's services and tests) threading is green, and a
    # green thread blocked in libvirt's poll() would stop the process; use
    # a real thread, as nova's Host does for its libvirt event loop.
    patcher = sys.modules.get('eventlet.patcher')
    if patcher is None or not patcher.is_monkey_patched('thread'):
        return threading
    return patcher.original('threading')


def _start_event_loop(libvirt):
    # An embedded driver (qemu:///embed) needs an event loop in this
    # process; register it once, before the first connection.
    with _EVENT_LOOP:
        if _event_loop_started:
            return
        libvirt.virEventRegisterDefaultImpl()

        def run():
            while True:
                libvirt.virEventRunDefaultImpl()

        _native_threading().Thread(target=run, name='libvirt-events',
                                   daemon=True).start()
        _event_loop_started.append(True)


#: Embedded drivers opened by this process, by URI: libvirt registers a
#: driver per open and refuses more than a few ("Too many drivers").
_EMBEDDED = {}


def open_connection(uri):
    """A read-write libvirt connection to ``uri``.

    Read-only connections may not call getDomainCapabilities (libvirt 9.0:
    "read only access prevents virConnectGetDomainCapabilities"). An
    embedded driver is opened once per process and shared: do not close
    it.
    """
    if uri in _EMBEDDED:
        return _EMBEDDED[uri]
    if uri.startswith('qemu:///embed'):
        # The embedded driver logs its start-up chatter (and benign errors
        # of its own probing) to stderr; API errors still reach us.
        os.environ.setdefault('LIBVIRT_LOG_OUTPUTS', '1:file:/dev/null')
        prepare_embed_root(uri)
    libvirt = compare.libvirt_module()
    # libvirt prints every error to stderr by default; we report them.
    libvirt.registerErrorHandler(lambda ctxt, err: None, None)
    try:
        if uri.startswith('qemu:///embed'):
            _start_event_loop(libvirt)
            _EMBEDDED[uri] = libvirt.open(uri)
            return _EMBEDDED[uri]
        return libvirt.open(uri)
    except libvirt.libvirtError as e:
        raise input_error(uri, 'cannot connect: %s' % compare.first_line(e))


class CachedConnection(object):
    """A libvirt connection that asks each distinct question once.

    The tool asks some questions twice (a host's domain capabilities when
    reading it and when naming vendors; the baseline's compare when
    settling it and in the matrix). A libvirtd that re-probes QEMU at
    every call (doc/source/cpu.rst) takes seconds per call: one call per
    distinct question keeps that cost from multiplying. Answers and
    libvirt's errors are kept for the connection's life (one run).
    """

    QUESTIONS = frozenset((
        'getCapabilities', 'getDomainCapabilities', 'getHostname',
        'getCPUModelNames', 'compareHypervisorCPU', 'baselineCPU',
        'baselineHypervisorCPU'))

    def __init__(self, conn):
        self.conn = conn
        self._answers = {}

    def __getattr__(self, name):
        method = getattr(self.conn, name)
        if name not in self.QUESTIONS:
            return method

        def ask(*args):
            key = (name,) + tuple(
                tuple(a) if isinstance(a, list) else a for a in args)
            if key not in self._answers:
                try:
                    self._answers[key] = (method(*args), None)
                except compare.libvirt_error() as e:
                    self._answers[key] = (None, e)
            answer, error = self._answers[key]
            if error is not None:
                raise error
            return list(answer) if isinstance(answer, list) else answer
        return ask


#: An embedded root's qemu.conf when we run as root: QEMU then runs as
#: root too. Without it, libvirt runs QEMU as its own user (Debian:
#: libvirt-qemu); where that user cannot open /dev/kvm, libvirt finds its
#: capabilities cache stale and starts QEMU again at every call (seconds
#: each; doc/source/reference/cpu.rst).
EMBED_QEMU_CONF = 'user = "root"\ngroup = "root"\n'


#: Where libvirt keeps an embedded root's probed QEMU capabilities.
EMBED_CAPABILITIES = os.path.join('cache', 'qemu', 'capabilities')


def embed_root(uri):
    """The root directory of a ``qemu:///embed?root=DIR`` URI, else None."""
    if not uri or not uri.startswith('qemu:///embed'):
        return None
    return urllib.parse.parse_qs(urllib.parse.urlsplit(uri).query).get(
        'root', [None])[0]


def capabilities_cache_dir():
    """This user's copy of libvirt's probed QEMU capabilities.

    Kept between runs of the baseline tool, so that a new embedded root
    does not start QEMU again (seconds per emulator). libvirt checks every
    cache file against QEMU, libvirt and the kernel before use and probes
    again when any of them changed: a stale copy costs time, never a wrong
    answer.
    """
    base = (os.environ.get('XDG_CACHE_HOME') or
            os.path.join(os.path.expanduser('~'), '.cache'))
    return os.path.join(base, 'xloud-cpu-baseline', 'qemu-capabilities')


def copy_capabilities(src, dst, replace=True):
    """Copy libvirt's capabilities cache files (``*.xml``) from src to dst.

    Each file atomically (a reader never sees half of one); with
    ``replace=False`` a file dst already has is kept. A missing src copies
    nothing.
    """
    names = os.listdir(src) if os.path.isdir(src) else ()
    for name in names:
        target = os.path.join(dst, name)
        if not name.endswith('.xml') or (not replace and
                                         os.path.exists(target)):
            continue
        os.makedirs(dst, mode=0o700, exist_ok=True)
        tmp = os.path.join(dst, '.%s.%d' % (name, os.getpid()))
        shutil.copyfile(os.path.join(src, name), tmp)
        os.chmod(tmp, 0o600)
        os.replace(tmp, target)


def prepare_embed_root(uri):
    """Give a ``qemu:///embed?root=DIR`` root a qemu.conf, if it has none."""
    root = embed_root(uri)
    if not root or os.geteuid() != 0:
        return
    conf = os.path.join(root, 'etc', 'qemu.conf')
    if not os.path.exists(conf):
        os.makedirs(os.path.dirname(conf), exist_ok=True)
        with open(conf, 'w') as f:
            f.write(EMBED_QEMU_CONF)


def choose_virt_type(conn, caps_root, arch):
    """(virt type, its parsed domain capabilities or None) for a libvirt.

    kvm only where this libvirt offers it for ``arch`` *and* answers for
    it with a host-model CPU (a host whose /dev/kvm QEMU cannot use lists
    kvm and then fails); else qemu. Never kvm unasked where it is not
    usable.
    """
    offered = any(
        guest.find('arch') is not None and
        guest.find('arch').get('name') == arch and
        guest.find("arch/domain[@type='kvm']") is not None
        for guest in caps_root.iterfind('guest'))
    if offered:
        try:
            root = xmlcpu.parse_xml(conn.getDomainCapabilities(
                None, arch, None, 'kvm', 0))
            if xmlcpu.host_model(root) is not None:
                return 'kvm', root
        except (compare.libvirt_error(), xmlcpu.CPUDefError):
            pass
    return 'qemu', None


def read_uri(uri, virt_type=None):
    """The host behind a libvirt URI (its connection stays open)."""
    conn = CachedConnection(open_connection(uri))
    libvirt = compare.libvirt_module()
    try:
        caps = xmlcpu.parse_xml(conn.getCapabilities())
        arch = caps.findtext('host/cpu/arch')
        domcaps = None
        if not virt_type:
            virt_type, domcaps = choose_virt_type(conn, caps, arch)
        if domcaps is None:
            domcaps = xmlcpu.parse_xml(conn.getDomainCapabilities(
                None, arch, None, virt_type, 0))
        name = conn.getHostname()
    except (libvirt.libvirtError, xmlcpu.CPUDefError) as e:
        raise input_error(uri, compare.first_line(e))
    cpu = xmlcpu.host_model(domcaps)
    if cpu is None:
        raise input_error(uri, 'libvirt offers no host-model CPU for %s '
                               '(virt type %s)' % (arch, virt_type))
    return HostCPU(name=name, source=uri, cpu=cpu.replace(arch=arch),
                   usable=xmlcpu.usable_models(domcaps), conn=conn,
                   virt_type=virt_type)


class FileReader(object):
    """Reads input files; identical contents are parsed once."""

    def __init__(self):
        self._parsed = {}

    def read(self, path):
        source = '<stdin>' if path == '-' else path
        try:
            if path == '-':
                data = sys.stdin.buffer.read()
            else:
                with open(path, 'rb') as f:
                    data = f.read()
        except OSError as e:
            raise input_error(source, 'cannot read: %s' % (e.strerror or e))
        digest = hashlib.sha1(data).digest()
        if digest not in self._parsed:
            self._parsed[digest] = parse_bytes(data, source)
        default = os.path.splitext(os.path.basename(source))[0]
        return [dataclasses.replace(h, name=h.name or default, source=(
            source + h.source)) for h in self._parsed[digest]]


def parse_bytes(data, source):
    """HostCPUs from one input's bytes; names may be empty (file name)."""
    head = data.lstrip()[:1]
    try:
        if head == b'<':
            return [_from_xml(xmlcpu.parse_xml(data))]
        if head in (b'{', b'['):
            return _from_json(data)
    except xmlcpu.CPUDefError as e:
        raise input_error(source, str(e))
    except _JSONInputError as e:
        raise input_error(source + e.where, e.detail)
    raise input_error(source, 'neither XML nor JSON')


def _from_xml(root):
    if root.tag == 'domainCapabilities':
        cpu = xmlcpu.host_model(root)
        if cpu is None:
            raise xmlcpu.CPUDefError('domain capabilities without a '
                                     'host-model CPU')
        return HostCPU(name='', source='', cpu=cpu,
                       usable=xmlcpu.usable_models(root),
                       virt_type=root.findtext('domain'))
    if root.tag == 'capabilities':
        elem = root.find('host/cpu')
    elif root.tag == 'cpu':
        elem = root
    else:
        raise xmlcpu.CPUDefError(
            '<%s> is not a capabilities, domain capabilities or cpu '
            'document' % root.tag)
    if elem is None or not elem.findtext('model'):
        raise xmlcpu.CPUDefError('no CPU model in the host <cpu>')
    return HostCPU(name='', source='', cpu=xmlcpu.from_element(elem))


class _JSONInputError(Exception):
    def __init__(self, where, detail):
        super().__init__(detail)
        self.where, self.detail = where, detail


def _from_json(data):
    try:
        doc = json.loads(data)
    except ValueError as e:
        raise _JSONInputError('', 'malformed JSON: %s' % e)
    if isinstance(doc, dict) and 'hypervisors' in doc:
        doc = doc['hypervisors']
    elif isinstance(doc, dict) and 'hypervisor' in doc:
        doc = [doc['hypervisor']]
    elif isinstance(doc, dict):
        doc = [doc]
    if not isinstance(doc, list) or not doc:
        raise _JSONInputError('', 'no hypervisors in the JSON')
    return [_from_hypervisor(entry, '[%d]' % i if len(doc) > 1 else '')
            for i, entry in enumerate(doc)]


def _from_hypervisor(entry, where):
    if not isinstance(entry, dict):
        raise _JSONInputError(where, 'a hypervisor is not a JSON object')
    service = entry.get('service')
    name = _host_name(entry.get('hypervisor_hostname') or
                      entry.get('Hypervisor Hostname') or
                      (service.get('host') if isinstance(service, dict)
                       else None))
    info = entry.get('cpu_info')
    if info is None:
        raise _JSONInputError(where, (
            'hypervisor %s has no cpu_info (compute API microversion 2.88 '
            'and later leave it out: use --os-compute-api-version 2.87)'
            % (name or '?')))
    try:
        if isinstance(info, str):
            info = json.loads(info)
        cpu = (xmlcpu.host_model_from_info(info) or
               xmlcpu.from_cpu_info(info))
    except (ValueError, xmlcpu.CPUDefError) as e:
        raise _JSONInputError(where, 'hypervisor %s: unusable cpu_info: %s'
                              % (name or '?', e))
    return HostCPU(name=name, source=where, cpu=cpu)


def _host_name(value):
    """A host name from JSON: printable text (quoted otherwise), or ''."""
    if value is None or value == '':
        return ''
    if isinstance(value, str) and value.isprintable():
        return value
    return repr(value)
