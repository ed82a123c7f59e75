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
    cfg.StrOpt(
        'vtpm_secret_transport',
        default='barbican',
        choices=[
            ('barbican', 'The destination fetches the secret from the key '
                         'manager; its value never travels in the migrate '
                         'data over the message bus.'),
            ('rpc', "Upstream nova's behaviour: the source reads the libvirt "
                    'secret and sends its value to the destination in the '
                    'live-migrate data.'),
        ],
        help="""
How the destination of a vTPM live migration obtains the secret that encrypts
the TPM state.

With ``barbican`` the destination verifies in the pre-check that the key
manager is reachable and the instance's secret exists and is readable, then
defines its libvirt secret from the key manager before the guest starts.

Related options:

* ``[key_manager] backend`` must be ``barbican``.
* ``[service_user]`` credentials: the nova service user reads
  ``deployment`` secrets and the ``host`` secrets it was granted.
* ``[libvirt] swtpm_enabled``
"""),
    cfg.BoolOpt(
        'vtpm_grant_service_user',
        default=True,
        help="""
For instances whose vTPM secret security is ``host``, grant the nova
service user read access to the secret (a Barbican ACL) while the owner's
context is at hand, so that any compute host can fetch it for a migration.

``host`` mode already trusts every compute host with the secret, so this is
no weaker. Nothing is ever granted for ``user`` mode, whose promise is that
only the owner can unlock the TPM.

Related options:

* ``vtpm_secret_transport``
"""),
]
