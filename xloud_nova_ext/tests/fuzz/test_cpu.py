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

"""Hostile CPU input: libvirt XML, nova's cpu_info, the baseline tool's files.

Every input gets a correct answer (a CPU definition that writes back as XML
and reads back equal) or a clean refusal (:class:`~xmlcpu.CPUDefError`,
:class:`~exception.CPUDefinitionInvalid`,
:class:`~exception.BaselineInputError`), never another exception. XML
entities are never resolved.
"""

import json

from hypothesis import strategies as st
from lxml import etree
from nova import objects
from oslo_utils.fixture import uuidsentinel as uuids

from xloud_nova_ext.cpu import guard
from xloud_nova_ext.cpu import inputs
from xloud_nova_ext.cpu import xmlcpu
from xloud_nova_ext import exception
from xloud_nova_ext.tests.fuzz import base

objects.register_all()

#: Names libvirt uses, and some it never would.
NAMES = st.one_of(
    st.sampled_from(['Skylake-Client', 'Nehalem', 'EPYC', 'qemu64',
                     'z14.2-base', 'sse4.2', 'tsc_adjust', 'vmx', 'x86_64',
                     'aarch64', 'Intel', 'AMD', '']),
    st.text(max_size=12),
    st.text(alphabet='abcXYZ019_.+-', min_size=1, max_size=70))
POLICIES = st.one_of(st.sampled_from(xmlcpu.POLICIES + ('', 'bogus')),
                     st.text(max_size=8))
TAGS = st.sampled_from(['cpu', 'model', 'vendor', 'arch', 'feature', 'mode',
                        'domain', 'os', 'type', 'host', 'path', 'guest',
                        'x-unknown'])
ATTRS = st.dictionaries(
    st.sampled_from(['name', 'policy', 'mode', 'match', 'fallback',
                     'usable', 'supported', 'vendor', 'machine', 'type']),
    st.one_of(NAMES, POLICIES, st.sampled_from(
        ['host-model', 'custom', 'host-passthrough', 'maximum', 'yes',
         'no'])), max_size=3)


def _leaf(tag, attrs, text):
    return ('leaf', tag, attrs, text)


ELEMENTS = st.recursive(
    st.builds(_leaf, TAGS, ATTRS, NAMES),
    lambda children: st.tuples(st.just('node'), TAGS, ATTRS,
                               st.lists(children, max_size=6)),
    max_leaves=25)
ROOTS = st.sampled_from(['cpu', 'domain', 'domainCapabilities',
                         'capabilities', 'mode', 'x-other'])


def _build(root_tag, tree):
    """Serialize a generated tree; None where lxml refuses the text."""
    def make(node):
        kind, tag, attrs, rest = node
        elem = etree.Element(tag)
        for key, value in attrs.items():
            elem.set(key, value)
        if kind == 'leaf':
            elem.text = rest
        else:
            elem.extend(make(child) for child in rest)
        return elem

    try:
        root = etree.Element(root_tag)
        root.append(make(tree))
        return etree.tostring(root)
    except ValueError:
        return None


XML_DOCS = st.one_of(
    st.builds(_build, ROOTS, ELEMENTS).filter(lambda doc: doc is not None),
    st.binary(max_size=200),
    st.builds(lambda doc, cut: doc[:cut],
              st.builds(_build, ROOTS, ELEMENTS).filter(
                  lambda doc: doc is not None),
              st.integers(0, 300)))

ENTITY_PAYLOADS = st.builds(
    lambda name, value, uses, system: (
        '<!DOCTYPE cpu [<!ENTITY %s %s>]><cpu><model>%s</model></cpu>' % (
            name, 'SYSTEM "file:///etc/%s"' % value if system
            else '"%s"' % value, ('&%s;' % name) * uses)).encode(),
    st.text(alphabet='abcdefgh', min_size=1, max_size=8),
    st.text(alphabet='abcdefgh', max_size=20),
    st.integers(1, 50), st.booleans())

JSON_SCALARS = st.one_of(st.none(), st.booleans(), st.integers(),
                         st.floats(allow_nan=False), NAMES)
JSON_VALUES = st.recursive(
    JSON_SCALARS,
    lambda children: st.one_of(
        st.lists(children, max_size=5),
        st.dictionaries(st.one_of(st.sampled_from(
            ['model', 'vendor', 'arch', 'features', 'disabled',
             xmlcpu.CPU_INFO_HOST_MODEL_KEY, 'topology']), NAMES),
            children, max_size=6)),
    max_leaves=30)
