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

import os
from unittest import mock

import fixtures

from nova import conf as nova_conf
from nova import exception as nova_exception
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
        # "This host" is nova's [DEFAULT] host, not libvirt's hostname.
        self.conf.config(host='dest')
        self.host = FakeHost(self.connection(fake_cpu.SKYLAKE), 'dest.libvirt')
        self.guard = guard.CPUGuard(self.host)

    def recorded(self, inst):
        return guard.read_record(inst.system_metadata)

    def check_dest(self, inst, info):
        return self.guard.check_can_live_migrate_destination(inst, info)


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
        self.host.guest_xml = dom.XMLDesc(
            fakelibvirt.VIR_DOMAIN_XML_MIGRATABLE)
        inst = instance()
        self.guard.guest_started(inst)
        cpu, machine, host = self.recorded(inst)
        self.assertEqual(SKYLAKE_HM.merged({'pcid': 'require'}).replace(
            mode='custom', vendor=None, arch=None), cpu)
        self.assertEqual(('pc-0.12', 'dest'), (machine, host))

    def test_passthrough_guest_or_failure_clears_the_record(self):
        inst = instance(sysmeta={'xloud_cpu': '1;1;pc;h',
                                 'xloud_cpu_1': '1;M;'})
        self.host.guest_xml = ("<domain><os><type machine='pc'>hvm</type>"
                               "</os><cpu mode='host-passthrough'/></domain>")
        self.guard.guest_started(inst)
        self.assertIsNone(self.recorded(inst))
        guard.write_record(inst.system_metadata, SKYLAKE_HM, None, 'h')
        self.host.guest_xml = RuntimeError('libvirt went away')
        self.guard.guest_started(inst)
        self.assertIsNone(self.recorded(inst))
        self.assertIn('libvirt went away', self.logger.output)

    def test_save_only_when_asked_and_changed(self):
        inst = instance()
        self.host.guest_xml = ("<domain><os><type machine='pc'>hvm</type>"
                               "</os>%s</domain>" % xmlcpu.to_guest_xml(
                                   SKYLAKE_HM))
        with mock.patch.object(inst, 'save') as save:
            self.guard.guest_started(inst)
            save.assert_not_called()
            guard.write_record(inst.system_metadata, None, None, 'h')
            self.guard.guest_started(inst, save=True)
            save.assert_called_once_with()
            self.guard.guest_started(inst, save=True)
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
                     '{"model": "X", "xloud_host_model": {"vendor": "A"}}',
                     '[1, 2]', '{"model": "X", "features": [1, {}]}',
                     '{"model": "X Y"}', '{"model": ["X"]}'):
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
                              self.check_dest, inst, cpu_info())
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
        self.check_dest(inst, cpu_info())

    def test_recorded_machine_type_is_passed(self):
        inst = instance()
        guard.write_record(inst.system_metadata, SKYLAKE_HM, 'pc-q35-7.2',
                           'h0')
        self.check_dest(inst, cpu_info())
        self.assertEqual('pc-q35-7.2', self.host.conn.cpu_compare_calls[-1][2])

    def test_image_machine_type_when_nothing_recorded(self):
        inst = instance(vcpu_model('custom', 'Nehalem'),
                        sysmeta={'image_hw_machine_type': 'q35'})
        self.check_dest(inst, cpu_info())
        self.assertEqual('q35', self.host.conn.cpu_compare_calls[-1][2])

    def test_model_this_qemu_lacks_is_refused_though_compare_accepts(self):
        self.host.conn.hidden_models = {'Nehalem'}
        inst = instance(vcpu_model('custom', 'Nehalem'))
        e = self.assertRaises(exception.CPUIncompatible,
                              self.check_dest, inst, cpu_info())
        self.assertIn('Host dest cannot run guest CPU Nehalem: its '
                      'hypervisor does not support CPU model Nehalem.',
                      str(e))
        self.assertEqual([], self.host.conn.cpu_compare_calls)

    def test_model_list_is_read_once(self):
        for model in ('Nehalem', 'Westmere', 'Nehalem'):
            self.check_dest(
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
            self.check_dest(inst, cpu_info())
        self.assertRaises(exception.CPUIncompatible,
                          self.check_dest, inst, cpu_info())

    def test_off(self):
        self.conf.config(cpu_precheck=False, group='xloud')
        self.check_dest(instance(), cpu_info())
        self.assertEqual([], self.host.conn.cpu_compare_calls)

    def test_unsupported_compare_lets_through_and_warns_once(self):
        logger = self.useFixture(fixtures.FakeLogger())
        self.host.conn.compare_unsupported = True
        for _ in range(3):
            self.check_dest(instance(), cpu_info())
        self.assertEqual(1, logger.output.count('cannot compare CPUs'))

    def test_cannot_compare_answers_of_other_archs_let_through(self):
        # libvirt 9-11 on aarch64/ppc64le (and s390x without QEMU's
        # comparison) answer OPERATION_UNSUPPORTED; some drivers refuse
        # our flags with ARGUMENT_UNSUPPORTED: no verdict on the guest.
        self.useFixture(fixtures.FakeLogger())
        for code, text in (
                (fakelibvirt.VIR_ERR_OPERATION_UNSUPPORTED,
                 'Operation not supported: comparing with the hypervisor '
                 'CPU is not supported for arch aarch64'),
                (compare.VIR_ERR_ARGUMENT_UNSUPPORTED,
                 'argument unsupported: flags')):
            self.host.conn.compare_error = fake_cpu.error(text, code)
            self.check_dest(
                instance(vcpu_model('custom', 'Nehalem')), cpu_info())

    def test_transient_libvirt_error_is_could_not_check(self):
        self.host.conn.compare_error = fake_cpu.error(
            'Cannot recv data: Connection reset by peer',
            fakelibvirt.VIR_ERR_SYSTEM_ERROR)
        e = self.assertRaises(
            exception.CPUCheckFailed,
            self.check_dest,
            instance(vcpu_model('custom', 'Nehalem')), cpu_info())
        self.assertTrue(str(e).startswith(
            '[xloud.cpu.check_failed] Host dest could not check the guest '
            'CPU: Cannot recv data: Connection reset by peer.'), str(e))
        self.assertIn('check libvirtd', str(e))

    def test_safeguards_own_failure_is_could_not_check(self):
        self.host.conn.compare_error = RuntimeError('a bug of ours')
        e = self.assertRaises(
            exception.CPUCheckFailed,
            self.check_dest,
            instance(vcpu_model('custom', 'Nehalem')), cpu_info())
        self.assertIn('RuntimeError: a bug of ours', str(e))

    def test_unsupported_machine_type_is_a_refusal(self):
        self.host.conn.compare_error = fake_cpu.error(
            "invalid argument: the machine 'pc-q35-9.2' is not supported by "
            "emulator '/usr/bin/qemu-system-x86_64'",
            fakelibvirt.VIR_ERR_INVALID_ARG)
        e = self.assertRaises(
            exception.CPUIncompatible,
            self.check_dest,
            instance(vcpu_model('custom', 'Nehalem')), cpu_info())
        self.assertIn("the machine 'pc-q35-9.2' is not supported", str(e))

    def test_long_gap_keeps_cause_and_fix_in_what_nova_keeps(self):
        # A Skylake guest on a Nehalem host lacks 25 features here (26 on
        # real libvirt): spelled out, the fix would fall past the 255
        # characters nova keeps of a fault.
        self.host.conn.cpu = fake_cpu.NEHALEM_HOST
        e = self.assertRaises(
            exception.CPUIncompatible,
            self.check_dest,
            instance(vcpu_model('custom', 'Skylake-Client')), cpu_info())
        self.assertGreater(len(fake_cpu.MODELS['Skylake-Client'][1] -
                               fake_cpu.MODELS['Nehalem'][1]), 20)
        kept = str(nova_exception.MigrationPreCheckError(reason=str(e)))[:255]
        self.assertIn('Host dest cannot run guest CPU Skylake-Client: '
                      'missing ', kept)
        self.assertIn(' more.', kept)
        self.assertTrue(kept.endswith('Fix: ' + e.fix), kept)

    def test_other_virt_types_are_not_compared(self):
        self.conf.config(virt_type='parallels', group='libvirt')
        self.check_dest(
            instance(vcpu_model('custom', 'Cascadelake-Server')), cpu_info())
        self.assertEqual([], self.host.conn.cpu_compare_calls)


class CacheTest(GuardTestCase):
    """The model list follows a libvirt or QEMU upgrade, without restart."""

    def setUp(self):
        super().setUp()
        self.qemu = self.useFixture(fixtures.TempDir()).join('qemu-system')
        with open(self.qemu, 'w') as f:
            f.write('QEMU 7.2')
        self.host.conn.emulator = self.qemu
        self.inst = instance(vcpu_model('custom', 'Nehalem'))

    def check(self):
        self.check_dest(self.inst, cpu_info())

    def test_kept_while_nothing_changes(self):
        for _ in range(3):
            self.check()
        self.assertEqual(1, self.host.conn.domcaps_calls)

    def test_qemu_upgrade_is_seen(self):
        self.check()
        # The new QEMU lacks the model: refused without a restart.
        self.host.conn.hidden_models = {'Nehalem'}
        self.check()
        with open(self.qemu + '.new', 'w') as f:
            f.write('QEMU 9.2, bigger')
        os.replace(self.qemu + '.new', self.qemu)
        self.assertRaises(exception.CPUIncompatible, self.check)
        self.assertEqual(2, self.host.conn.domcaps_calls)

    def test_libvirt_upgrade_is_seen(self):
        self.check()
        self.host.conn.hidden_models = {'Nehalem'}
        self.host.conn.fakeLibVersion += 1000
        self.assertRaises(exception.CPUIncompatible, self.check)

    def test_qemu_not_visible_falls_back_to_its_version(self):
        # nova-compute in a container without the QEMU binary.
        self.host.conn.emulator = '/nonexistent/qemu-system-x86_64'
        self.check()
        self.host.conn.hidden_models = {'Nehalem'}
        self.check()
        self.host.conn.fakeVersion += 1000
        self.assertRaises(exception.CPUIncompatible, self.check)

    def test_host_model_follows_an_upgrade(self):
        resources = cpu_info(fake_cpu.SKYLAKE, host_model=False)
        self.guard.update_available_resource(resources)
        self.host.conn.cpu = fake_cpu.CASCADELAKE
        self.guard.update_available_resource(resources)
        self.assertEqual('Skylake-Client', xmlcpu.host_model_from_info(
            jsonutils.loads(resources['cpu_info'])).model)
        self.host.conn.fakeLibVersion += 1000
        resources = cpu_info(fake_cpu.SKYLAKE, host_model=False)
        self.guard.update_available_resource(resources)
        self.assertEqual('Cascadelake-Server', xmlcpu.host_model_from_info(
            jsonutils.loads(resources['cpu_info'])).model)


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
                              self.guard.init_host)
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
                              self.guard.init_host)
        self.assertIn('cpu_models Westmere cannot run on host dest: '
                      'Westmere: its hypervisor does not support CPU model '
                      'Westmere.', str(e))

    def test_qemu_virt_type_is_checked_too(self):
        self.config(virt_type='qemu', cpu_models=['Cascadelake-Server'])
        self.assertRaises(exception.CPUModelsUnusable,
                          self.guard.init_host)
        self.assertEqual('qemu', self.host.conn.cpu_compare_calls[0][3])

    def test_not_custom_or_off_checks_nothing(self):
        self.config(cpu_mode='host-model', cpu_models=[])
        self.guard.init_host()
        self.config(cpu_models=['Cascadelake-Server'])
        self.conf.config(validate_cpu_models_on_startup=False, group='xloud')
        self.guard.init_host()
        self.assertEqual([], self.host.conn.cpu_compare_calls)

    def test_novas_own_checks_are_left_as_the_operator_set_them(self):
        logger = self.useFixture(fixtures.FakeLogger())
        self.config(cpu_mode='host-model', cpu_models=[])
        for skip in (False, True):
            self.conf.config(skip_cpu_compare_on_dest=skip,
                             skip_cpu_compare_at_startup=skip,
                             group='workarounds')
            self.guard.init_host()
            self.assertIs(skip, CONF.workarounds.skip_cpu_compare_on_dest)
            self.assertIs(skip, CONF.workarounds.skip_cpu_compare_at_startup)
        # Said once per start while both checks run, with the way out.
        self.assertEqual(1, logger.output.count(
            'set [workarounds] skip_cpu_compare_on_dest = True'))
        self.assertEqual(1, logger.output.count(
            'set [workarounds] skip_cpu_compare_at_startup = True'))

    def test_libvirt_failure_is_not_an_unusable_model(self):
        logger = self.useFixture(fixtures.FakeLogger())
        self.config(cpu_models=['Nehalem'])
        self.host.conn.compare_error = fake_cpu.error(
            'Cannot recv data: Connection reset by peer',
            fakelibvirt.VIR_ERR_SYSTEM_ERROR)
        self.guard.init_host()
        self.assertIn('Cannot check [libvirt] cpu_models Nehalem now',
                      logger.output)


