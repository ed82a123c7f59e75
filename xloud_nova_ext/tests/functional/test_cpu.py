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

"""The CPU pre-check through nova: API, conductor, scheduler, computes.

The computes run XloudLibvirtDriver on fakelibvirt hosts whose CPUs differ
(:mod:`xloud_harness.fake_cpu`); everything else is nova.
"""

import os

from nova import conf as nova_conf
from nova import context as nova_context
from nova import objects
from nova.tests.fixtures import libvirt as fakelibvirt

from xloud_harness import fake_cpu

from xloud_nova_ext.cpu import guard
from xloud_nova_ext.cpu import xmlcpu
from xloud_nova_ext import exception
from xloud_nova_ext.tests.fixtures import cpu_defs
from xloud_nova_ext.tests.functional import base

CONF = nova_conf.CONF
CODE = exception.CPUIncompatible.code
AVX512 = ('avx512bw', 'avx512cd', 'avx512dq', 'avx512f', 'avx512vl',
          'avx512vnni', 'pku')


class CPUTestBase(fake_cpu.FakeCPUHostsMixin, base.XloudMigrationTestBase):

    #: [libvirt] options of every compute of the class, set before they
    #: start.
    LIBVIRT_FLAGS = {}

    def _setup_compute_service(self):
        super()._setup_compute_service()
        # As the guide advises to rely on the Xloud check alone (nova's own
        # refuses guests these hosts run); DefaultsTest keeps nova's.
        self.flags(skip_cpu_compare_on_dest=True,
                   skip_cpu_compare_at_startup=True, group='workarounds')
        if self.LIBVIRT_FLAGS:
            self.flags(group='libvirt', **self.LIBVIRT_FLAGS)

    def clear_record(self, server):
        ctxt = nova_context.get_admin_context()
        instance = objects.Instance.get_by_uuid(
            ctxt, server['id'], expected_attrs=['system_metadata'])
        guard.write_record(instance.system_metadata, None, None, '')
        instance.save()
        self.assertIsNone(self.recorded_cpu(server))

    def recorded_cpu(self, server):
        ctxt = nova_context.get_admin_context()
        instance = objects.Instance.get_by_uuid(
            ctxt, server['id'], expected_attrs=['system_metadata'])
        return guard.read_record(instance.system_metadata)

    def compares_on(self, hostname):
        return self.connection(hostname).cpu_compare_calls

    def assert_refused_for_cpu(self, server, migration, missing):
        events = self.assert_refused(server, 'src', migration, CODE)
        details = ' '.join(e.get('details') or '' for e in events)
        self.assertIn('Host dest cannot run guest CPU', details)
        self.assertIn('missing %s.' % ', '.join(missing), details)
        self.assertIn('xloud-cpu-baseline', details)
        return details


class NewerToOlderTest(CPUTestBase):
    """A Cascade Lake source and a Skylake destination.

    Host-model guests of src use AVX-512, which dest lacks.
    """

    CPUS = {'src': fake_cpu.CASCADELAKE, 'dest': fake_cpu.SKYLAKE}

    def test_host_model_guest_refused_with_missing_features(self):
        server = self.boot('src')
        files = set(os.listdir(CONF.instances_path))
        migration = self.live_migrate(server, host='dest')
        details = self.assert_refused_for_cpu(server, migration, AVX512)
        self.assertIn('guest CPU Cascadelake-Server', details)
        # The destination's log says which definition it checked.
        self.assertIn('recorded when it last started (on src)',
                      self.stdlog.logger.output)
        # Refused before anything was created on dest: no guest, not even
        # nova's shared-storage test file.
        self.assertEqual([], self.domains_on('dest'))
        self.assertEqual(files, set(os.listdir(CONF.instances_path)))
        # Checked by dest's libvirt with the guest's arch, virt type and
        # machine type, and without <vendor>.
        emulator, arch, machine, virt_type, xml = self.compares_on('dest')[-1]
        self.assertEqual((None, 'x86_64', 'kvm'), (emulator, arch, virt_type))
        self.assertEqual('pc-0.12', machine)
        self.assertNotIn('<vendor>', xml)

    def test_scheduler_picked_destination_refused_is_no_valid_host(self):
        server = self.boot('src')
        migration = self.live_migrate(server)
        self.assert_refused(server, 'src', migration, CODE)


class OlderCustomModelTest(CPUTestBase):
    """Guests of the Cascade Lake source run the older Skylake model."""

    CPUS = NewerToOlderTest.CPUS
    LIBVIRT_FLAGS = {'cpu_mode': 'custom', 'cpu_models': ['Skylake-Client']}

    def test_guest_with_an_older_custom_model_migrates(self):
        server = self.boot('src')
        self.assertEqual('Skylake-Client', self.recorded_cpu(server)[0].model)
        migration = self.live_migrate(server, host='dest')
        self.assert_migrated(server, 'src', 'dest', migration)


