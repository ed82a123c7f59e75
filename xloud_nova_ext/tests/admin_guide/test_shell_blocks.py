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

"""Every shell block of the operator's and QA guides runs, or says why not.

The blocks are read from the .rst (:mod:`shell_blocks`), never copied here.
A block that a tier can run has a test there (this module, test_cloud_blocks,
or another tier's, :data:`shell_blocks.RUN`), keyed by its page and the start
of its first command; every other block carries, in its caption, the reason
it is not run. A block with neither fails, as does a test whose block is
gone.
"""

import configparser
import importlib
import os
import re
import shlex
import shutil
import subprocess
import sys
import tempfile

from xloud_harness import testing

from xloud_nova_ext.tests.admin_guide import refusals
from xloud_nova_ext.tests.admin_guide import shell_blocks

block = shell_blocks.block
bash = shell_blocks.bash


class ShellBlocksTest(testing.TestCase):

    def test_every_block_is_run_or_says_why_not(self):
        blocks = list(shell_blocks.all_blocks())
        self.assertGreater(len(blocks), 20)
        unaccounted = ['%s:%d %s' % (b.page, b.line, b.commands[:1])
                       for b in blocks
                       if shell_blocks.key_of(b) is None and
                       not shell_blocks.not_run_reason(b)]
        self.assertEqual([], unaccounted,
                         'shell blocks neither run by a doc test nor '
                         'captioned "%s <reason>"' % shell_blocks.NOT_RUN)
        keys = {shell_blocks.key_of(b) for b in blocks}
        run = set(shell_blocks.RUN) | set(shell_blocks.TIER_RUN)
        self.assertEqual([], sorted(run - keys),
                         'doc tests whose block is gone')

    def test_tiers_run_their_blocks_from_the_page(self):
        # The tier's command in tox.ini is the block's, read from the page
        # by shell_blocks.main, not a copy of it.
        ini = configparser.ConfigParser(interpolation=None)
        ini.read(os.path.join(refusals.TOP, 'tox.ini'))

        def resolved(text):
            return re.sub(r'\{\[([^\]]+)\](\w+)\}',
                          lambda m: resolved(ini.get(*m.groups())), text)

        def commands(tier):
            return [shlex.split(line) for line in resolved(
                ini.get('testenv:' + tier, 'commands')).splitlines()
                if line.strip()]
        for (page, start), tiers in sorted(shell_blocks.TIER_RUN.items()):
            for tier in tiers:
                self.assertIn(['python', '-m', shell_blocks.__name__,
                               page, start],
                              [c[:5] for c in commands(tier)], tier)
        # The real-cloud tier runs its blocks' tests on its cloud, after
        # the scenarios: the module of each is in its --then command.
        real = [shell_blocks.test_of(key)[1] for key in shell_blocks.RUN
                if shell_blocks.test_of(key)[0] == 'real-cloud']
        self.assertEqual(2, len(real), real)
        then = [c[c.index('--then') + 1] for c in commands('real-cloud')
                if '--then' in c]
        self.assertEqual(1, len(then), then)
        for name in real:
            self.assertIn(name.rsplit('.', 2)[0], shlex.split(then[0]))

    def test_shown_output_is_checked_for_its_shapes(self):
        b = block('user/embedded-cloud.rst', 'xloud-migration-demo')
        printed = [
            'starting keystone (sqlite, fernet) ...',
            'writing the Tempest workspace ...',
            'cloud ready in 23 s',
            'skip     0.0s test_vtpm_live_migration.VTPMLiveMigrationTest',
            'pass    11.0s test_cold_migration.ColdMigrationTest.'
            'test_cold_migration_confirmed',
            '     seconds  scenario',
            '9 passed, 0 failed, 1 skipped',
            'JSON report: /tmp/ci/xloud-migration-report.json',
            'HTML report: /tmp/ci/xloud-migration-report.html']
        self.assertIsNone(shell_blocks.drift(b.output, printed))
        # Exactly the lines of the shapes shown are needed, in that order.
        needed = [line for line in printed if shell_blocks.drift(
            b.output, [other for other in printed if other != line])]
        self.assertEqual(printed[1:3] + printed[4:5] + printed[6:], needed)
        self.assertEqual('10 passed, 0 failed, 0 skipped', shell_blocks.drift(
            b.output, printed[:6] + ['9 passed, 0 failed'] + printed[7:]))
        # The counts before the scenarios: not in the order shown.
        self.assertEqual('10 passed, 0 failed, 0 skipped', shell_blocks.drift(
            b.output, printed[:4] + printed[6:7] + printed[4:6] +
            printed[7:]))

    def test_each_block_names_a_test_that_exists(self):
        # Each tier's tests are importable here (they skip, or fail in CI,
        # at run time, not at import).
        missing = []
        for key in sorted(shell_blocks.RUN):
            tier, name = shell_blocks.test_of(key)
            module, cls, method = name.rsplit('.', 2)
            try:
                getattr(getattr(importlib.import_module(module), cls),
                        method)
            except (ImportError, AttributeError) as e:
                missing.append('%s %s: %s' % (key, name, e))
        self.assertEqual([], missing)

    def test_blocks_are_read_as_a_reader_sees_them(self):
        page = shell_blocks.blocks_of
        self.assertRaises(FileNotFoundError, list, page('no/such.rst'))
        found, output = shell_blocks.commands([
            '$ openstack server migrate --live-migration \\',
            '    --host compute2 web-1',
            'Complete',
            '# pip3 freeze > c.txt'])
        self.assertEqual(['openstack server migrate --live-migration \\\n'
                          '    --host compute2 web-1', 'pip3 freeze > c.txt'],
                         found)
        self.assertEqual(['Complete'], output)
        found, output = shell_blocks.commands([
            '$ openstack hypervisor list -f value -c ID |',
            '    while read id; do',
            '        echo "$id"',
            '    done > ids', 'done'])
        self.assertEqual(['openstack hypervisor list -f value -c ID |\n'
                          '    while read id; do\n        echo "$id"\n'
                          '    done > ids'], found)
        self.assertEqual(['done'], output)

    def clone_checkout(self, b, prefix):
        """A new directory with a clone of this checkout in it.

        Under the name the block's first command clones into: CI cannot
        reach the project's repository.
        """
        where = tempfile.mkdtemp(prefix=prefix)
        self.addCleanup(shutil.rmtree, where, ignore_errors=True)
        name = b.commands[0].split()[-1].rsplit('/', 1)[-1]
        subprocess.run(['git', 'clone', '--quiet', refusals.TOP, name],
                       cwd=where, check=True)
        return where

    def test_wheel_from_a_checkout(self):
        # The page clones the project's repository, which CI cannot reach:
        # the clone is of this checkout; every other command runs as shown.
        b = block('install/index.rst', 'git clone ')
        tmp = self.clone_checkout(b, 'xloud-doc-wheel-')
        proc = bash('\n'.join(b.commands[1:]), tmp)
        self.assertEqual(0, proc.returncode, proc.stdout + proc.stderr)
        expected = [re.escape(line).replace(re.escape('<version>'), r'\S+')
                    for line in b.output]
        self.assertEqual(1, len(expected), b.output)
        self.assertRegex(proc.stdout.strip().splitlines()[-1],
                         '^%s$' % expected[0])

    def test_qa_virtualenv(self):
        # The QA guide's install as a QA engineer runs it, in a new home:
        # a virtualenv with tempest and barbican-tempest-plugin from PyPI
        # and the plugin from a clone (of this checkout: CI cannot reach
        # the project's repository); tempest then lists both plugins.
        b = block('user/tempest.rst', 'git clone ')
        home = self.clone_checkout(b, 'xloud-doc-qa-')
        # Not this tox env's: pbr versions the plugin from the clone.
        env = {k: v for k, v in os.environ.items()
               if k not in ('PBR_VERSION', 'VIRTUAL_ENV', 'PYTHONPATH')}
        env['HOME'] = home
        proc = bash('\n'.join(b.commands[1:]), home, env=env)
        self.assertEqual(0, proc.returncode,
                         proc.stdout[-3000:] + proc.stderr[-3000:])
        self.assertRegex(proc.stdout, r'\| +xloud_tempest_plugin +\|')
        self.assertRegex(proc.stdout, r'\| +barbican_tests +\|')

    def test_check_says_nova_can_load_the_driver(self):
        # /opt/nova/venv stands for nova's environment (the page says so):
        # here, this test's own, where tox installed nova and the package.
        b = block('install/index.rst',
                  '/opt/nova/venv/bin/xloud-nova-ext check')
        command = b.commands[0].replace('/opt/nova/venv', sys.prefix)
        self.assertTrue(os.path.exists(command.split()[0]), command)
        proc = bash(command, refusals.TOP)
        self.assertEqual(0, proc.returncode, proc.stdout + proc.stderr)
        lines = proc.stdout.splitlines()
        self.assertEqual(len(b.output), len(lines), proc.stdout)
        for shown, real in zip(b.output, lines):
            # The page's paths and nova's patch release are examples.
            fixed = re.split(r'/opt/nova|34\.0\.0|\(\.\.\.\)', shown)[0]
            self.assertTrue(real.startswith(fixed), (shown, real))

    def test_tempest_workspace(self):
        # A new home stands for the QA engineer's; tempest is the one tox
        # installed with the plugin.
        b = block('user/tempest.rst', 'tempest init ~/xloud-qa')
        home = tempfile.mkdtemp(prefix='xloud-doc-home-')
        self.addCleanup(shutil.rmtree, home, ignore_errors=True)
        proc = bash('\n'.join(b.commands + ['pwd']), home,
                    env=dict(os.environ, HOME=home))
        self.assertEqual(0, proc.returncode, proc.stdout + proc.stderr)
        workspace = os.path.join(home, 'xloud-qa')
        self.assertEqual(workspace, proc.stdout.strip().splitlines()[-1])
        # What the page says init writes: the conf, its log and lock dirs.
        with open(os.path.join(workspace, 'etc', 'tempest.conf')) as f:
            conf = f.read()
        self.assertIn('log_dir = %s/logs' % workspace, conf)
        self.assertIn('log_file = tempest.log', conf)
        self.assertIn('lock_path = %s/tempest_lock' % workspace, conf)
        self.assertTrue(os.path.isdir(os.path.join(workspace, 'logs')))
