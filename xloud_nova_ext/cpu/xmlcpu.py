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

"""CPU definitions, and the forms libvirt, nova and we write them in.

:class:`CPUDef` is a model, its feature policies, and (for information
only) vendor and arch. Converters read it from libvirt XML (a domain's
``<cpu>``, the host ``<cpu>`` of ``virsh capabilities``, the host-model
``<mode>`` of ``virsh domcapabilities``), nova's ``cpu_info`` JSON and
``VirtCPUModel``, and write it as the guest CPU XML that libvirt's compare
and baseline APIs take, or as a compact text for instance system_metadata.

Nothing here imports nova or libvirt: the baseline tool imports this module
and must start quickly.
"""

import dataclasses
import functools
import re

from lxml import etree

REQUIRE = 'require'
DISABLE = 'disable'
FORCE = 'force'
OPTIONAL = 'optional'
FORBID = 'forbid'
POLICIES = (REQUIRE, DISABLE, FORCE, OPTIONAL, FORBID)

CUSTOM = 'custom'
HOST_MODEL = 'host-model'
HOST_PASSTHROUGH = 'host-passthrough'
MAXIMUM = 'maximum'
#: Modes whose guest CPU is the host's own: nothing to name, no model.
PASSTHROUGH_MODES = (HOST_PASSTHROUGH, MAXIMUM)

# Compact text: "1;<model>;<p><feature>,..." where <p> is one character per
# policy. Feature and model names never contain ';' or ','.
_COMPACT_VERSION = '1'
_POLICY_CHAR = {REQUIRE: '+', DISABLE: '-', FORCE: '=', OPTIONAL: '?',
                FORBID: '!'}
_CHAR_POLICY = {v: k for k, v in _POLICY_CHAR.items()}


class CPUDefError(ValueError):
    """A CPU definition we cannot read; the text says what is wrong."""


#: What libvirt's CPU maps name models and features with (x86
#: ``sse4.2``, ``tsc_adjust``; s390x ``z14.2-base``; arm ``cortex-a57``).
#: Anything else is refused here, not sent to libvirt.
_NAME = re.compile(r'[A-Za-z0-9][A-Za-z0-9_.+-]{0,63}\Z')


def _checked_name(what, name):
    if not isinstance(name, str) or not _NAME.match(name):
        raise CPUDefError('invalid %s name %r' % (what, _short(name)))
    return name


#: Feature names already checked. A few hundred distinct names make up the
#: features of thousands of hosts; bounded against hostile input.
_CHECKED = set()
_CHECKED_MAX = 4096


def _checked_features(names):
    for name in names:
        if name not in _CHECKED:
            _checked_name('feature', name)
            if len(_CHECKED) < _CHECKED_MAX:
                _CHECKED.add(name)


def _optional_text(what, value):
    if value is None or value == '':
        return None
    if not isinstance(value, str) or not _NAME.match(value):
        raise CPUDefError('invalid %s %r' % (what, _short(value)))
    return value


def _short(value):
    text = repr(value) if not isinstance(value, str) else value
    return text if len(text) <= 40 else text[:37] + '...'


