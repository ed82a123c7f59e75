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

"""The guides' ``openstack`` and ``xloud-drain-host`` blocks, run for real.

One embedded cloud (xloud_migration_cloud: real keystone, nova 34's API,
conductor and scheduler over HTTP, four computes with XloudLibvirtDriver
on nova's fake libvirt) serves every test here. Each block is read from
its .rst and run by bash with what an operator has: admin credentials in
``OS_*`` variables and python-openstackclient. The pages' names are mapped
onto the cloud's: the hosts ``compute1``..``compute4`` are ``cmp1``..
``cmp4`` (cmp1 and cmp2 share storage, cmp3 has little free disk, cmp4 an
older CPU), and a server the page names (``web-1``) is booted under that
name on ``compute1`` before its block runs. ``<migration id>`` and
``<request id>`` are filled in from the cloud, as a reader copies them from
the previous command's output.
"""

import configparser
import json
import os
import re
import shutil
import subprocess
import tempfile

from keystoneauth1 import adapter
import testtools.content
from xloud_harness import keystone
from xloud_harness import poll
from xloud_harness import process
from xloud_harness import testing
from xloud_migration_cloud import cloud as cloud_mod
from xloud_migration_cloud import nova_cloud
from xloud_migration_cloud import tempest_workspace

from xloud_nova_ext.tests.admin_guide import shell_blocks

HOSTS = {'compute%d' % n: 'cmp%d' % n for n in (1, 2, 3, 4)}
MICROVERSION = '2.74'
#: The cli page's first block: the microversion every later one runs with.
CLI_PRELUDE = ('admin/cli.rst', 'export OS_COMPUTE_API_VERSION=')


def on_cloud(text):
    return re.sub(r'\bcompute[1-4]\b', lambda m: HOSTS[m.group()], text)


