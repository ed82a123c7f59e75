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


import os
import subprocess
import sys
import tempfile

from oslo_config import cfg
from oslo_config import fixture as config_fixture

from xloud_harness import testing

from xloud_nova_ext import conf

TOP = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__)))))


class OptionsTest(testing.TestCase):

    def setUp(self):
        super().setUp()
        self.conf = self.useFixture(config_fixture.Config(cfg.ConfigOpts()))
        conf.register_opts(self.conf.conf)

    def test_every_option_has_a_help_text(self):
        for group, opts in conf.list_opts():
            self.assertEqual('xloud', group.name)
            for opt in opts:
                self.assertGreater(len(opt.help.strip()), 40, opt.name)

    def test_defaults(self):
        xloud = self.conf.conf.xloud
        self.assertEqual('auto', xloud.vtpm_secret_transport)
        self.assertTrue(xloud.cpu_precheck)
        self.assertTrue(xloud.block_migration_disk_preflight)

    def test_bad_values_are_refused(self):
        self.assertRaises(ValueError, self.conf.config,
                          vtpm_secret_transport='carrier-pigeon',
                          group='xloud')

    def test_bad_value_in_a_file_names_the_option(self):
        with tempfile.NamedTemporaryFile('w', suffix='.conf') as f:
            f.write('[xloud]\nvtpm_secret_transport = carrier-pigeon\n')
            f.flush()
            self.conf.conf(['--config-file', f.name])
            err = self.assertRaises(
                cfg.ConfigFileValueError,
                lambda: self.conf.conf.xloud.vtpm_secret_transport)
        self.assertIn('vtpm_secret_transport', str(err))


class GeneratorTest(testing.TestCase):

    def test_entry_point_names_our_options(self):
        # What oslo-config-generator and the docs extension load.
        from importlib import metadata
        eps = [ep for ep in metadata.entry_points(group='oslo.config.opts')
               if ep.name == 'xloud_nova_ext']
        self.assertEqual(1, len(eps), 'is the package installed?')
        self.assertIs(conf.list_opts, eps[0].load())

    def test_sample_in_tree_is_current(self):
        with tempfile.TemporaryDirectory() as tmp:
            out = os.path.join(tmp, 'sample.conf')
            subprocess.run(
                [sys.executable, '-m', 'oslo_config.generator',
                 '--config-file',
                 os.path.join(TOP, 'etc',
                              'xloud-nova-ext-config-generator.conf'),
                 '--output-file', out],
                check=True, cwd=TOP)
            with open(out) as f:
                generated = f.read()
        with open(os.path.join(TOP, 'etc', 'xloud-nova-ext.conf.sample')) as f:
            in_tree = f.read()
        self.assertEqual(generated, in_tree,
                         'etc/xloud-nova-ext.conf.sample is stale: '
                         'run tox -e genconfig and commit it')