@dataclasses.dataclass(frozen=True)
class CPUDef:
    """A CPU as a model plus feature policies.

    ``features`` is a sorted tuple of ``(name, policy)`` so that equal CPUs
    compare and hash equal (the baseline tool dedupes thousands of hosts).
    ``vendor`` and ``arch`` are kept for reports and grouping; the guest
    CPU XML we compare leaves the vendor out (see :func:`to_guest_xml`).
    """

    model: str | None
    features: tuple = ()
    vendor: str | None = None
    arch: str | None = None
    mode: str = CUSTOM

    @classmethod
    def make(cls, model, features=None, vendor=None, arch=None,
             mode=CUSTOM):
        feats = dict(features or {})
        _checked_features(feats)
        for name, policy in feats.items():
            if policy not in POLICIES:
                raise CPUDefError('feature %s has unknown policy %r'
                                  % (name, _short(policy)))
        return cls(model=_checked_name('CPU model', model) if model else None,
                   features=tuple(sorted(feats.items())),
                   vendor=_optional_text('vendor', vendor),
                   arch=_optional_text('arch', arch), mode=mode)

    def names(self, *policies):
        return frozenset(n for n, p in self.features if p in policies)

    # Cached: the baseline tool asks thousands of times (frozen dataclass,
    # so they never go stale).
    @functools.cached_property
    def required(self):
        return self.names(REQUIRE, FORCE)

    @functools.cached_property
    def disabled(self):
        return self.names(DISABLE, FORBID)

    def merged(self, extra):
        """This CPU with ``extra`` ({name: policy}) laid over its features."""
        feats = dict(self.features)
        feats.update(extra)
        return dataclasses.replace(self, features=tuple(sorted(feats.items())))

    def replace(self, **changes):
        return dataclasses.replace(self, **changes)

    def describe(self):
        """Short human form: ``EPYC +acpi -vme``."""
        flags = ' '.join(_POLICY_CHAR[p] + n for n, p in self.features)
        return ('%s %s' % (self.model, flags)).strip()


def from_element(elem):
    """A :class:`CPUDef` from a ``<cpu>`` or a domcapabilities ``<mode>``.

    Features without a policy (the host ``<cpu>`` of capabilities, nova's
    cpu_info) are features the CPU has, i.e. ``require``.
    """
    if elem.tag == 'mode':
        mode = HOST_MODEL
    else:
        mode = elem.get('mode') or CUSTOM
        if mode not in (CUSTOM, HOST_MODEL) + PASSTHROUGH_MODES:
            raise CPUDefError('unknown CPU mode %r' % _short(mode))
    model = elem.findtext('model')
    features = {}
    for feat in elem.iterfind('feature'):
        name = feat.get('name')
        if not name:
            raise CPUDefError('a <feature> element has no name')
        features[name] = feat.get('policy') or REQUIRE
    return CPUDef.make(model and model.strip(), features,
                       vendor=(elem.findtext('vendor') or '').strip(),
                       arch=(elem.findtext('arch') or '').strip(), mode=mode)


#: Never resolve an entity, never fetch anything: the XML comes from files
#: the baseline tool is given and from libvirt, and libvirt writes no DTD.
_PARSER = etree.XMLParser(resolve_entities=False, no_network=True,
                          load_dtd=False, huge_tree=False)


def parse_xml(text):
    """Parse XML text; :class:`CPUDefError` with lxml's reason if broken.

    A document with a DTD is refused: libvirt never writes one, and its
    entities are what XXE and "billion laughs" payloads are made of.
    """
    try:
        root = etree.fromstring(
            text.encode() if isinstance(text, str) else text, _PARSER)
    except (etree.XMLSyntaxError, ValueError) as e:
        raise CPUDefError('malformed XML: %s' % e)
    if root is None:
        raise CPUDefError('malformed XML: no document element')
    if root.getroottree().docinfo.internalDTD is not None:
        raise CPUDefError('XML with a DTD (<!DOCTYPE ...>) is not accepted')
    if not isinstance(root.tag, str):
        raise CPUDefError('malformed XML: no document element')
    return root


def domain_cpu(domain_xml):
    """The ``<cpu>`` of a domain XML as a :class:`CPUDef`, or None."""
    root = parse_xml(domain_xml)
    elem = root.find('cpu')
    return from_element(elem) if elem is not None else None


def cpu_from_xml(cpu_xml):
    """A bare ``<cpu>`` document (what libvirt's baseline returns)."""
    root = parse_xml(cpu_xml)
    if root.tag != 'cpu':
        raise CPUDefError('<%s> is not a <cpu>' % root.tag)
    return from_element(root)