class CloudBlocksTest(testing.TestCase):

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.cloud = cloud_mod.EmbeddedCloud(progress=lambda message: None)
        cls.cloud.__enter__()
        cls.compute = adapter.Adapter(
            cls.cloud.keystone.admin_session(), service_type='compute',
            endpoint_override=cls.cloud.urls['compute'],
            default_microversion=MICROVERSION)

    @classmethod
    def tearDownClass(cls):
        cls.cloud.stop()
        super().tearDownClass()

    # The cloud, through nova's API.

    def env(self):
        env = {k: v for k, v in os.environ.items()
               if not k.startswith('OS_')}
        env.update(OS_AUTH_URL=self.cloud.keystone.url, OS_USERNAME='admin',
                   OS_PASSWORD=keystone.ADMIN_PASSWORD,
                   OS_PROJECT_NAME='admin', OS_USER_DOMAIN_NAME='Default',
                   OS_PROJECT_DOMAIN_NAME='Default',
                   OS_IDENTITY_API_VERSION='3')
        return env

    def server(self, server_id):
        return self.compute.get('/servers/%s' % server_id).json()['server']

    def servers_on(self, host):
        return self.compute.get(
            '/servers/detail?all_tenants=1&host=%s' % host).json()['servers']

    def wait_for(self, server_id, statuses, timeout=120):
        def not_there(server):
            return AssertionError('server %s is %s (task %s), expected %s' % (
                server['name'], server['status'],
                server['OS-EXT-STS:task_state'], statuses))

        def settled():
            server = self.server(server_id)
            if server['status'] == 'ERROR':
                raise not_there(server)
            if (server['status'] in statuses and
                    not server['OS-EXT-STS:task_state']):
                return server
        try:
            return poll.wait_until(settled, timeout, interval=0.5)
        except poll.WaitTimeout:
            raise not_there(self.server(server_id))

    def delete(self, server_id):
        self.compute.delete('/servers/%s' % server_id, raise_exc=False)
        try:
            poll.wait_until(lambda: self.compute.get(
                '/servers/%s' % server_id, raise_exc=False).status_code ==
                404, 60, interval=0.5, what='server %s gone' % server_id)
        except poll.WaitTimeout:
            pass  # a clean-up: the cloud goes at the end of the run

    def boot(self, name, host='cmp1', flavor='1'):
        server = self.compute.post('/servers', json={'server': {
            'name': name, 'imageRef': tempest_workspace.IMAGE_REF,
            'flavorRef': flavor, 'networks': 'none', 'host': host}}).json()
        server_id = server['server']['id']
        self.addCleanup(self.delete, server_id)
        shown = self.wait_for(server_id, ('ACTIVE',))
        self.assertEqual(host, shown['OS-EXT-SRV-ATTR:host'])
        return shown

    def live_migrate(self, server, host=None):
        self.compute.post('/servers/%s/action' % server['id'], json={
            'os-migrateLive': {'host': host, 'block_migration': 'auto'}})
        return self.wait_for(server['id'], ('ACTIVE',))

    def migrations(self, server):
        return self.compute.get('/os-migrations?instance_uuid=%s'
                                % server['id']).json()['migrations']

    def wait_for_migration(self, server, statuses, timeout=60):
        """The server's newest migration once in one of ``statuses``."""
        def newest():
            migrations = self.migrations(server)
            if migrations and migrations[0]['status'] in statuses:
                return migrations[0]
        try:
            return poll.wait_until(newest, timeout, interval=0.5)
        except poll.WaitTimeout:
            raise AssertionError('migration of %s is %s, expected %s' % (
                server['name'], self.migrations(server)[:1], statuses))

    def newest_action(self, server):
        return self.compute.get(
            '/servers/%s/os-instance-actions' % server['id']).json()[
                'instanceActions'][0]

    def service(self, host):
        found = self.compute.get(
            '/os-services?binary=nova-compute&host=%s' % host).json()
        return found['services'][0]

    def set_service(self, host, enabled, reason=None):
        body = {'status': 'enabled' if enabled else 'disabled'}
        if reason:
            body['disabled_reason'] = reason
        self.compute.put('/os-services/%s' % self.service(host)['id'],
                         json=body, microversion='2.53')

    # The blocks.

    def run_block(self, page, start, **fill):
        """Run one block as the page shows it; returns bash's result.

        ``fill`` gives the values of the page's ``<placeholders>``
        (``migration_id`` for ``<migration id>``).
        """
        block = shell_blocks.block(page, start)
        script = on_cloud('\n'.join(block.commands))
        for name, value in fill.items():
            script = script.replace('<%s>' % name.replace('_', ' '),
                                    str(value))
        self.assertNotIn('<', re.sub(r"'[^']*'", '', script), script)
        if page == CLI_PRELUDE[0]:
            script = '\n'.join(
                shell_blocks.block(*CLI_PRELUDE).commands + [script])
        return shell_blocks.bash(script, self.cloud.workdir, env=self.env())

    def ok_command(self, command, **fill):
        """Run one command of the cli page's blocks; returns its output."""
        for name, value in fill.items():
            command = command.replace('<%s>' % name.replace('_', ' '),
                                      str(value))
        proc = shell_blocks.bash(
            '\n'.join(shell_blocks.block(*CLI_PRELUDE).commands +
                      [on_cloud(command)]),
            self.cloud.workdir, env=self.env())
        self.assertEqual(0, proc.returncode, proc.stdout + proc.stderr)
        return proc.stdout

    def ok(self, page, start, **fill):
        proc = self.run_block(page, start, **fill)
        self.assertEqual(0, proc.returncode, proc.stdout + proc.stderr)
        return proc.stdout

    # maintenance.rst

    def test_maintenance_page_drains_a_host(self):
        page = 'admin/maintenance.rst'
        for host in ('cmp1', 'cmp2', 'cmp4'):
            self.addCleanup(self.set_service, host, True)
        # Only cmp3 (2 GiB free) may receive: web-1 and web-2 fit there,
        # db-1 (5 GiB written) does not.
        for host in ('cmp2', 'cmp4'):
            self.set_service(host, False, 'doc test: only cmp3 receives')
        servers = [self.boot('web-1'), self.boot('web-2'),
                   self.boot('db-1', flavor='3')]

        self.assertEqual('', self.ok(page, 'openstack compute service set '
                                     '--disable').strip())
        service = self.service('cmp1')
        self.assertEqual('disabled', service['status'])
        self.assertIn('ticket 4711', service['disabled_reason'])

        listed = self.ok(page, 'openstack server list --all-projects '
                         '--host compute1 \\')
        for server in servers:
            self.assertRegex(listed, r'\| %s +\| %s +\| ACTIVE +\|' % (
                server['id'], server['name']))

        proc = self.run_block(page, 'xloud-drain-host compute1')
        out = proc.stdout + proc.stderr
        self.assertEqual(1, proc.returncode, out)
        self.assertIn('3 servers on cmp1', out)
        self.assertRegex(out, r'web-1 \(\S+\): moved: to cmp3 ')
        self.assertRegex(out, r'web-2 \(\S+\): moved: to cmp3 ')
        # The refused server: not moved, with its refusal's code and cause
        # (the drain prints the event's details: its first 255 characters).
        self.assertRegex(
            out, r'db-1 \(\S+\): not moved: live-migration \d+ ended error, '
            r'server ACTIVE on cmp1: \[xloud\.disk\.insufficient\] The '
            r'disks of this block migration do not fit on host cmp3: '
            r'5\.2 GiB needed, 2\.0 GiB available\.')
        self.assertIn('Summary: 2 moved, 1 not moved; cmp1 still holds 1: '
                      'db-1 (ACTIVE)', out)
        self.assertEqual(['db-1'], [s['name']
                                    for s in self.servers_on('cmp1')])

        # The page's "deal with what is left": here, room elsewhere.
        self.set_service('cmp2', True)
        self.set_service('cmp4', True)
        proc = self.run_block(page, 'xloud-drain-host compute1')
        out = proc.stdout + proc.stderr
        self.assertEqual(0, proc.returncode, out)
        self.assertIn('Summary: 1 moved, 0 not moved; cmp1 holds no server',
                      out)

        self.assertEqual('', self.ok(
            page, 'openstack server list --all-projects --host compute1'
        ).strip())

        self.assertEqual('', self.ok(page, 'openstack compute service set '
                                     '--enable').strip())
        self.assertEqual('enabled', self.service('cmp1')['status'])

    # cli.rst

    def test_cli_page_live_migrations(self):
        page = 'admin/cli.rst'
        web = self.boot('web-1')
        out = self.ok(page, 'openstack server migrate --live-migration '
                      '--wait')
        self.assertIn('Complete', out)
        moved = self.wait_for(web['id'], ('ACTIVE',))
        self.assertNotEqual('cmp1', moved['OS-EXT-SRV-ATTR:host'])
        self.assertEqual('completed', self.migrations(web)[0]['status'])

        self.delete(web['id'])
        web = self.boot('web-1')
        out = self.ok(page, 'openstack server migrate --live-migration '
                      '--host compute2')
        self.assertIn('Complete', out)
        self.assertEqual('cmp2', self.server(web['id'])[
            'OS-EXT-SRV-ATTR:host'])
        migration = self.migrations(web)[0]

        out = self.ok(page, 'openstack server migration list --server web-1')
        self.assertRegex(out, r'\| +%d +\| %s +\| cmp1 +\| cmp2 +\| cmp1 +'
                         r'\| cmp2 +\| [^|]+\| completed +\|' % (
                             migration['id'], migration['uuid']))

    def test_cli_page_migration_in_progress(self):
        # The block's commands, on a live migration that runs until it is
        # forced or aborted: web-1's flavor makes the embedded cloud's
        # guest dirty its memory faster than it is copied (nova_cloud).
        page = 'admin/cli.rst'
        start = 'openstack server migration show web-1'
        show, force, abort = shell_blocks.block(page, start).commands
        flavor = self.compute.post('/flavors', json={'flavor': {
            'name': nova_cloud.DIRTY_MEMORY_FLAVOR, 'ram': 512, 'vcpus': 1,
            'disk': 1}}).json()['flavor']
        self.addCleanup(self.compute.delete, '/flavors/%s' % flavor['id'])
        for then, end, host in ((force, 'completed', 'cmp2'),
                                (abort, 'cancelled', 'cmp1')):
            web = self.boot('web-1', flavor=flavor['id'])
            self.compute.post('/servers/%s/action' % web['id'], json={
                'os-migrateLive': {'host': 'cmp2', 'block_migration': 'auto'}})
            migration = self.wait_for_migration(web, ('running',))
            out = self.ok_command(show, migration_uuid=migration['uuid'])
            self.assertRegex(out, r'\| Status +\| running +\|')
            self.assertRegex(out, r'\| Server UUID +\| %s +\|' % web['id'])
            self.assertEqual('running', self.migrations(web)[0]['status'])
            if then is force:
                self._while_a_migration_runs(show, migration)

            self.ok_command(then, migration_uuid=migration['uuid'])
            self.assertEqual(end, self.wait_for_migration(
                web, (end,))['status'])
            shown = self.wait_for(web['id'], ('ACTIVE',))
            self.assertEqual(host, shown['OS-EXT-SRV-ATTR:host'])
            self.delete(web['id'])

    def _while_a_migration_runs(self, show, migration):
        # What the cli page says of the client: show by ID fails. When a
        # client fixes it, this fails: then say so on the page.
        proc = shell_blocks.bash(
            on_cloud(show.replace('<migration uuid>', str(migration['id']))),
            self.cloud.workdir,
            env=dict(self.env(), OS_COMPUTE_API_VERSION='2.latest'))
        self.assertEqual(1, proc.returncode, proc.stdout)
        self.assertIn('No ServerMigration found', proc.stderr)
        # The prerequisites page's look at what is on its way to a host.
        out = self.ok('admin/prerequisites.rst', 'openstack server '
                      'migration list --host compute2 --status running')
        self.assertRegex(out, r'\| +%d +\| %s +\| cmp1 +\| cmp2 +\|' % (
            migration['id'], migration['uuid']))

    def test_cli_page_cold_migrations(self):
        page = 'admin/cli.rst'
        # The block's two commands are alternatives: each runs on its own
        # web-1, booted on compute1, and leaves it in VERIFY_RESIZE; the
        # first is then confirmed, the second reverted.
        commands = shell_blocks.block(
            page, 'openstack server migrate --wait web-1').commands
        for command, then in zip(commands, ('confirm', 'revert')):
            web = self.boot('web-1')
            proc = shell_blocks.bash(
                '\n'.join(shell_blocks.block(*CLI_PRELUDE).commands +
                          [on_cloud(command)]),
                self.cloud.workdir, env=self.env())
            self.assertEqual(0, proc.returncode, proc.stdout + proc.stderr)
            self.assertIn('Complete', proc.stdout)
            shown = self.wait_for(web['id'], ('VERIFY_RESIZE',))
            dest = shown['OS-EXT-SRV-ATTR:host']
            self.assertNotEqual('cmp1', dest)
            if '--host compute2' in command:
                self.assertEqual('cmp2', dest)

            self.ok(page, 'openstack server migration %s web-1' % then)
            shown = self.wait_for(web['id'], ('ACTIVE',))
            self.assertEqual(dest if then == 'confirm' else 'cmp1',
                             shown['OS-EXT-SRV-ATTR:host'])
            self.assertEqual(then + 'ed',
                             self.migrations(web)[0]['status'])
            self.delete(web['id'])

    # verification.rst, troubleshooting.rst

    def test_verification_page_after_a_live_migration(self):
        page = 'admin/verification.rst'
        web = self.live_migrate(self.boot('web-1'), 'cmp2')
        out = self.ok(page, 'openstack server show web-1 \\')
        self.assertRegex(out, r'\| status +\| ACTIVE +\|')
        self.assertRegex(out, r'\| OS-EXT-SRV-ATTR:host +\| cmp2 +\|')
        self.assertRegex(out, r'\| OS-EXT-STS:power_state +\| Running +\|')

        out = self.ok(page, 'openstack server migration list --server web-1')
        migration = self.migrations(web)[0]
        self.assertRegex(out, r'\| +%d +\| cmp1 +\| cmp2 +\| completed +'
                         r'\| live-migration +\|' % migration['id'])

        request_id = self.newest_action(web)['request_id']
        out = self.ok(page, 'openstack server event list web-1',
                      request_id=request_id)
        self.assertIn(request_id, out)
        self.assertIn('live-migration', out)
        self.assertIn('compute_pre_live_migration', out)

    def test_troubleshooting_page_names_the_refusal(self):
        page = 'admin/troubleshooting.rst'
        web = self.boot('web-1')
        # cmp4's older CPU cannot run web-1's: the scheduler's only choice.
        self.live_migrate(web, 'cmp4')
        self.assertEqual('cmp1', self.server(web['id'])[
            'OS-EXT-SRV-ATTR:host'])
        action = self.newest_action(web)
        self.assertEqual('live-migration', action['action'])
        out = self.ok(page, 'openstack server event list web-1',
                      request_id=action['request_id'])
        self.assertIn('compute_check_can_live_migrate_destination', out)
        self.assertIn('[xloud.cpu.incompatible]', out)
        self.assertIn('No valid host was found', out)

    # prerequisites.rst, operations.rst

    def test_prerequisites_hosts_up_and_enabled(self):
        out = self.ok('admin/prerequisites.rst',
                      'openstack compute service list --service '
                      'nova-compute')
        for host in sorted(HOSTS.values()):
            self.assertRegex(out, r'\| nova-compute +\| %s +\| nova +\| '
                             r'enabled +\| up +\|' % host)
        out = self.ok('admin/prerequisites.rst',
                      'openstack hypervisor show compute1')
        self.assertRegex(out, r'\| hypervisor_type +\| QEMU +\|')
        self.assertRegex(out, r'\| hypervisor_version +\| \d+ +\|')

    def test_operations_page(self):
        page = 'admin/operations.rst'
        out = self.ok(page, 'openstack --os-compute-api-version 2.87 '
                      'hypervisor show compute1')
        self.assertEqual('1', out.strip())
        self.assertEqual('', self.ok(
            page, 'openstack server migration list --host compute1 '
            '--status running').strip())

    def test_cpu_baseline_tool_page_hypervisors_file(self):
        self.ok('admin/cpu-baseline-tool.rst',
                'openstack --os-compute-api-version 2.87 hypervisor list')
        with open(os.path.join(self.cloud.workdir, 'hypervisors.json')) as f:
            hypervisors = json.load(f)
        # One JSON list (what the tool reads), every hypervisor's cpu_info.
        self.assertEqual(sorted(HOSTS.values()),
                         sorted(h['service_host'] for h in hypervisors))
        for hypervisor in hypervisors:
            self.assertIn('model', hypervisor['cpu_info'])

    # user/tempest.rst: the QA engineer's journey, against this cloud.

    def write_qa_conf(self, path):
        """The QA guide's tempest.conf (its third step) for this cloud.

        What the guide's block sets (credentials, keystone, image, flavor)
        comes from the block only, its placeholders filled in as a reader
        does; the rest ("the options of the next section", which depend on
        the cloud) is what the embedded cloud writes for itself. Added to
        what ``tempest init`` wrote (log and lock directories).
        """
        [body] = [body for _, lang, _, body in shell_blocks.code_blocks(
            'user/tempest.rst') if lang == 'ini' and '[auth]' in body]
        text = '\n'.join(body)
        for placeholder, value in (
                ('<password>', keystone.ADMIN_PASSWORD),
                ('<image uuid>', tempest_workspace.IMAGE_REF),
                ('<flavor id>', '1')):
            text = text.replace(placeholder, value)
        self.assertNotIn('<', text)
        guide = configparser.ConfigParser(interpolation=None)
        guide.read_string(text)
        # The page's example keystone, as a reader puts in theirs.
        guide.set('identity', 'uri_v3', self.cloud.keystone.url)
        cloud = tempest_workspace.cloud_sections(
            self.cloud.keystone.url, len(cloud_mod.COMPUTES),
            extra=cloud_mod.SCENARIO_OPTIONS)
        conf = configparser.ConfigParser(interpolation=None)
        conf.read(path)
        conf.read_dict({section: {key: str(value)
                                  for key, value in options.items()
                                  if not guide.has_option(section, key)}
                        for section, options in cloud.items()})
        conf.read_dict(guide)
        with open(path, 'w') as f:
            conf.write(f)

    def test_qa_guide_runs_the_scenarios(self):
        # The guide's steps in a new home, with the tempest and plugin that
        # tox installed (test_qa_virtualenv runs the guide's virtualenv):
        # its workspace, its tempest.conf, then its run of the scenarios.
        page = 'user/tempest.rst'
        home = tempfile.mkdtemp(prefix='xloud-doc-qa-run-')
        self.addCleanup(shutil.rmtree, home, ignore_errors=True)
        env = dict(os.environ, HOME=home, TMPDIR=home)
        proc = shell_blocks.bash('\n'.join(shell_blocks.block(
            page, 'tempest init ~/xloud-qa').commands), home, env=env)
        self.assertEqual(0, proc.returncode, proc.stdout + proc.stderr)
        workspace = os.path.join(home, 'xloud-qa')
        self.write_qa_conf(os.path.join(workspace, 'etc', 'tempest.conf'))

        run = shell_blocks.block(
            page, 'tempest run --regex xloud_tempest_plugin').commands
        proc = subprocess.Popen(
            ['bash', '-euo', 'pipefail', '-c', '\n'.join(run)],
            cwd=workspace, env=env, stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT, text=True, start_new_session=True)
        # tempest's workers too, whatever happens.
        self.addCleanup(process.stop_session, proc)
        out = proc.communicate()[0]
        self.addDetail('tempest run', testtools.content.text_content(out))
        # What the guide says of a run: exit 0, one line per test, "ok" or
        # SKIPPED with its reason, and a summary; none failed.
        self.assertEqual(0, proc.returncode, out)
        self.assertIn(' - Failed: 0\n', out)
        results = re.findall(
            r'^\{\d+\} (?:setUpClass \()?(xloud_tempest_plugin\.\S+?)'
            r'(?:\)|\[[^]]*\])? (?:\[[\d.]+s\] )?\.\.\. '
            r'(ok|SKIPPED: .+|FAILED)$', out, re.M)
        self.assertTrue(results, out)
        passed = [test for test, result in results if result == 'ok']
        self.assertEqual(len(results), len(passed) + len(
            [r for _, r in results if re.match(r'SKIPPED: \S', r)]), out)
        self.assertIn(' - Passed: %d\n' % len(passed), out)
        self.assertGreater(len(passed), 0, out)
