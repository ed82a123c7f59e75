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

"""CPUGuard: which CPU is checked, records, start-up check, cpu_info."""

from unittest import mock

import fixtures

from nova import conf as nova_conf
from nova import objects
from nova.tests.fixtures import libvirt as fakelibvirt
from oslo_config import fixture as config_fixture
from oslo_serialization import jsonutils
from oslo_utils.fixture import uuidsentinel as uuids

from xloud_harness import fake_cpu

from xloud_nova_ext.cpu import compare
from xloud_nova_ext.cpu import guard
from xloud_nova_ext.cpu import xmlcpu
from xloud_nova_ext import exception
from xloud_nova_ext.tests.fixtures import cpu_defs
from xloud_nova_ext.tests.unit import test_cpu_compare

CONF = nova_conf.CONF
objects.register_all()

SKYLAKE_HM = cpu_defs.host_model(fake_cpu.SKYLAKE)
# What a record of it reads back: a custom CPU, no vendor or arch.
RECORDED = SKYLAKE_HM.replace(mode='custom', vendor=None, arch=None)
AVX512 = 'avx512bw, avx512cd, avx512dq, avx512f, avx512vl, avx512vnni, pku'


class FakeHost(object):
    """The part of nova's Host that the guard uses, on a fake connection."""

    def __init__(self, conn, hostname='h1'):
        self.conn = conn
        self.hostname = hostname
        self.guest_xml = None

    def get_connection(self):
        return self.conn

    def get_hostname(self):
        return self.hostname

    def get_capabilities(self):
        caps = mock.Mock()
        caps.host.cpu.arch = 'x86_64'
        return caps

    def get_guest(self, instance):
        if isinstance(self.guest_xml, Exception):
            raise self.guest_xml
        guest = mock.Mock()
        guest.get_xml_desc.return_value = self.guest_xml
        return guest


def cpu_info(cpu=fake_cpu.CASCADELAKE, host_model=True):
    info = {'arch': 'x86_64', 'model': cpu.model, 'vendor': cpu.vendor,
            'features': sorted(fake_cpu.MODELS[cpu.model][1] | cpu.extra),
            'topology': {'sockets': 1, 'cores': 2, 'threads': 1}}
    if host_model:
        info[xmlcpu.CPU_INFO_HOST_MODEL_KEY] = xmlcpu.host_model_to_info(
            cpu_defs.host_model(cpu))
    return {'cpu_info': jsonutils.dumps(info)}


def instance(vcpu_model=None, sysmeta=None):
    return objects.Instance(uuid=uuids.instance, host='src', image_ref='',
                            vcpu_model=vcpu_model,
                            system_metadata=dict(sysmeta or {}))


def vcpu_model(mode, model=None, features=()):
    return objects.VirtCPUModel(
        mode=mode, model=model, arch='x86_64', features=[
            objects.VirtCPUFeature(name=n, policy=p) for n, p in features])


class GuardTestCase(test_cpu_compare.FakeLibvirtTestCase):

    def setUp(self):
        super().setUp()
        self.conf = self.useFixture(config_fixture.Config(CONF))
        self.host = FakeHost(self.connection(fake_cpu.SKYLAKE), 'dest')
        self.guard = guard.CPUGuard(self.host)

    def recorded(self, inst):
        return guard.read_record(inst.system_metadata)


