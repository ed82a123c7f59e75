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

"""What an operator sees when a safeguard refuses, as the guide says it.

The troubleshooting page (doc/source/admin/troubleshooting.rst) states that
a refused live migration ends as nova's "No valid host was found" once no
candidate is left, scheduler-picked or requested (a forced host fails with
the refusal itself; below microversion 2.34, as Horizon sends it, the
request's HTTP 400 carries that text), with the refusal in the
destination's pre-check event;
and that a refused cold migration fails at once, without trying the
scheduler's next host. nova 34's conductor and compute manager decide
both; these tests hold the guide to them.
"""

import re
import shlex

from nova.tests.functional.api import client

from xloud_nova_ext.tests.functional import test_cpu
from xloud_nova_ext.tests.functional import test_disk

NO_VALID_HOST = 'No valid host was found'


class LiveRefusalEventsTest(test_cpu.CPUTestBase):
    """The only other host cannot run the guest's CPU."""

    CPUS = test_cpu.NewerToOlderTest.CPUS

    def events_by_name(self, server):
        return {e['event']: e for e in self.action_events(
            server, 'live-migration')}

    def assert_no_valid_host_with_cause(self, migration, server):
        self.assert_refused(server, 'src', migration, test_cpu.CODE)
        events = self.events_by_name(server)
        conductor = events['conductor_live_migrate_instance']
        self.assertEqual('Error', conductor['result'], events)
        self.assertIn(NO_VALID_HOST, conductor['details'], events)
        check = events['compute_check_can_live_migrate_destination']
        self.assertEqual('Error', check['result'], events)
        self.assertEqual('dest', check['host'], events)
        self.assertIn('[%s]' % test_cpu.CODE, check['details'], events)

    def test_requested_host_refused_ends_as_no_valid_host(self):
        server = self.boot('src')
        migration = self.live_migrate(server, host='dest')
        self.assert_no_valid_host_with_cause(migration, server)

    def test_scheduler_picked_host_refused_ends_as_no_valid_host(self):
        server = self.boot('src')
        migration = self.live_migrate(server)
        self.assert_no_valid_host_with_cause(migration, server)

    def live_migrate_2_30(self, server, **body):
        """os-migrateLive as Horizon sends it: microversion 2.30.

        Below 2.34 the API waits for the pre-checks: a refusal is the
        request's HTTP 400.
        """
        body.setdefault('block_migration', False)
        latest, self.api.microversion = self.api.microversion, '2.30'
        try:
            err = self.assertRaises(
                client.OpenStackApiException, self.api.post_server_action,
                server['id'], {'os-migrateLive': body})
        finally:
            # The events are read at the usual version (details: 2.84).
            self.api.microversion = latest
        self.assertEqual(400, err.response.status_code)
        migration = self.wait_for_migration(
            server, 'live-migration', ('completed', 'error', 'failed'))
        self.assert_refused(server, 'src', migration, test_cpu.CODE)
        return str(err)

    def test_forced_host_refused_ends_with_the_refusal(self):
        # Horizon's "Disk Over Commit" box is sent as force: no scheduler,
        # no retry, the refusal is the request's error.
        server = self.boot('src')
        error = self.live_migrate_2_30(server, host='dest', force=True)
        self.assertIn('[%s] Host dest cannot run guest CPU' % test_cpu.CODE,
                      error)
        self.assertNotIn(NO_VALID_HOST, error)

    def test_requested_host_refused_at_2_30_is_no_valid_host(self):
        server = self.boot('src')
        error = self.live_migrate_2_30(server, host='dest')
        self.assertIn(NO_VALID_HOST, error)


class ColdRefusalFailsAtOnceTest(test_disk.DiskPreflightTestBase):
    """cmp2 is the scheduler's first choice and full; cmp3 has room."""

    COMPUTES = ('cmp1', 'cmp2', 'cmp3')
    IPS = {'cmp1': '192.0.2.10', 'cmp2': '192.0.2.20', 'cmp3': '192.0.2.30'}

    # cmp2 has the most free RAM and CPUs: the scheduler tries it first.
    LARGE_HOSTS = ('cmp2',)

    def setUp(self):
        super().setUp()
        self.probes = []
        for hostname, ip in self.IPS.items():
            self.driver(hostname).get_host_ip_addr = lambda ip=ip: ip
            self.guard(hostname).run_remote = self.remote

    def remote(self, ip, script):
        """The destination's answer to the probe, from its FakeFS."""
        self.probes.append(ip)
        fs = self.fs[{v: k for k, v in self.IPS.items()}[ip]]
        lines = ['%d 1' % fs.free_bytes]
        for quoted in re.findall(r"\[ -e ('[^']*'|\S+) \]", script):
            lines.append('1' if fs.exists(shlex.split(quoted)[0]) else '0')
        return '\n'.join(lines) + '\n'

    def test_refused_cold_migration_does_not_try_the_next_host(self):
        server = self.boot_with_disks('cmp1')
        self.fs['cmp2'].free_bytes = test_disk.FULL_NEED - 1
        self.api.post_server_action(server['id'], {'migrate': None})
        migration = self.wait_for_migration(
            server, 'migration', ('finished', 'error', 'failed'))
        self.assertEqual(('error', 'cmp2'),
                         (migration['status'], migration['dest_compute']))
        event = self._wait_for_instance_action_event(
            server, 'migrate', 'compute_resize_instance', 'error')
        self.assertIn('[%s]' % test_disk.CODE, event['details'])
        server = self._wait_for_state_change(server, 'ACTIVE')
        self.assertEqual('cmp1', server['OS-EXT-SRV-ATTR:host'])
        # cmp3 had room and was never asked; no second attempt was made.
        self.assertEqual([self.IPS['cmp2']], self.probes)
        self.assertEqual(1, len(self.migrations_of(server, 'migration')))
