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

"""tools/check_zuul.py: each check on a small repository, then ours."""

import importlib.util
import os
import textwrap

import fixtures

from xloud_harness import testing

TOP = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__)))))


def _load_tool():
    spec = importlib.util.spec_from_file_location(
        'check_zuul', os.path.join(TOP, 'tools', 'check_zuul.py'))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


check_zuul = _load_tool()

SCENARIOS = '''\
class LiveMigrationTest(object):
    def test_live_migration(self):
        pass

class BlockLiveMigrationTest(LiveMigrationTest):
    block_migration = True

class Helper(object):
    def _test_helper(self):
        pass
'''

GOOD = '''\
- nodeset:
    name: demo-proj-two-node
    nodes: []

- job:
    name: demo-proj-base
    parent: tempest-multinode-full-py3
    abstract: true
    post-run: playbooks/post.yaml
    vars:
      tempest_test_regex: ^xloud_tempest_plugin\\.api\\.
      tempest_exclude_regex: BlockLiveMigrationTest
      devstack_plugins:
        demo-proj: https://example.org/demo-proj
      devstack_localrc:
        XLOUD_CPU_BASELINE: Nehalem
        TEMPEST_PLUGINS: /opt/stack/demo-proj/tempest_plugin

- job:
    name: demo-proj-multinode
    parent: demo-proj-base
    nodeset: demo-proj-two-node
    pre-run:
      - playbooks/pre.yaml
    secrets:
      - name: token
        secret: !encrypted/pkcs1-oaep
          - c2VjcmV0

- project:
    templates:
      - openstack-python3-jobs
    check:
      jobs:
        - openstack-tox-pep8
        - demo-proj-multinode:
            voting: false
'''