class OlderToNewerTest(CPUTestBase):
    CPUS = {'src': fake_cpu.SKYLAKE, 'dest': fake_cpu.CASCADELAKE}

    def test_host_model_guest_migrates(self):
        server = self.boot('src')
        migration = self.live_migrate(server, host='dest')
        self.assert_migrated(server, 'src', 'dest', migration)
        # A live migration keeps the guest's CPU: the record still names the
        # expansion made on src.
        cpu, _machine, host = self.recorded_cpu(server)
        self.assertEqual(('Skylake-Client', 'src'), (cpu.model, host))


class OlderQEMUTest(CPUTestBase):
    """dest's QEMU lacks the guest's model, which compare alone accepts."""

    CPUS = {'src': fake_cpu.SKYLAKE, 'dest': fake_cpu.CASCADELAKE}
    LIBVIRT_FLAGS = {'cpu_mode': 'custom', 'cpu_models': ['Westmere']}

    def test_model_unknown_to_the_destination_is_refused(self):
        self.connection('dest').hidden_models = {'Westmere'}
        server = self.boot('src')
        migration = self.live_migrate(server, host='dest')
        events = self.assert_refused(server, 'src', migration, CODE)
        self.assertIn('does not support CPU model Westmere', str(events))


class IdenticalHostsTest(CPUTestBase):
    """Two identical AMD EPYC hosts.

    Their hypervisor cannot offer one feature of the physical CPU (osvw),
    like QEMU TCG hosts on an EPYC machine.
    """

    CPUS = {'src': fake_cpu.EPYC_HOST, 'dest': fake_cpu.EPYC_HOST}

    def test_host_model_guest_migrates(self):
        server = self.boot('src')
        migration = self.live_migrate(server, host='dest')
        self.assert_migrated(server, 'src', 'dest', migration)

    def test_nova_own_check_refuses_what_ours_accepts(self):
        # The false negative we replace: nova compares the source's
        # physical CPU (cpu_info), osvw included, which the hypervisor
        # cannot offer, and refuses a migration between identical hosts.
        self.flags(cpu_precheck=False, group='xloud')
        self.flags(skip_cpu_compare_on_dest=False, group='workarounds')
        server = self.boot('src')
        migration = self.live_migrate(server, host='dest')
        self.assertEqual('error', migration['status'])
        events = self.action_events(server, 'live-migration')
        details = ' '.join(e.get('details') or '' for e in events)
        self.assertIn("CPU doesn't have compatibility", details)
        self.assertNotIn(CODE, details)


class DefaultsTest(CPUTestBase):
    """nova's own comparison is left on when the operator leaves it on."""

    CPUS = {'src': fake_cpu.SKYLAKE, 'dest': fake_cpu.SKYLAKE}

    def _setup_compute_service(self):
        super()._setup_compute_service()
        self.flags(skip_cpu_compare_on_dest=False,
                   skip_cpu_compare_at_startup=False, group='workarounds')

    def test_both_checks_run_and_nova_options_stay(self):
        server = self.boot('src')
        migration = self.live_migrate(server, host='dest')
        self.assert_migrated(server, 'src', 'dest', migration)
        self.assertFalse(CONF.workarounds.skip_cpu_compare_on_dest)
        self.assertFalse(CONF.workarounds.skip_cpu_compare_at_startup)
        # Ours (with virt type) and nova's (without) both compared.
        virt_types = [call[3] for call in self.compares_on('dest')]
        self.assertIn('kvm', virt_types)
        self.assertIn(None, virt_types)


class GuestStartedTest(CPUTestBase):
    """Every way a guest starts records the CPU it runs."""

    CPUS = {'src': fake_cpu.SKYLAKE, 'dest': fake_cpu.SKYLAKE}

    def test_power_on_records_the_running_cpu(self):
        server = self.boot('src')
        server = self._stop_server(server)
        self.clear_record(server)
        self._start_server(server)
        cpu, _machine, host = self.recorded_cpu(server)
        self.assertEqual(('Skylake-Client', 'src'), (cpu.model, host))

    def test_resume_state_on_host_boot_records_the_running_cpu(self):
        server = self.boot('src')
        self.clear_record(server)
        # The host rebooted: the guest is gone, nova-compute restarts and
        # starts it again.
        conn = self.connection('src')
        for dom in list(conn._vms.values()):
            dom._state = fakelibvirt.VIR_DOMAIN_SHUTOFF
        self.flags(resume_guests_state_on_host_boot=True)
        self.restart_compute_service('src')
        cpu, _machine, host = self.recorded_cpu(server)
        self.assertEqual(('Skylake-Client', 'src'), (cpu.model, host))
        self.assertEqual(
            fakelibvirt.VIR_DOMAIN_RUNNING,
            list(self.connection('src')._vms.values())[0]._state)


