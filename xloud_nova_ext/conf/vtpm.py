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
        default='auto',
        choices=[
            ('auto', '``barbican`` when ``[key_manager] backend`` is '
                     'Barbican, otherwise ``rpc``. nova-compute logs the '
                     'transport in force at start-up.'),
            ('barbican', 'The host that starts the guest reads the secret '
                         'from the key manager; its value never travels in '
                         'the migrate data over the message bus. Requires '
                         '``[key_manager] backend = barbican``.'),
            ('rpc', "Upstream nova's behaviour: the source reads the libvirt "
                    'secret and sends its value to the destination in the '
                    'live-migrate data.'),
        ],
        help="""
How the destination of a vTPM migration obtains the secret that encrypts the
TPM state.

With ``barbican`` (``auto`` with a Barbican key manager):

* Live migration: the destination tells the source, in its pre-check data,
  that it will read the secret from the key manager; the source then leaves
  the value out of the migrate data (a source running stock nova sends it
  anyway, and the destination uses it without asking Barbican). Before any
  memory is copied, the destination refuses unless Barbican answers and the
  secret exists and is readable; it defines the libvirt secret (same UUID
  and usage) in ``pre_live_migration``. A source that lost its libvirt
  secret re-creates it from Barbican.
* Cold migration and resize: the source checks, before the guest is
  stopped, that the secret is readable with the credentials the destination
  will use; the destination defines a ``host`` secret from Barbican before
  starting the guest.
* Secrets are read as the nova service user (``deployment`` mode, and
  ``host`` mode once granted, see ``vtpm_grant_service_user``), then as the
  requester (``host`` and ``user`` modes).

With ``rpc``, nova behaves as upstream (the value is only removed from the
data of a refused pre-check, so that it does not reach error
notifications). Hosts with different transports interoperate: the
destination announces what it will do and the source follows.

Related options:

* ``[key_manager] backend`` and the ``[barbican]`` options.
* ``[service_user]``: the nova service user's credentials.
* ``[libvirt] swtpm_enabled``, ``[libvirt] supported_tpm_secret_security``
* ``vtpm_grant_service_user``, ``vtpm_key_manager_timeout``
"""),
    cfg.FloatOpt(
        'vtpm_key_manager_timeout',
        default=10.0,
        min=0.1,
        max=3600.0,
        help="""
Seconds to wait for each request of the vTPM transfer to Barbican or to
keystone (the nova service user's token, the requester's catalog): reads in
a migration pre-check or before a guest starts, and the grants and
revocations of ``vtpm_grant_service_user``. A Barbican that does not answer
in time counts as unreachable and the migration is refused. The nova
service user's token is fetched once and reused until it expires.

Related options:

* ``vtpm_secret_transport``
* ``vtpm_grant_service_user``
"""),
    cfg.BoolOpt(
        'vtpm_grant_service_user',
        default=True,
        help="""
For instances whose vTPM secret security is ``host``, grant the nova service
user read access to the secret (a Barbican ACL, ``read`` operation) while the
owner's context is at hand: when the instance is created, started,
hard-rebooted, resized or reverted by a member of its project. A migration
requested by an admin of another project can then read the secret as the
nova service user. The grant is revoked when the server leaves ``host`` mode
(resize to a ``user`` or ``deployment`` flavor, or to one without a vTPM)
and when its owner deletes it; a grant made for an earlier nova service user
ID is replaced, not kept.

Trust: with the grant, every holder of the ``[service_user]`` password (in
practice every compute, API and conductor node) can read every granted
secret at any time. Stock nova's ``host`` mode hands the value to the
destination over the message bus, so every holder of the message bus
credentials (the same nodes) can obtain it as well; the grant moves that
trust from the message bus to keystone. Turn it off to keep ``host``
secrets readable by their owner's project only: live migrations requested
by an admin of another project are then refused
(``xloud.vtpm.secret_forbidden``) unless ``vtpm_secret_transport = rpc``.
Nothing is ever granted for ``user`` mode; ``deployment`` secrets belong to
the nova service user already. Used only when the Barbican transport is in
force.

Related options:

* ``vtpm_secret_transport``
* ``[service_user]``: whose user ID is granted.
"""),
]
