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
            ('barbican', 'The host that starts the guest reads the secret '
                         'from the key manager; its value never travels in '
                         'the migrate data over the message bus.'),
            ('rpc', "Upstream nova's behaviour: the source reads the libvirt "
                    'secret and sends its value to the destination in the '
                    'live-migrate data. The Xloud vTPM code does nothing.'),
        ],
        help="""
How the destination of a vTPM migration obtains the secret that encrypts the
TPM state.

With ``barbican``:

* Live migration: the destination's pre-check, before any memory is
  copied, refuses unless ``[key_manager] backend`` is ``barbican``, Barbican
  answers, and the instance's secret exists and is readable; it keeps the
  value in memory and defines the libvirt secret (same UUID and usage) in
  ``pre_live_migration``. The source leaves the value out of the migrate
  data, and re-creates its own libvirt secret from Barbican if it lost it.
* Cold migration and resize: the source checks, before the guest is
  stopped, that the secret is readable with the credentials the destination
  will use; the destination defines a ``host`` secret from Barbican before
  starting the guest.
* Secrets are read as the nova service user (``deployment`` mode, and
  ``host`` mode once granted, see ``vtpm_grant_service_user``), then as the
  requester (``host`` and ``user`` modes).

Set the same value on all compute hosts. During an upgrade a destination
with ``rpc`` still reads the secret from Barbican when a ``barbican`` source
left it out, but only a ``barbican`` destination pre-checks.

Related options:

* ``[key_manager] backend`` must be ``barbican``, with the ``[barbican]``
  options.
* ``[service_user]``: the nova service user's credentials.
* ``[libvirt] swtpm_enabled``, ``[libvirt] supported_tpm_secret_security``
* ``vtpm_grant_service_user``
"""),
    cfg.FloatOpt(
        'vtpm_key_manager_timeout',
        default=10.0,
        min=0.1,
        help="""
Seconds to wait for each request to Barbican (or to keystone for a token)
when reading a vTPM secret in a migration pre-check or before the guest
starts, and when granting the nova service user read access. A Barbican that
does not answer in time counts as unreachable and the migration is refused.

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
hard-rebooted, or resized by a member of its project. A migration requested
by an admin of another project can then read the secret as the nova service
user.

``host`` mode already trusts every compute host with the secret, so this is
no weaker. Nothing is ever granted for ``user`` mode, whose promise is that
only the owner can unlock the TPM; ``deployment`` secrets belong to the nova
service user already. Used only with ``vtpm_secret_transport = barbican``.

Related options:

* ``vtpm_secret_transport``
* ``[service_user]``: whose user ID is granted.
"""),
]