HOST_MODELS = st.one_of(
    st.fixed_dictionaries({'model': NAMES}, optional={
        'vendor': NAMES, 'features': st.lists(NAMES, max_size=8),
        'disabled': st.one_of(st.lists(NAMES, max_size=4), JSON_VALUES)}),
    JSON_VALUES)
CPU_INFOS = st.one_of(
    st.fixed_dictionaries({
        'model': NAMES, 'vendor': NAMES, 'arch': NAMES,
        'features': st.one_of(st.lists(NAMES, max_size=8), JSON_VALUES)},
        optional={xmlcpu.CPU_INFO_HOST_MODEL_KEY: HOST_MODELS}),
    JSON_VALUES)


def _checked_cpu(cpu):
    """A CPUDef we return must write as XML and read back equal."""
    if cpu is None or not cpu.model:
        return
    again = xmlcpu.from_element(xmlcpu.parse_xml(xmlcpu.to_guest_xml(cpu)))
    assert again == cpu.replace(vendor=None, arch=None, mode='custom'), (
        cpu, again)
    assert xmlcpu.decode(xmlcpu.encode(cpu)) == cpu.replace(
        vendor=None, arch=None, mode='custom')


class CPUXMLTest(base.FuzzTestCase):

    def test_libvirt_xml(self):
        def check(doc):
            try:
                root = xmlcpu.parse_xml(doc)
            except xmlcpu.CPUDefError:
                return
            for read in (xmlcpu.host_model, lambda r: xmlcpu.domain_cpu(doc),
                         lambda r: xmlcpu.cpu_from_xml(doc)):
                try:
                    _checked_cpu(read(root))
                except xmlcpu.CPUDefError:
                    pass
            try:
                models = xmlcpu.usable_models(root)
            except xmlcpu.CPUDefError:
                return
            assert all(v in (True, False, None) for v in models.values())

        self.fuzz(XML_DOCS, check)

    def test_entities_are_never_resolved(self):
        def check(doc):
            try:
                xmlcpu.parse_xml(doc)
            except xmlcpu.CPUDefError as e:
                assert 'DTD' in str(e) or 'malformed' in str(e), e
                return
            raise AssertionError('a DTD was accepted: %r' % doc)

        self.fuzz(ENTITY_PAYLOADS, check)


class CPUInfoTest(base.FuzzTestCase):
    """The source host's cpu_info, as the destination's pre-check reads it."""

    def test_cpu_info_json(self):
        def check(info):
            instance = objects.Instance(uuid=uuids.instance, host='src',
                                        image_ref='', vcpu_model=None,
                                        system_metadata={})
            try:
                cpu, _machine, origin = guard.guest_cpu(
                    instance, {'cpu_info': json.dumps(info)})
            except exception.CPUDefinitionInvalid as e:
                assert e.fix and 'cpu_info' in e.cause, e
                return
            assert isinstance(origin, str)
            _checked_cpu(cpu)

        self.fuzz(CPU_INFOS, check)

    def test_recorded_cpu_in_system_metadata(self):
        keys = st.sampled_from([guard.RECORD_KEY, guard.RECORD_KEY + '_1',
                                guard.RECORD_KEY + '_2', 'other'])

        def check(sysmeta):
            record = guard.read_record(sysmeta)
            if record is not None:
                _checked_cpu(record[0])

        self.fuzz(st.dictionaries(keys, st.one_of(
            NAMES, st.text(alphabet='1;,+-=?!abcN', max_size=40)),
            max_size=4), check)


class BaselineInputTest(base.FuzzTestCase):
    """xloud-cpu-baseline's input files: XML, JSON, anything."""

    def test_input_files(self):
        hypervisor = st.fixed_dictionaries({}, optional={
            'hypervisor_hostname': NAMES, 'service': JSON_VALUES,
            'cpu_info': st.one_of(CPU_INFOS, CPU_INFOS.map(json.dumps),
                                  NAMES)})
        documents = st.one_of(
            XML_DOCS,
            st.one_of(hypervisor,
                      st.fixed_dictionaries({'hypervisor': hypervisor}),
                      st.fixed_dictionaries({'hypervisors': st.lists(
                          hypervisor, max_size=3)}),
                      st.lists(hypervisor, max_size=3),
                      JSON_VALUES).map(lambda d: json.dumps(d).encode()))

        def check(data):
            try:
                hosts = inputs.parse_bytes(data, 'input')
            except exception.BaselineInputError as e:
                assert e.cause.startswith('input'), e
                assert '\n' not in e.cause, e
                return
            assert hosts
            for host in hosts:
                assert host.cpu.model, host
                _checked_cpu(host.cpu)

        self.fuzz(documents, check)
