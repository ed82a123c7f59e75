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

"""Integration tier: two real libvirt hosts on one machine.

Each "host" is a libvirtd in its own network, mount and UTS namespaces, with
its own /etc/libvirt, /run/libvirt, /var/lib/libvirt and friends, so that
QEMU TCG guests really migrate between two daemons over TCP. See
:mod:`xloud_harness.hosts` for the fixture API and ``README.rst`` beside
this file for the hosts' layout. The tier needs root and the Debian
packages installed by ``tools/install-debian-deps.sh``; without them its
tests skip (or fail under ``XLOUD_TEST_REQUIRE_ALL=1``).
"""