class RecordTest(GuardTestCase):

    def test_long_cpu_is_chunked_and_read_back(self):
        cpu = xmlcpu.CPUDef.make('Cascadelake-Server', {
            'feature-number-%02d' % i: 'require' for i in range(40)})
        sysmeta = {'other': 'kept'}
        self.assertTrue(guard.write_record(sysmeta, cpu, 'pc-q35-7.2', 'h'))
        self.assertTrue(all(len(v) <= 255 for v in sysmeta.values()))
        self.assertGreater(len(sysmeta), 4)
        self.assertEqual((cpu, 'pc-q35-7.2', 'h'),
                         guard.read_record(sysmeta))
        # Same record again: nothing to save.
        self.assertFalse(guard.write_record(sysmeta, cpu, 'pc-q35-7.2', 'h'))

    def test_shorter_record_drops_old_chunks_and_none_clears(self):
        sysmeta = {'other': 'kept', 'xloud_cpu_old': 'not ours'}
        long_cpu = xmlcpu.CPUDef.make('M', {'f%03d' % i: 'require'
                                            for i in range(200)})
        guard.write_record(sysmeta, long_cpu, None, 'h')
        guard.write_record(sysmeta, xmlcpu.CPUDef.make('M'), None, 'h')
        self.assertEqual({'other', 'xloud_cpu_old', 'xloud_cpu',
                          'xloud_cpu_1'}, set(sysmeta))
        self.assertTrue(guard.write_record(sysmeta, None, None, 'h'))
        self.assertEqual({'other': 'kept', 'xloud_cpu_old': 'not ours'},
                         sysmeta)

    def test_unreadable_record_is_ignored(self):
        for sysmeta in ({'xloud_cpu': 'garbage'},
                        {'xloud_cpu': '1;2;pc;h', 'xloud_cpu_1': '1;M;'},
                        {'xloud_cpu': '9;1;pc;h', 'xloud_cpu_1': '1;M;'},
                        {'xloud_cpu': '1;1;pc;h', 'xloud_cpu_1': 'junk'}):
            self.assertIsNone(guard.read_record(sysmeta), sysmeta)

    def test_running_host_model_guest_is_recorded(self):
        conn = self.host.conn
        dom = conn.createXML(
            "<domain type='kvm'><name>g</name><uuid>%s</uuid><vcpu>1</vcpu>"
            "<memory>1024</memory><os><type arch='x86_64'>hvm</type></os>"
            "<cpu mode='host-model'><feature policy='require' name='pcid'/>"
            "</cpu><devices/></domain>" % uuids.instance,
            0)
        self.host.guest_xml = dom.XMLDesc(compare.VIR_DOMAIN_XML_MIGRATABLE)
        inst = instance()
        self.guard.record_running_cpu(inst)
        cpu, machine, host = self.recorded(inst)
        self.assertEqual(SKYLAKE_HM.merged({'pcid': 'require'}).replace(
            mode='custom', vendor=None, arch=None), cpu)
        self.assertEqual(('pc-0.12', 'dest'), (machine, host))

    def test_passthrough_guest_or_failure_clears_the_record(self):
        inst = instance(sysmeta={'xloud_cpu': '1;1;pc;h',
                                 'xloud_cpu_1': '1;M;'})
        self.host.guest_xml = ("<domain><os><type machine='pc'>hvm</type>"
                               "</os><cpu mode='host-passthrough'/></domain>")
        self.guard.record_running_cpu(inst)
        self.assertIsNone(self.recorded(inst))
        guard.write_record(inst.system_metadata, SKYLAKE_HM, None, 'h')
        self.host.guest_xml = RuntimeError('libvirt went away')
        self.guard.record_running_cpu(inst)
        self.assertIsNone(self.recorded(inst))
        self.assertIn('libvirt went away', self.logger.output)

    def test_save_only_when_asked_and_changed(self):
        inst = instance()
        self.host.guest_xml = ("<domain><os><type machine='pc'>hvm</type>"
                               "</os>%s</domain>" % xmlcpu.to_guest_xml(
                                   SKYLAKE_HM))
        with mock.patch.object(inst, 'save') as save:
            self.guard.record_running_cpu(inst)
            save.assert_not_called()
            guard.write_record(inst.system_metadata, None, None, 'h')
            self.guard.record_running_cpu(inst, save=True)
            save.assert_called_once_with()
            self.guard.record_running_cpu(inst, save=True)
            save.assert_called_once_with()

    def setUp(self):
        super().setUp()
        self.logger = self.useFixture(fixtures.FakeLogger())


