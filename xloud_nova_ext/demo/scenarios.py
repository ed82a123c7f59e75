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


"""Migration scenarios on an embedded multinode nova, each verified.

The cloud is nova 34's own in-process services (API, conductor, scheduler,
placement, three computes running XloudLibvirtDriver) as the functional tier
builds them; libvirt, glance and neutron are nova's fakes. A scenario moves a
server and records every post-migration check instead of stopping at the
first failure, so the report shows all of them.
"""

import logging
import time

from xloud_nova_ext.demo import report
from xloud_nova_ext.tests.functional import base


class EmbeddedCloud(base.XloudMigrationTestBase):
    """Three computes; driven without a test runner by :func:`run`."""

    COMPUTES = ('cmp1', 'cmp2', 'cmp3')

    def runTest(self):
        """Unused: the scenarios are called one by one by :func:`run`."""

    # Verification shared by every scenario.

    def verify(self, result, server, migration, expect_status, dest=None,
               not_on=None):
        result.status = migration['status'] if migration else '-'
        result.dest = migration['dest_compute'] if migration else '-'
        result.check('migration record of this server is %s' % expect_status,
                     migration and migration['status'] == expect_status,
                     'got %s' % result.status)
        server = self._show_server(server)
        host = server['OS-EXT-SRV-ATTR:host']
        result.check('server ACTIVE', server['status'] == 'ACTIVE',
                     server['status'])
        if dest:
            result.check('server on %s' % dest, host == dest, host)
        if not_on:
            result.check('server no longer on %s' % not_on, host != not_on,
                         host)
        result.check('guest running on %s hypervisor only' % host,
                     server['id'] in self.domains_on(host) and not any(
                         server['id'] in self.domains_on(h)
                         for h in self.COMPUTES if h != host))

    def _live(self, name, host=None, block_migration='auto', local=False):
        result = report.ScenarioResult(name, source='cmp1')
        server = self.boot('cmp1')
        migration = self.live_migrate(server, host=host,
                                      block_migration=block_migration)
        result.duration_s = migration['duration_s']
        self.verify(result, server, migration, 'completed', dest=host,
                    not_on='cmp1')
        self._delete_server(server)
        return result

    def scenario_live_shared_storage_specified_host(self):
        return self._live('live, shared storage, --host cmp2', host='cmp2')

    def scenario_live_shared_storage_scheduler_picks(self):
        return self._live('live, shared storage, auto host')

    def scenario_block_migration(self):
        with base.LocalStorage():
            return self._live('live, block migration', host='cmp3',
                              block_migration=True)

    def _cold(self, name, finish):
        result = report.ScenarioResult(name, source='cmp1')
        server = self.boot('cmp1')
        started = time.monotonic()
        server = self._migrate_server(server, host='cmp2')
        if finish == 'confirm':
            server = self._confirm_resize(server)
            expected, dest = 'confirmed', 'cmp2'
        else:
            server = self._revert_resize(server)
            expected, dest = 'reverted', 'cmp1'
        migration = self.wait_for_migration(server, 'migration',
                                            (expected, 'error'))
        result.duration_s = time.monotonic() - started
        self.verify(result, server, migration, expected, dest=dest)
        result.dest = 'cmp2'
        self._delete_server(server)
        return result

    def scenario_cold_migration_confirmed(self):
        return self._cold('cold migration, confirmed', 'confirm')

    def scenario_cold_migration_reverted(self):
        return self._cold('cold migration, reverted', 'revert')


def scenario_names():
    """Scenario methods in the order they are defined (live, block, cold)."""
    return [n for n in vars(EmbeddedCloud) if n.startswith('scenario_')]


def run(selected=None, progress=None):
    """Start the cloud, run the scenarios, stop it; return the results."""
    cloud = EmbeddedCloud()
    cloud.setUp()
    results = []
    try:
        for name in scenario_names():
            if selected and not any(s in name for s in selected):
                continue
            if progress:
                progress(name)
            try:
                results.append(getattr(cloud, name)())
            except Exception as e:  # report it, go on with the others
                results.append(report.ScenarioResult(
                    name[len('scenario_'):], error='%s: %s' % (
                        type(e).__name__, e)))
    finally:
        # nova's services log their shutdown at INFO once the test logging
        # fixture is gone; the report is what matters here.
        logging.disable(logging.INFO)
        cloud.doCleanups()
        logging.disable(logging.NOTSET)
    return results
