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

"""Block-migration disk preflight: the destination must really have room.

* :mod:`.need` - what a copy writes on the destination, per disk, from
  nova's disk info (pure arithmetic);
* :mod:`.space` - what a host has (``statvfs`` ``f_bavail``), and the one
  ssh command that asks a cold migration's destination;
* :mod:`.reservations` - the in-memory ledger of bytes promised to block
  migrations in flight to this host;
* :mod:`.guard` - :class:`DiskGuard`, one method per nova hook, which the
  driver calls.
"""

from xloud_nova_ext.disk.guard import DiskGuard  # noqa: F401