class GuestCPUTest(GuardTestCase):
    """Which definition the destination checks, best first."""

    def test_record_first(self):
        inst = instance(vcpu_model('custom', 'Nehalem'))
        guard.write_record(inst.system_metadata, SKYLAKE_HM, 'pc-q35', 'h0')
        cpu, machine, origin = guard.guest_cpu(inst, cpu_info())
        self.assertEqual((RECORDED, 'pc-q35'), (cpu, machine))
        self.assertIn('recorded when it last started (on h0)', origin)

    def test_custom_vcpu_model(self):
        inst = instance(vcpu_model('custom', 'Nehalem', [('pcid', 'require')]))
        cpu, machine, origin = guard.guest_cpu(inst, cpu_info())
        self.assertEqual(xmlcpu.CPUDef.make('Nehalem', {'pcid': 'require'},
                                            arch='x86_64'), cpu)
        self.assertIsNone(machine)
        self.assertIn('vcpu_model', origin)

    def test_host_model_guest_gets_the_sources_host_model_and_its_flags(self):
        inst = instance(vcpu_model('host-model', None, [('pcid', 'require')]))
        cpu, _, origin = guard.guest_cpu(inst, cpu_info())
        self.assertEqual(cpu_defs.host_model(fake_cpu.CASCADELAKE).merged(
            {'pcid': 'require'}).replace(mode='custom'), cpu)
        self.assertEqual('the host-model CPU of source host src', origin)

    def test_without_published_host_model_the_sources_cpu(self):
        for vm in (None, vcpu_model('host-passthrough')):
            inst = instance(vm)
            cpu, _, origin = guard.guest_cpu(inst, cpu_info(
                host_model=vm is not None))
            self.assertEqual('Cascadelake-Server', cpu.model)
            self.assertIsNone(cpu.vendor)
            self.assertIn('vmx', cpu.required)
            self.assertEqual('the CPU of source host src', origin)

    def test_unreadable_source_cpu_info_is_a_refusal(self):
        for info in ('{"model": "X", "features": "vmx"}', 'not json',
                     '{"model": "X", "xloud_host_model": {"vendor": "A"}}'):
            e = self.assertRaises(exception.CPUDefinitionInvalid,
                                  guard.guest_cpu, instance(),
                                  {'cpu_info': info})
            self.assertIn('[xloud.cpu.invalid_definition] The guest CPU '
                          'definition of source host src (its cpu_info) is '
                          'unusable: ', str(e))
            self.assertIn('Hard-reboot', str(e))

    def test_nothing_known(self):
        cpu, _, _ = guard.guest_cpu(instance(), {'cpu_info': '{}'})
        self.assertIsNone(cpu)


