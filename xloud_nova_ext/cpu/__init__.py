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

"""The CPU baseline safeguard: the guest's CPU must run on the destination.

* :mod:`.xmlcpu` - CPU definitions and their forms (libvirt XML, nova's
  ``cpu_info`` and ``VirtCPUModel``, a compact text for system_metadata);
  imports neither nova nor libvirt, so that the baseline tool starts fast;
* :mod:`.compare` - ``compareHypervisorCPU`` with the guest's virt type,
  arch and machine type, and libvirt's answer turned into a verdict;
* :mod:`.guard` - :class:`~.guard.CPUGuard`, what the driver hooks call:
  the live-migration pre-check, the start-up check of ``[libvirt]
  cpu_models``, recording the CPU a guest really runs;
* :mod:`.baseline` - a common baseline for many hosts with
  ``baselineHypervisorCPU`` and a host x model compatibility matrix (the
  ``xloud-cpu-baseline`` tool is :mod:`xloud_nova_ext.cmd.cpu_baseline`).
"""