class PublishTest(GuardTestCase):

    def test_host_model_is_added_to_cpu_info(self):
        resources = cpu_info(fake_cpu.SKYLAKE, host_model=False)
        self.guard.update_available_resource(resources)
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
            self.guard.update_available_resource(resources)
        self.assertNotIn(xmlcpu.CPU_INFO_HOST_MODEL_KEY,
                         jsonutils.loads(resources['cpu_info']))
        self.guard.update_available_resource(resources)
        self.assertEqual(SKYLAKE_HM, xmlcpu.host_model_from_info(
            jsonutils.loads(resources['cpu_info'])))

    def test_host_model_this_hypervisor_refuses_is_not_published(self):
        logger = self.useFixture(fixtures.FakeLogger())
        # The hypervisor claims a host-model CPU it cannot run.
        self.host.conn.cpu = fake_cpu.FakeCPU('Skylake-Client')
        with mock.patch.object(fake_cpu.FakeCPU, 'host_model',
                               return_value=fake_cpu.CASCADELAKE.host_model()):
            resources = cpu_info(fake_cpu.SKYLAKE, host_model=False)
            self.guard.update_available_resource(resources)
        info = jsonutils.loads(resources['cpu_info'])
        self.assertNotIn(xmlcpu.CPU_INFO_HOST_MODEL_KEY, info)
        self.assertIn('Not publishing the host-model CPU', logger.output)