def host_model(domcaps_root):
    """The host-model CPU of a parsed ``domainCapabilities`` document.

    Returns None when the hypervisor does not support host-model.
    """
    mode = domcaps_root.find("cpu/mode[@name='host-model']")
    if mode is None or mode.get('supported') == 'no':
        return None
    if mode.findtext('model') is None:
        return None
    cpu = from_element(mode)
    return cpu.replace(arch=(domcaps_root.findtext('arch') or '').strip()
                       or None)


def usable_models(domcaps_root):
    """{model: usable} from a ``domainCapabilities`` document's custom mode.

    ``usable`` is that hypervisor's own verdict: True, False, or None when
    libvirt does not know.
    """
    models = {}
    for elem in domcaps_root.iterfind("cpu/mode[@name='custom']/model"):
        name = (elem.text or '').strip()
        if name:
            models[name] = {'yes': True, 'no': False}.get(elem.get('usable'))
    return models


def to_guest_xml(cpu, with_vendor=False):
    """The guest CPU XML for compareHypervisorCPU / baselineHypervisorCPU.

    Always ``mode='custom' match='exact'``: libvirt reads a ``<cpu>`` without
    a mode as a *host* CPU and then takes every listed feature, ``disable``
    ones included, as present, which makes a host-model expansion look
    incompatible with the very host it came from. ``fallback='forbid'``:
    never let libvirt substitute another model. No ``<vendor>`` unless
    asked: the model implies its vendor, and a vendor element makes libvirt
    refuse a guest that the host runs (nova's false negative on TCG hosts,
    see doc/source/reference/cpu.rst).
    """
    if not cpu.model:
        raise CPUDefError('a CPU in %s mode has no model to compare'
                          % cpu.mode)
    head = [('model', {'fallback': 'forbid'}, cpu.model)]
    if with_vendor and cpu.vendor:
        head.append(('vendor', {}, cpu.vendor))
    return _build({'mode': 'custom', 'match': 'exact'}, head,
                  [_feature(name, policy) for name, policy in cpu.features])


def to_host_xml(model, arch, vendor=None, features=()):
    """A host CPU ``<cpu>`` (no mode): a model and features it has."""
    head = [('arch', {}, arch), ('model', {}, model)]
    if vendor:
        head.append(('vendor', {}, vendor))
    return _build({}, head, [_feature(name) for name in features])


@functools.lru_cache(maxsize=4096)
def _feature(name, policy=None):
    """One ``<feature>`` as lxml writes it.

    A few hundred distinct features make up the thousands of CPUs the
    baseline tool writes: each is built once (building every element
    anew tripled the tool's run time).
    """
    attrib = {'policy': policy, 'name': name} if policy else {'name': name}
    return _serialize(lambda: etree.Element('feature', attrib))


def _build(attrib, head, features):
    """A ``<cpu>`` of text elements ``head``, then ``features`` (written)."""
    def cpu():
        root = etree.Element('cpu', attrib)
        for tag, child_attrib, text in head:
            etree.SubElement(root, tag, child_attrib).text = text
        # Written with a child, the element ends in "<feature/></cpu>":
        # the features go there.
        etree.SubElement(root, 'feature')
        return root
    xml = _serialize(cpu)
    return xml[:-len('<feature/></cpu>')] + ''.join(features) + '</cpu>'


def _serialize(make):
    try:
        return etree.tostring(make(), encoding='unicode')
    except ValueError as e:
        # lxml refuses text that XML cannot hold (control characters, NUL).
        raise CPUDefError('cannot write the CPU as XML: %s' % e)


def encode(cpu):
    """Compact text of a custom-mode CPU, for instance system_metadata."""
    if not cpu.model:
        raise CPUDefError('a CPU in %s mode has no model to record'
                          % cpu.mode)
    flags = ','.join(_POLICY_CHAR[p] + n for n, p in cpu.features)
    return ';'.join((_COMPACT_VERSION, cpu.model, flags))