class IntelModelOnAMDHostsTest(CPUTestBase):
    """An Intel CPU model on AMD hosts that run it is never refused."""

    CPUS = IdenticalHostsTest.CPUS
    LIBVIRT_FLAGS = {'cpu_mode': 'custom', 'cpu_models': ['Nehalem']}

    def test_intel_model_guest_on_amd_hosts_migrates(self):
        server = self.boot('src')
        migration = self.live_migrate(server, host='dest')
        self.assert_migrated(server, 'src', 'dest', migration)
        self.assertEqual('Nehalem', self.recorded_cpu(server)[0].model)


class RecordedCPUTest(CPUTestBase):
    """The record follows the CPU the guest runs, not the host it is on.

    A guest started on a Skylake and moved to a Cascade Lake still runs a
    Skylake CPU and may go to any Skylake host; the source's own CPU would
    say otherwise.
    """

    COMPUTES = ('src', 'mid', 'dest')
    CPUS = {'src': fake_cpu.SKYLAKE, 'mid': fake_cpu.CASCADELAKE,
            'dest': fake_cpu.SKYLAKE}

    def test_record_follows_the_running_guest(self):
        server = self.boot('src')
        migration = self.live_migrate(server, host='mid')
        self.assert_migrated(server, 'src', 'mid', migration)
        migration = self.live_migrate(server, host='dest')
        self.assert_migrated(server, 'mid', 'dest', migration)
        # A hard reboot restarts the guest with dest's own host-model.
        self._reboot_server(server, hard=True)
        cpu, _machine, host = self.recorded_cpu(server)
        self.assertEqual(('Skylake-Client', 'dest'), (cpu.model, host))
        self.assertEqual(
            cpu_defs.host_model(fake_cpu.SKYLAKE).replace(
                mode=xmlcpu.CUSTOM, arch=None, vendor=None),
            cpu)

    def test_guest_restarted_on_newer_host_is_refused_on_older(self):
        server = self.boot('src')
        migration = self.live_migrate(server, host='mid')
        self.assert_migrated(server, 'src', 'mid', migration)
        self._reboot_server(server, hard=True)
        migration = self.live_migrate(server, host='dest')
        self.assertEqual('error', migration['status'])
        events = self.assert_refused(server, 'mid', migration, CODE)
        self.assertIn('avx512f', str(events))


class ThreeHostsSchedulerTest(CPUTestBase):
    COMPUTES = ('src', 'old', 'new')
    CPUS = {'src': fake_cpu.SKYLAKE, 'old': fake_cpu.NEHALEM_HOST,
            'new': fake_cpu.CASCADELAKE}

    def test_scheduler_ends_on_the_host_that_runs_the_guest(self):
        server = self.boot('src')
        migration = self.live_migrate(server)
        self.assert_migrated(server, 'src', 'new', migration)


class StartupTest(CPUTestBase):
    COMPUTES = ()
    CPUS = {'sky': fake_cpu.SKYLAKE}

    def test_unusable_cpu_models_stop_the_compute(self):
        self.flags(cpu_mode='custom', group='libvirt',
                   cpu_models=['Skylake-Client', 'Cascadelake-Server'],
                   cpu_model_extra_flags=['-hle'])
        e = self.assertRaises(exception.CPUModelsUnusable,
                              self.start_compute, hostname='sky')
        text = str(e)
        self.assertIn(exception.CPUModelsUnusable.code, text)
        self.assertIn('Cascadelake-Server: missing %s' % ', '.join(AVX512),
                      text)
        self.assertNotIn('Skylake-Client:', text)

    def test_usable_cpu_models_start(self):
        self.flags(cpu_mode='custom', group='libvirt',
                   cpu_models=['Skylake-Client', 'Nehalem'],
                   cpu_model_extra_flags=['vmx'])
        self.start_compute(hostname='sky')
        checked = [xmlcpu.domain_cpu('<domain>%s</domain>' % call[4])
                   for call in self.connection('sky').cpu_compare_calls]
        vmx = (('vmx', xmlcpu.REQUIRE),)
        self.assertIn(xmlcpu.CPUDef('Skylake-Client', vmx), checked)
        self.assertIn(xmlcpu.CPUDef('Nehalem', vmx), checked)
