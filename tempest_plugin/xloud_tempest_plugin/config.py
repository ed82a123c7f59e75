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

"""The [xloud_migration] options: what tempest's own options do not say."""

from oslo_config import cfg

migration_group = cfg.OptGroup(
    name='xloud_migration',
    title='Xloud migration scenarios',
    help="""
What the cloud under test offers to the Xloud migration scenarios beyond
tempest's own options. Tempest's options still decide the basics:
``[compute] min_compute_nodes``, ``migration_source_host`` and
``migration_dest_host``, ``[compute-feature-enabled] live_migration``,
``cold_migration``, ``block_migration_for_live_migration``,
``can_migrate_between_any_hosts``, ``vtpm_live_migration`` and
``console_output``, ``[service_available] barbican`` and
``[compute] max_microversion`` (the scenarios need 2.84 or later).
""")

MigrationGroup = [
    cfg.BoolOpt(
        'shared_storage_live_migration',
        default=False,
        help="""
Whether the compute hosts share the storage of instance disks (for example
``[DEFAULT] instances_path`` on NFS, or ``[libvirt] images_type = rbd``), so
that a live migration that copies no disk (``block_migration = false``)
works.

Related options:

* ``[compute-feature-enabled] block_migration_for_live_migration``: the
  scenarios that copy the disks.
"""),
    cfg.StrOpt(
        'block_migration_dest_host',
        help="""
The host the block live migration scenario requests as destination, when it
must differ from ``[compute] migration_dest_host``: in a cloud where some
hosts share instance storage and others do not, the shared-storage scenario
needs a destination that shares storage with the source and the block
scenario one that does not. Defaults to ``[compute] migration_dest_host``.

Related options:

* ``[compute] migration_dest_host``
* ``shared_storage_live_migration``
"""),
    cfg.IntOpt(
        'migration_timeout',
        default=600,
        min=1,
        help="""
Seconds to wait for a migration record to reach its final status. The
waiter polls every ``[compute] build_interval`` seconds and fails at once
when the record goes to ``error``, ``failed`` or ``cancelled``.
"""),
    cfg.ListOpt(
        'console_failure_patterns',
        default=[r'Kernel panic',
                 r'Oops: ',
                 r'kernel BUG at ',
                 r'BUG: unable to handle',
                 r'BUG: kernel NULL pointer dereference',
                 r'I/O error\W+(?:on )?dev (?!fd)',
                 r'EXT4-fs error',
                 r'Out of memory: Kill'],
        help="""
Regular expressions (Python syntax, case sensitive, no commas) that must not
appear in the console output the guest wrote since the migration started:
the scenario fails when one does. The default catches a kernel panic, an
oops, a kernel BUG, disk I/O errors (but not the floppy probe errors of
CirrOS, ``dev fd0``), ext4 errors and the OOM killer. An empty list checks
only that the console is readable.

Related options:

* ``console_warning_patterns``: reported, never failed.
* ``[compute-feature-enabled] console_output``: when false, no console check
  is made.
* ``console_boot_marker``
"""),
    cfg.ListOpt(
        'console_warning_patterns',
        default=[r'Call Trace:',
                 r'BUG: soft lockup',
                 r'rcu: INFO: .*stall',
                 r'rcu_sched self-detected stall',
                 r'WARNING: CPU: ',
                 r'INFO: task .* blocked for more than'],
        help="""
Regular expressions for console lines that are reported in the scenario's
verification report but do not fail it: the kernel warnings (soft lockups,
RCU stalls, WARN_ON backtraces) that a guest prints on a loaded TCG gate
node although it is healthy. A line that also matches
``console_failure_patterns`` fails the scenario.
"""),
    cfg.StrOpt(
        'console_boot_marker',
        default=r'Linux version \d',
        help="""
Regular expression for a line that the guest prints once per boot (the Linux
kernel banner by default). If it appears in the console output written since
a live migration started, the guest rebooted and the scenario fails. Empty to
disable this check (for a guest that is not Linux).

A guest that prints the Xloud heartbeat on its serial console (one line
every 100 ms: ``xloud-heartbeat boot_id=<32 hex> uptime_ms=<int> seq=<int>
memsum=<8 hex>``) is checked more closely: same boot id and a growing uptime
after a live migration (no reboot), an unchanged memory checksum, a heartbeat
that still advances after the move, and the largest heartbeat gap around the
switchover reported as the guest-observed pause. On a guest without it
(CirrOS) the report says which of these could not be verified. With
``[validation] run_validation`` the scenarios also read the guest's uptime
over SSH before and after the move; it must not go backwards.

Related options:

* ``heartbeat_timeout``
"""),
    cfg.IntOpt(
        'heartbeat_timeout',
        default=10,
        min=1,
        help="""
Seconds to wait, after a move, for the heartbeat of a guest that prints one
to advance on its console (the guest runs on its new host). The console is
read every ``[compute] build_interval`` seconds at most.
"""),
    cfg.IntOpt(
        'heartbeat_before_move_timeout',
        default=0,
        min=0,
        help="""
Seconds to wait, before each move, for the guest's first heartbeat on its
console (the scenario fails when none comes), then until the guest has run
10 s. 0 (the default) does not wait,
for images that never print one (CirrOS). Set it where the image prints the
heartbeat (the embedded real cloud does): a guest moved while its kernel
still boots leaves no heartbeat to compare with, and under QEMU's TCG a
move that early may crash the guest.

Related options:

* ``heartbeat_timeout``
"""),
    cfg.IntOpt(
        'drain_server_count',
        default=2,
        min=1,
        help="""
How many servers the host-drain scenario boots on the host it drains before
disabling its compute service and live-migrating them all away.
"""),
    cfg.StrOpt(
        'vtpm_flavor',
        help="""
A flavor with a vTPM and ``hw:tpm_secret_security=host`` (the only secret
security that nova lets live-migrate) for the vTPM scenario. When unset the
scenario creates one from ``[compute] flavor_ref`` with
``hw:tpm_version=2.0``, ``hw:tpm_model=tpm-crb`` and
``hw:tpm_secret_security=host``.

Related options:

* ``[compute-feature-enabled] vtpm_live_migration``
* ``[service_available] barbican`` (from barbican-tempest-plugin)
"""),
    cfg.StrOpt(
        'cpu_incompatible_dest_host',
        help="""
A compute host that cannot run the guest CPU of servers booted on
``cpu_incompatible_source_host`` (an older CPU generation, or a host whose
libvirt reports fewer CPU features). When set, the negative scenario checks
that a live migration there is refused before anything is copied, with the
``cpu_refusal_code`` in the instance action events, and that the server stays
ACTIVE on its source. Unset: the scenario is skipped.

Related options:

* ``cpu_incompatible_source_host``, ``cpu_incompatible_flavor``,
  ``cpu_refusal_code``
"""),
    cfg.StrOpt(
        'cpu_incompatible_source_host',
        help="""
Where the CPU-incompatible scenario boots its server: a host with a CPU the
``cpu_incompatible_dest_host`` cannot run. Defaults to ``[compute]
migration_source_host``; the scenario is skipped when neither is set.
"""),
    cfg.StrOpt(
        'cpu_incompatible_flavor',
        help="""
Flavor for the CPU-incompatible scenario, for example one that asks for
``hw:cpu_model`` or CPU features only the source host has. Defaults to
``[compute] flavor_ref``.
"""),
    cfg.StrOpt(
        'cpu_refusal_code',
        default='xloud.cpu.incompatible',
        help="""
The stable code the refusal of a CPU-incompatible destination must carry.
Change it only to run the scenario against another driver.
"""),
    cfg.StrOpt(
        'disk_full_dest_host',
        help="""
A compute host whose instances path has less free space than a block
migration of a server with ``disk_full_flavor`` needs, while placement still
counts enough ``DISK_GB`` there (otherwise the scheduler, not the safeguard,
refuses). When set, the negative scenario checks that a block live migration
there is refused before any disk is copied, with the ``disk_refusal_code`` in
the instance action events, and that the server stays ACTIVE on its source.
Unset: the scenario is skipped.

Related options:

* ``disk_full_source_host``, ``disk_full_flavor``, ``disk_refusal_code``
* ``[compute-feature-enabled] block_migration_for_live_migration``
"""),
    cfg.StrOpt(
        'disk_full_source_host',
        help="""
Where the disk scenario boots its server. Defaults to ``[compute]
migration_source_host``, then to any enabled compute host other than
``disk_full_dest_host``.
"""),
    cfg.StrOpt(
        'disk_full_flavor',
        help="""
Flavor whose disks will not fit on ``disk_full_dest_host``. Defaults to
``[compute] flavor_ref``.
"""),
    cfg.StrOpt(
        'concurrent_block_dest_host',
        help="""
A compute host with local instance storage whose free space holds one block
migration of a server with ``concurrent_block_flavor`` (its disks plus the
Xloud ``[xloud] disk_headroom_mb``) but not two at once. When set, the
scenario starts a block live migration of one server there and, while it
copies, one of a second server: the second must be refused in the
pre-check, naming the migration in flight, cause and fix, and stay ACTIVE on
its source; the first completes, and once it has, the second moves there
too (the first one's reservation was released). Unset: the scenario is
skipped.

Related options:

* ``concurrent_block_source_host``, ``concurrent_block_flavor``,
  ``disk_refusal_code``
* ``[compute-feature-enabled] block_migration_for_live_migration``
"""),
    cfg.StrOpt(
        'concurrent_block_source_host',
        help="""
Where the concurrent block migration scenario boots its two servers: a host
with thin (not preallocated) disks. Defaults to ``[compute]
migration_source_host``, then to any enabled compute host other than
``concurrent_block_dest_host``.
"""),
    cfg.StrOpt(
        'concurrent_block_flavor',
        help="""
Flavor of the concurrent block migration scenario's two servers. Defaults
to ``[compute] flavor_ref``.
"""),
    cfg.StrOpt(
        'disk_refusal_code',
        default='xloud.disk.insufficient',
        help="""
The stable code the refusal of a destination without disk room must carry.
Change it only to run the scenario against another driver.
"""),
]
