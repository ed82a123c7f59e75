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

"""vTPM secret transfer via the key manager (Barbican), with a pre-check.

:mod:`.transfer` decides what each migration step does with the secret;
:mod:`.keymgr` talks to the key manager. The driver only calls
:class:`VTPMGuard` from nova's public hooks.
"""

from xloud_nova_ext.vtpm.transfer import VTPMGuard  # noqa: F401
