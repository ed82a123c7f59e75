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

"""Which of nova's libvirt functional modules CI runs, and why.

The modules whose tests move servers between computes: every hook our
driver overrides runs there. ``tox -e nova-compat -- all`` runs the rest
too: the modules left out only boot, rebuild, rescue, shelve or reshape
on one host (test_amd_sev, test_device_bus_migration, despite its name,
test_intel_tdx, test_machine_type, test_report_cpu_traits,
test_rescue_deleted_base, test_reshape, test_rt_servers,
test_shared_resource_provider, test_vif_model).
"""

PACKAGE = 'nova.tests.functional.libvirt'

#: module -> what it moves (the reason it is in CI).
MODULES = {
    'test_live_migration': 'live migration: NUMA topology updates, '
                           'rollback, abort, post-copy',
    'test_numa_live_migration': 'live migration of pinned and NUMA servers, '
                                'with rollback',
    'test_migration_addr': 'cold migration, resize and evacuation across '
                           '[libvirt] migration addresses',
    'test_evacuate': 'evacuation to another host, shared and local storage',
    'test_vtpm': 'vTPM servers: live migration, cold migration and resize '
                 'in every secret security mode',
    'test_numa_servers': 'cold migration and resize of pinned and NUMA '
                         'servers',
    'test_power_manage': 'live migration (and its rollback) and resize with '
                         'CPU power management',
    'test_stateless_firmware': 'live and cold migration (confirm and '
                               'revert), evacuation, unshelve to another '
                               'host',
    'test_vgpu': 'live migration of vGPU servers (old source or '
                 'destination), resize',
    'test_server_shares': 'cold migration with shares, confirm and revert',
    'test_pci_sriov_servers': 'live and cold migration, evacuation of '
                              'servers with PCI and SR-IOV devices',
    'test_pci_in_placement': 'resize and cold migration with PCI devices '
                             'in placement',
    'test_vpmem': 'resize and cold migration of vPMEM servers',
    'test_uefi': 'resize of UEFI servers',
}


def regex():
    """A stestr filter for the selected modules and this package's checks."""
    modules = '|'.join(sorted(MODULES))
    return r'^(xloud_nova_ext\.tests\.nova_compat\.|%s\.(%s)\.)' % (
        PACKAGE.replace('.', r'\.'), modules)