def decode(text):
    """Inverse of :func:`encode`; :class:`CPUDefError` if malformed."""
    parts = text.split(';')
    if len(parts) != 3 or parts[0] != _COMPACT_VERSION or not parts[1]:
        raise CPUDefError('unreadable recorded CPU %r' % text[:40])
    features = {}
    for flag in filter(None, parts[2].split(',')):
        policy = _CHAR_POLICY.get(flag[0])
        if policy is None or len(flag) < 2:
            raise CPUDefError('unreadable recorded CPU feature %r' % flag)
        features[flag[1:]] = policy
    return CPUDef.make(parts[1], features)


def from_cpu_info(info):
    """The host CPU in nova's ``cpu_info`` (a dict): model + its features."""
    if not isinstance(info, dict) or not info.get('model'):
        raise CPUDefError('cpu_info has no CPU model')
    return CPUDef.make(info['model'],
                       {f: REQUIRE for f in _name_list(info, 'features')},
                       vendor=info.get('vendor'), arch=info.get('arch'))


def _name_list(data, key):
    """The list ``data[key]`` of names; :meth:`CPUDef.make` checks them."""
    names = data.get(key) or []
    if not isinstance(names, (list, tuple)):
        raise CPUDefError('%s is not a list' % key)
    for name in names:
        if not isinstance(name, str):  # unhashable ones would raise here
            _checked_name('feature', name)
    return names


#: The key under which our driver publishes the host-model CPU in cpu_info.
CPU_INFO_HOST_MODEL_KEY = 'xloud_host_model'


def host_model_to_info(cpu):
    """The JSON-able form of a host-model CPU that we add to cpu_info."""
    return {'model': cpu.model, 'vendor': cpu.vendor,
            'features': sorted(cpu.names(REQUIRE, FORCE)),
            'disabled': sorted(cpu.names(DISABLE, FORBID))}


def host_model_from_info(info, arch=None):
    """Inverse of :func:`host_model_to_info`, or None when absent."""
    data = info.get(CPU_INFO_HOST_MODEL_KEY) if isinstance(info, dict) \
        else None
    if not data:
        return None
    if not isinstance(data, dict) or not data.get('model'):
        raise CPUDefError('%s has no CPU model' % CPU_INFO_HOST_MODEL_KEY)
    features = {f: REQUIRE for f in _name_list(data, 'features')}
    features.update({f: DISABLE for f in _name_list(data, 'disabled')})
    return CPUDef.make(data['model'], features, vendor=data.get('vendor'),
                       arch=arch or info.get('arch'), mode=HOST_MODEL)


def from_vcpu_model(vcpu_model):
    """A :class:`CPUDef` from nova's ``VirtCPUModel`` (duck-typed).

    Host-model and host-passthrough guests have no model there; their
    ``features`` are the ``[libvirt] cpu_model_extra_flags`` nova added.
    """
    features = {}
    for feat in getattr(vcpu_model, 'features', None) or []:
        features[feat.name] = feat.policy or REQUIRE
    mode = getattr(vcpu_model, 'mode', None) or CUSTOM
    return CPUDef.make(getattr(vcpu_model, 'model', None), features,
                       arch=getattr(vcpu_model, 'arch', None), mode=mode)


# libvirt's VIR_ERR_CPU_INCOMPATIBLE texts (src/cpu/cpu_x86.c). The feature
# lists are comma separated and run to the end of the line; names may
# contain dots (sse4.2).
_INCOMPATIBLE_PREFIX = re.compile(
    r'^.*?the CPU is incompatible with host CPU:\s*', re.S)
_MISSING = re.compile(r'does not provide required features:\s*([^;\n]+)')
_FORBIDDEN = re.compile(r'provides forbidden features:\s*([^;\n]+)')


def parse_incompatibility(message):
    """(missing, forbidden, detail) from libvirt's incompatibility text."""
    detail = _INCOMPATIBLE_PREFIX.sub('', message or '').strip()

    def _names(regex):
        m = regex.search(detail)
        if not m:
            return []
        return [n.strip() for n in m.group(1).split(',') if n.strip()]

    return _names(_MISSING), _names(_FORBIDDEN), detail
