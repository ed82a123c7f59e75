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

The destination asks its libvirt (``compareHypervisorCPU``, with the
guest's virt type, architecture, machine type and emulator) whether the
guest's migratable CPU definition runs there, and refuses the migration with
a pre-check error naming the CPU model, the missing features and the fix when
it does not. Unlike nova's own comparison this runs for every virt type and
does not compare the vendor string, so identical hosts are never refused.

Related options:

* ``[libvirt] cpu_mode``, ``[libvirt] cpu_models``: the common
  baseline that ``xloud-cpu-baseline`` computes for a set of hosts.
* ``[workarounds] skip_cpu_compare_on_dest``: nova's own check; it can stay
  off while this one is on.
"""),
    cfg.BoolOpt(
        'validate_cpu_models_on_startup',
        default=True,
        help="""
Refuse to start nova-compute when a model in ``[libvirt] cpu_models`` (with
``[libvirt] cpu_model_extra_flags``) cannot run on this host.

A host that cannot run the configured baseline would accept guests and then
fail every migration that lands on it; failing at start names the unusable
model and the features this host lacks.

Related options:

* ``[libvirt] cpu_mode = custom``
* ``[libvirt] cpu_models``, ``[libvirt] cpu_model_extra_flags``
"""),
]