class CheckDestinationTest(GuardTestCase):

    def test_incompatible_guest_is_refused_with_cause_and_fix(self):
        inst = instance(vcpu_model('host-model'))
        e = self.assertRaises(exception.CPUIncompatible,
                              self.guard.check_destination, inst, cpu_info())
        text = str(e)
        self.assertTrue(text.startswith(
            '[xloud.cpu.incompatible] Host dest cannot run guest CPU '
            'Cascadelake-Server: missing %s.' % AVX512), text)
        self.assertIn('cpu_mode = custom, cpu_models = ', text)
        self.assertIn('xloud-cpu-baseline', text)
        # nova keeps 255 characters of it (with its 27-character prefix).
        self.assertLessEqual(len('Migration pre-check error: ' + text), 255)
        # The guest's arch, our virt type, no emulator: libvirt's choice.
        emulator, arch, _machine, virt_type, _ = (
            self.host.conn.cpu_compare_calls[-1])
        self.assertEqual((None, 'x86_64', 'kvm'),
                         (emulator, arch, virt_type))

    def test_compatible_guest_passes(self):
        inst = instance(vcpu_model('custom', 'Skylake-Client'))
        self.guard.check_destination(inst, cpu_info())

    def test_recorded_machine_type_is_passed(self):
        inst = instance()
        guard.write_record(inst.system_metadata, SKYLAKE_HM, 'pc-q35-7.2',
                           'h0')
        self.guard.check_destination(inst, cpu_info())
        self.assertEqual('pc-q35-7.2', self.host.conn.cpu_compare_calls[-1][2])

    def test_image_machine_type_when_nothing_recorded(self):
        inst = instance(vcpu_model('custom', 'Nehalem'),
                        sysmeta={'image_hw_machine_type': 'q35'})
        self.guard.check_destination(inst, cpu_info())
        self.assertEqual('q35', self.host.conn.cpu_compare_calls[-1][2])

    def test_model_this_qemu_lacks_is_refused_though_compare_accepts(self):
        self.host.conn.hidden_models = {'Nehalem'}
        inst = instance(vcpu_model('custom', 'Nehalem'))
        e = self.assertRaises(exception.CPUIncompatible,
                              self.guard.check_destination, inst, cpu_info())
        self.assertIn('Host dest cannot run guest CPU Nehalem: its '
                      'hypervisor does not support CPU model Nehalem.',
                      str(e))
        self.assertEqual([], self.host.conn.cpu_compare_calls)

    def test_model_list_is_read_once(self):
        for model in ('Nehalem', 'Westmere', 'Nehalem'):
            self.guard.check_destination(
                instance(vcpu_model('custom', model)), cpu_info())
        self.assertEqual(1, self.host.conn.domcaps_calls)
        self.assertEqual(3, len(self.host.conn.cpu_compare_calls))

    def test_model_list_failure_is_not_cached(self):
        # libvirtd restarting: the list cannot be read once, then can.
        self.host.conn.hidden_models = {'Nehalem'}
        inst = instance(vcpu_model('custom', 'Nehalem'))
        with mock.patch.object(
                self.host.conn, 'getDomainCapabilities',
                side_effect=fakelibvirt.make_libvirtError(
                    fakelibvirt.libvirtError, 'Cannot recv data',
                    error_code=fakelibvirt.VIR_ERR_INTERNAL_ERROR)):
            self.guard.check_destination(inst, cpu_info())
        self.assertRaises(exception.CPUIncompatible,
                          self.guard.check_destination, inst, cpu_info())

    def test_off(self):
        self.conf.config(cpu_precheck=False, group='xloud')
        self.guard.check_destination(instance(), cpu_info())
        self.assertEqual([], self.host.conn.cpu_compare_calls)

    def test_unsupported_compare_lets_through_and_warns_once(self):
        logger = self.useFixture(fixtures.FakeLogger())
        self.host.conn.compare_unsupported = True
        for _ in range(3):
            self.guard.check_destination(instance(), cpu_info())
        self.assertEqual(1, logger.output.count('cannot compare CPUs'))


