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

"""Every multinode job runs the scenarios it promises, none skipped.

For each job of .zuul.yaml that enables this DevStack plugin and runs
tempest: the plugin's test-config phase runs with the job's localrc
settings (as on its controller), local.conf's test-config section for
tempest.conf is merged as DevStack merges it, and then tempest itself lists
what the job's regex selects (``tempest run --list-tests``) and each
selected class's ``skip_checks`` is run against that tempest.conf. The
classes that would run must be exactly the job's ``xloud_scenarios``.
"""

import importlib.util
import os
import re
import shutil
import subprocess
import sys

from xloud_nova_ext.tests.devstack import base
from xloud_nova_ext.tests import requirements

# What DevStack's lib/tempest writes that the scenarios' skip checks read,
# before the plugin's test-config phase.
DEVSTACK_TEMPEST_CONF = """\
[auth]
admin_username = admin
admin_password = secret
admin_project_name = admin
admin_domain_name = Default
[identity]
uri_v3 = http://192.0.2.10/identity/v3
[compute]
max_microversion = latest
[compute-feature-enabled]
live_migration = False
block_migration_for_live_migration = False
"""

# Run with TEMPEST_CONFIG_DIR/TEMPEST_CONFIG set: "<class> ran" or
# "<class> skipped: <reason>" per class given on the command line.
SKIP_CHECKS = """
import importlib, sys
import unittest
for name in sys.argv[1:]:
    module, cls = name.rsplit('.', 1)
    klass = getattr(importlib.import_module(module), cls)
    try:
        klass.skip_checks()
    except unittest.SkipTest as e:
        print('%s skipped: %s' % (cls, e))
    else:
        print('%s ran' % cls)
"""

# The Jinja a job's vars may hold here, rendered as on a two-node nodeset.
TEMPLATES = {
    "{{ groups['compute'] | length }}": '2',
    "{{ hostvars['controller']['ansible_hostname'] }}": 'controller',
    "{{ hostvars['compute1']['ansible_hostname'] }}": 'compute1',
}


def _check_zuul():
    spec = importlib.util.spec_from_file_location(
        'check_zuul', os.path.join(base.TOP, 'tools', 'check_zuul.py'))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def multinode_jobs():
    """(name, effective vars) of the jobs that run this plugin's tempest."""
    check_zuul = _check_zuul()
    config = check_zuul.load(os.path.join(base.TOP, '.zuul.yaml'))
    jobs = {item['job']['name']: item['job'] for item in config
            if 'job' in item}
    for name, job in sorted(jobs.items()):
        variables = check_zuul._effective_vars(name, jobs)
        plugins = variables.get('devstack_plugins') or {}
        if (job.get('abstract') or 'xloud-nova-ext' not in plugins or
                not variables.get('tempest_test_regex')):
            continue
        yield name, variables


def render(test, value):
    text = str(value)
    for template, rendered in TEMPLATES.items():
        text = text.replace(template, rendered)
    if '{{' in text:
        test.fail('No rendering for %r: teach test_jobs.TEMPLATES' % text)
    # YAML's booleans, as Zuul hands them to DevStack's local.conf.
    return {'True': 'True', 'False': 'False'}.get(text, text)


class JobScenariosTest(base.PluginTestCase):

    def setUp(self):
        super().setUp()
        self.tempest = shutil.which(
            'tempest', path=os.path.dirname(sys.executable))
        requirements.require(self, self.tempest,
                             'tempest is not installed in this env')
        with open(self.tempest_conf, 'w') as f:
            f.write(DEVSTACK_TEMPEST_CONF)

    def check_job(self, name):
        variables = dict(multinode_jobs())[name]
        self.assertEqual(
            sorted(variables.get('xloud_scenarios') or []),
            sorted(self.classes_that_run(name, variables)),
            'job %s: the scenario classes its regex selects and its '
            'tempest.conf runs differ from its xloud_scenarios' % name)

    def test_the_multinode_jobs_are_found(self):
        self.assertGreaterEqual(len(list(multinode_jobs())), 4)

    def classes_that_run(self, name, variables):
        with open(self.tempest_conf, 'w') as f:
            f.write(DEVSTACK_TEMPEST_CONF)
        settings = {k: render(self, v) for k, v in
                    (variables.get('devstack_localrc') or {}).items()
                    if k.startswith('XLOUD_') or k == 'TEMPEST_PLUGINS'}
        settings.pop('TEMPEST_PLUGINS', None)
        services = ['n-cpu', 'tempest']
        if 'barbican' in (variables.get('devstack_plugins') or {}):
            services.append('barbican')
        self.run_phases('stack:test-config',
                        ENABLED_SERVICES=','.join(services), **settings)
        self.merge_test_config(variables)
        listed = self.list_tests(variables['tempest_test_regex'],
                                 variables.get('tempest_exclude_regex'))
        self.assertNotEqual([], listed, 'job %s selects no test' % name)
        classes = sorted({t.rsplit('.', 1)[0] for t in listed})
        out = self.tempest_python('-c', SKIP_CHECKS, *classes)
        ran = [line.split()[0] for line in out.splitlines()
               if line.endswith(' ran')]
        skipped = [line for line in out.splitlines() if ' skipped: ' in line]
        self.assertEqual([], skipped, 'job %s selects tests that its '
                         'tempest.conf skips' % name)
        return ran

    def merge_test_config(self, variables):
        """local.conf's [[test-config|$TEMPEST_CONFIG]], as DevStack."""
        sections = ((variables.get('devstack_local_conf') or {})
                    .get('test-config') or {}).get('$TEMPEST_CONFIG') or {}
        for section, options in sections.items():
            for option, value in options.items():
                subprocess.run(['dsconf', 'iniset', self.tempest_conf,
                                section, option, render(self, value)],
                               check=True, env=self.env)

    def tempest_env(self):
        return dict(self.env, TEMPEST_CONFIG_DIR=self.dest,
                    TEMPEST_CONFIG=os.path.basename(self.tempest_conf))

    def tempest_python(self, *args):
        proc = subprocess.run([sys.executable] + list(args),
                              env=self.tempest_env(), capture_output=True,
                              text=True, timeout=120, cwd=self.dest)
        self.assertEqual(0, proc.returncode, proc.stdout + proc.stderr)
        return proc.stdout

    def list_tests(self, regex, exclude):
        workspace = os.path.join(self.dest, 'workspace')
        if not os.path.isdir(workspace):
            subprocess.run([self.tempest, 'init', workspace], check=True,
                           env=self.tempest_env(), capture_output=True)
        argv = [self.tempest, 'run', '--list-tests', '--config-file',
                self.tempest_conf, '--regex', regex]
        if exclude:
            argv += ['--exclude-regex', exclude]
        proc = subprocess.run(argv, env=self.tempest_env(), cwd=workspace,
                              capture_output=True, text=True, timeout=120)
        self.assertEqual(0, proc.returncode, proc.stdout + proc.stderr)
        return [re.sub(r'\[.*', '', line) for line in proc.stdout.split()
                if line.startswith('xloud_tempest_plugin.')]


def _add_job_tests():
    """One test per job: each runs tempest twice, within its own timeout."""
    for name, _variables in multinode_jobs():
        def test(self, name=name):
            self.check_job(name)
        test.__doc__ = 'job %s runs what it promises' % name
        setattr(JobScenariosTest, 'test_' + name.replace('-', '_'), test)


_add_job_tests()
