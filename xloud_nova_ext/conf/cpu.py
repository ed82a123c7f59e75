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

from oslo_config import cfg

OPTS = [
    cfg.BoolOpt(
        'cpu_precheck',
        default=True,
        help="""
Check, before a live migration copies any memory, that the destination
hypervisor can run the guest's CPU as the guest runs it.

The CPU checked is the one recorded when the guest last started (the
running domain's migratable ``<cpu>``, kept in the instance's
system_metadata), else nova's ``vcpu_model``, else the source host's CPU.
The destination refuses the migration, with a pre-check error naming the
CPU model, the missing features and the fix, when its QEMU lacks the model
or when libvirt's ``compareHypervisorCPU`` (with the guest's virt type,
arch and machine type, for ``kvm`` and ``qemu``, without the vendor)
finds features missing. A hypervisor that cannot compare CPUs (aarch64,
ppc64le, some s390x) lets every guest through, with one warning; a libvirt
error that says nothing about the CPU (a dropped connection, a timeout)
refuses the migration as "could not check" (``xloud.cpu.check_failed``).

nova's own comparison (``[workarounds] skip_cpu_compare_on_dest``) is left
as configured and runs after this one when on; it refuses guests that the
host runs (it sends ``<vendor>`` and no virt type), so set it to ``True``
to rely on this check alone.

Related options:

* ``[libvirt] cpu_mode``, ``[libvirt] cpu_models``: the common
  baseline that ``xloud-cpu-baseline`` computes for a set of hosts.
* ``[workarounds] skip_cpu_compare_on_dest``: nova's own check.
"""),
    cfg.BoolOpt(
        'validate_cpu_models_on_startup',
        default=True,
        help="""
Refuse to start nova-compute when a model in ``[libvirt] cpu_models`` (with
``[libvirt] cpu_model_extra_flags``) cannot run on this host.

A host that cannot run the configured baseline would accept guests and then
fail every migration that lands on it; failing at start names the unusable
models and the features this host lacks. Unlike nova's own start-up check
this also runs for ``virt_type = qemu``, passes arch, virt type and machine
type, names the missing features and refuses a model this QEMU lacks.
nova's own start-up check (``[workarounds] skip_cpu_compare_at_startup``)
is left as configured.

Related options:

* ``[libvirt] cpu_mode = custom``
* ``[libvirt] cpu_models``, ``[libvirt] cpu_model_extra_flags``
* ``[workarounds] skip_cpu_compare_at_startup``
"""),
]