class CheckZuulTest(testing.TestCase):

    def setUp(self):
        super().setUp()
        self.root = self.useFixture(fixtures.TempDir()).path
        self.write('setup.cfg', '[metadata]\nname = demo-proj\n')
        self.write('devstack/settings',
                   'XLOUD_CPU_BASELINE=${XLOUD_CPU_BASELINE:-}\n')
        self.write('devstack/plugin.sh', ':\n')
        self.write('playbooks/pre.yaml', '- hosts: all\n  tasks: []\n')
        self.write('playbooks/post.yaml', '- hosts: all\n  tasks: []\n')
        self.write('tempest_plugin/xloud_tempest_plugin/api/compute/'
                   'test_live_migration.py', SCENARIOS)

    def write(self, rel, text):
        path = os.path.join(self.root, rel)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, 'w') as f:
            f.write(text)

    def problems(self, zuul_yaml):
        self.write('.zuul.yaml', textwrap.dedent(zuul_yaml))
        return check_zuul.check(self.root)

    def assertProblem(self, expected, zuul_yaml):
        problems = self.problems(zuul_yaml)
        self.assertTrue(any(expected in p for p in problems),
                        '%r not in %s' % (expected, problems))

    def test_good_file(self):
        self.assertEqual([], self.problems(GOOD))

    def test_scenarios_are_read_with_inherited_tests(self):
        mod = 'xloud_tempest_plugin.api.compute.test_live_migration'
        self.write('.zuul.yaml', GOOD)
        self.assertEqual(
            [mod + '.BlockLiveMigrationTest.test_live_migration',
             mod + '.LiveMigrationTest.test_live_migration'],
            sorted(check_zuul.scenario_ids(self.root)))

    def test_unparsable_file(self):
        self.assertProblem('cannot be read', '- job: {name: [\n')

    def test_not_a_zuul_object(self):
        self.assertProblem('not a Zuul object', GOOD + '- jbo: {}\n')

    def test_unknown_parent(self):
        self.assertProblem(
            'parent demo-proj-bse is named for this project but not defined',
            GOOD.replace('parent: demo-proj-base', 'parent: demo-proj-bse'))

    def test_other_projects_names_are_left_to_zuul(self):
        # No list of upstream names to drift: Zuul checks those.
        self.assertEqual([], self.problems(
            GOOD.replace('tempest-multinode-full-py3', 'some-upstream-job')
            .replace('openstack-tox-pep8', 'another-upstream-job')
            .replace('openstack-python3-jobs', 'an-upstream-template')))

    def test_missing_parent(self):
        self.assertProblem('demo-proj-multinode: no parent',
                           GOOD.replace('    parent: demo-proj-base\n', ''))

    def test_unknown_nodeset(self):
        self.assertProblem('nodeset demo-proj-one-node',
                           GOOD.replace('nodeset: demo-proj-two-node',
                                        'nodeset: demo-proj-one-node'))

    def test_missing_playbooks(self):
        os.remove(os.path.join(self.root, 'playbooks', 'pre.yaml'))
        os.remove(os.path.join(self.root, 'playbooks', 'post.yaml'))
        problems = self.problems(GOOD)
        self.assertIn('job demo-proj-multinode: pre-run playbook '
                      'playbooks/pre.yaml does not exist', problems)
        self.assertIn('job demo-proj-base: post-run playbook '
                      'playbooks/post.yaml does not exist', problems)

    def test_playbook_that_does_not_parse(self):
        self.write('playbooks/pre.yaml',
                   '- hosts: all\n  tasks:\n    - shell: cut -d: -f1\n')
        self.assertProblem('pre-run playbook playbooks/pre.yaml does not '
                           'parse', GOOD)

    def test_playbook_that_is_no_list_of_plays(self):
        self.write('playbooks/post.yaml', 'hosts: all\n')
        self.assertProblem('post-run playbook playbooks/post.yaml is not a '
                           'list of plays', GOOD)

    def test_unknown_pipeline_job(self):
        self.assertProblem('job demo-proj-multinod is named for this project',
                           GOOD.replace('        - openstack-tox-pep8\n',
                                        '        - demo-proj-multinod\n'))

    def test_unknown_template(self):
        self.assertProblem('template demo-proj-jobs: named for this project',
                           GOOD.replace('openstack-python3-jobs',
                                        'demo-proj-jobs'))

    def test_job_run_by_nobody(self):
        self.assertProblem('demo-proj-multinode: no pipeline runs it',
                           GOOD.replace('        - demo-proj-multinode:\n'
                                        '            voting: false\n', ''))

    def test_job_named_after_another_project(self):
        self.assertProblem('must start with "demo-proj-"',
                           GOOD.replace('demo-proj-multinode',
                                        'other-multinode'))

    def test_duplicate_job(self):
        extra = '- job:\n    name: demo-proj-base\n    parent: devstack\n'
        self.assertProblem('demo-proj-base: defined twice', GOOD + extra)

    def test_undefined_devstack_setting(self):
        self.assertProblem('sets XLOUD_CPU_BASLINE, which devstack/settings',
                           GOOD.replace('XLOUD_CPU_BASELINE:',
                                        'XLOUD_CPU_BASLINE:'))

    def test_missing_devstack_plugin(self):
        os.remove(os.path.join(self.root, 'devstack', 'plugin.sh'))
        self.assertProblem('devstack/plugin.sh does not exist', GOOD)

    def test_missing_path_in_our_checkout(self):
        self.assertProblem('names tempest-plugin, which is not in',
                           GOOD.replace('demo-proj/tempest_plugin',
                                        'demo-proj/tempest-plugin'))

    def test_regex_selecting_no_scenario(self):
        self.assertProblem("selects none of the 2 scenarios",
                           GOOD.replace('^xloud_tempest_plugin\\.api\\.',
                                        '^xloud_tempest_plugin\\.scenario'))

    def test_inherited_exclude_dropping_everything(self):
        self.assertProblem(
            'demo-proj-multinode: tempest_test_regex',
            GOOD.replace('tempest_exclude_regex: BlockLiveMigrationTest',
                         'tempest_exclude_regex: MigrationTest'))

    def test_file_matcher_with_lookahead(self):
        self.assertProblem(
            "demo-proj-multinode: irrelevant-files: '^tools/(?!x).*$' uses "
            "look-around",
            GOOD.replace("    nodeset: demo-proj-two-node\n",
                         "    nodeset: demo-proj-two-node\n"
                         "    irrelevant-files:\n"
                         "      - ^tools/(?!x).*$\n"))

    def test_file_matcher_in_a_pipeline_that_does_not_compile(self):
        self.assertProblem(
            "check pipeline: job demo-proj-multinode: files: '^doc/(' does "
            "not compile",
            GOOD.replace("            voting: false\n",
                         "            voting: false\n"
                         "            files:\n"
                         "              - ^doc/(\n"))

    def test_bad_regex(self):
        self.assertProblem('bad tempest regex',
                           GOOD.replace('BlockLiveMigrationTest', '(Block'))

    def test_this_repository(self):
        self.assertEqual([], check_zuul.check(TOP))

    def test_main_exit_codes(self):
        self.write('.zuul.yaml', GOOD)
        out = self.useFixture(fixtures.StringStream('stdout'))
        self.useFixture(fixtures.MonkeyPatch('sys.stdout', out.stream))
        self.assertEqual(0, check_zuul.main(['--root', self.root]))
        self.write('.zuul.yaml', GOOD.replace('parent: demo-proj-base',
                                              'parent: demo-proj-bse'))
        self.assertEqual(1, check_zuul.main(['--root', self.root]))