class StartupTest(GuardTestCase):

    def config(self, **kwargs):
        kwargs.setdefault('cpu_mode', 'custom')
        kwargs.setdefault('virt_type', 'kvm')
        self.conf.config(group='libvirt', **kwargs)

    def test_unusable_models_named_with_missing_features(self):
        self.config(cpu_models=['skylake-client', 'Cascadelake-Server',
                                'Nehalem'],
                    cpu_model_extra_flags=['+vmx', '-pku'])
        e = self.assertRaises(exception.CPUModelsUnusable,
                              self.guard.check_configured_models)
        self.assertIn('cpu_models Cascadelake-Server cannot run on host '
                      'dest: Cascadelake-Server: missing avx512bw', str(e))
        self.assertNotIn('pku', str(e))
        # Model names are case-insensitive in nova's option.
        checked = [call[4] for call in self.host.conn.cpu_compare_calls]
        self.assertIn('>Skylake-Client<', checked[0])
        self.assertIn('name="vmx"', checked[0])
        self.assertIn('policy="disable" name="pku"', checked[1])

    def test_model_this_qemu_lacks_is_unusable(self):
        self.config(cpu_models=['Nehalem', 'Westmere'])
        self.host.conn.hidden_models = {'Westmere'}
        e = self.assertRaises(exception.CPUModelsUnusable,
                              self.guard.check_configured_models)
        self.assertIn('cpu_models Westmere cannot run on host dest: '
                      'Westmere: its hypervisor does not support CPU model '
                      'Westmere.', str(e))

    def test_qemu_virt_type_is_checked_too(self):
        self.config(virt_type='qemu', cpu_models=['Cascadelake-Server'])
        self.assertRaises(exception.CPUModelsUnusable,
                          self.guard.check_configured_models)
        self.assertEqual('qemu', self.host.conn.cpu_compare_calls[0][3])

    def test_not_custom_or_off_checks_nothing(self):
        self.config(cpu_mode='host-model', cpu_models=[])
        self.guard.check_configured_models()
        self.config(cpu_models=['Cascadelake-Server'])
        self.conf.config(validate_cpu_models_on_startup=False, group='xloud')
        self.guard.check_configured_models()
        self.assertEqual([], self.host.conn.cpu_compare_calls)

    def test_nova_checks_are_superseded_only_while_ours_are_on(self):
        self.guard.supersede_nova_checks()
        self.assertTrue(CONF.workarounds.skip_cpu_compare_on_dest)
        self.assertTrue(CONF.workarounds.skip_cpu_compare_at_startup)

    def test_nova_checks_stay_when_ours_are_off(self):
        self.conf.config(cpu_precheck=False,
                         validate_cpu_models_on_startup=False, group='xloud')
        self.guard.supersede_nova_checks()
        self.assertFalse(CONF.workarounds.skip_cpu_compare_on_dest)
        self.assertFalse(CONF.workarounds.skip_cpu_compare_at_startup)


class PublishTest(GuardTestCase):

    def test_host_model_is_added_to_cpu_info(self):
        resources = cpu_info(fake_cpu.SKYLAKE, host_model=False)
        self.guard.publish_host_model(resources)
        info = jsonutils.loads(resources['cpu_info'])
        self.assertEqual('Skylake-Client', info['model'])
        self.assertEqual(SKYLAKE_HM, xmlcpu.host_model_from_info(info))

    def test_host_model_read_failure_is_not_cached(self):
        with mock.patch.object(
                self.host.conn, 'getDomainCapabilities',
                side_effect=fakelibvirt.make_libvirtError(
                    fakelibvirt.libvirtError, 'Cannot recv data',
                    error_code=fakelibvirt.VIR_ERR_INTERNAL_ERROR)):
            resources = cpu_info(fake_cpu.SKYLAKE, host_model=False)
            self.guard.publish_host_model(resources)
        self.assertNotIn(xmlcpu.CPU_INFO_HOST_MODEL_KEY,
                         jsonutils.loads(resources['cpu_info']))
        self.guard.publish_host_model(resources)
        self.assertEqual(SKYLAKE_HM, xmlcpu.host_model_from_info(
            jsonutils.loads(resources['cpu_info'])))

    def test_host_model_this_hypervisor_refuses_is_not_published(self):
        logger = self.useFixture(fixtures.FakeLogger())
        # The hypervisor claims a host-model CPU it cannot run.
        self.host.conn.cpu = fake_cpu.FakeCPU('Skylake-Client')
        with mock.patch.object(fake_cpu.FakeCPU, 'host_model',
                               return_value=fake_cpu.CASCADELAKE.host_model()):
            resources = cpu_info(fake_cpu.SKYLAKE, host_model=False)
            self.guard.publish_host_model(resources)
        info = jsonutils.loads(resources['cpu_info'])
        self.assertNotIn(xmlcpu.CPU_INFO_HOST_MODEL_KEY, info)
        self.assertIn('Not publishing the host-model CPU', logger.output)
