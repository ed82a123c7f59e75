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

"""What each phase of the DevStack plugin does to a node."""

import os
import re
import sys

from xloud_harness import testing

from xloud_nova_ext import conf
from xloud_nova_ext.tests.devstack import base
from xloud_nova_ext.tests import requirements


class SettingsTest(base.PluginTestCase):
    """devstack/settings adds the Tempest plugin to TEMPEST_PLUGINS."""

    PLUGIN = os.path.join(base.TOP, 'tempest_plugin')

    def test_replaces_devstacks_empty_marker(self):
        found = self.variables('TEMPEST_PLUGINS', TEMPEST_PLUGINS='0')
        self.assertEqual(self.PLUGIN, found['TEMPEST_PLUGINS'])

    def test_appends_to_other_plugins(self):
        found = self.variables(
            'TEMPEST_PLUGINS',
            TEMPEST_PLUGINS='/opt/stack/barbican-tempest-plugin')
        self.assertEqual('/opt/stack/barbican-tempest-plugin ' + self.PLUGIN,
                         found['TEMPEST_PLUGINS'])

    def test_listed_once(self):
        plugins = '%s /opt/stack/barbican-tempest-plugin' % self.PLUGIN
        found = self.variables('TEMPEST_PLUGINS', TEMPEST_PLUGINS=plugins)
        self.assertEqual(plugins, found['TEMPEST_PLUGINS'])

    def test_not_added_when_turned_off(self):
        found = self.variables('TEMPEST_PLUGINS',
                               XLOUD_INSTALL_TEMPEST_PLUGIN='false')
        self.assertEqual('0', found['TEMPEST_PLUGINS'])

    def test_not_added_where_tempest_does_not_run(self):
        found = self.variables('TEMPEST_PLUGINS', ENABLED_SERVICES='n-cpu')
        self.assertEqual('0', found['TEMPEST_PLUGINS'])

    def test_checkout_found_from_the_plugin(self):
        # enable_plugin may name the checkout anything.
        del self.env['XLOUD_DIR']
        self.env['DEST'] = '/nonexistent'
        found = self.variables('XLOUD_DIR')
        self.assertEqual(base.TOP, found['XLOUD_DIR'])

    def test_booleans_normalised(self):
        found = self.variables('XLOUD_VTPM_ENABLED', 'XLOUD_SHARED_STORAGE',
                               XLOUD_VTPM_ENABLED='yes',
                               XLOUD_SHARED_STORAGE='')
        self.assertEqual('True', found['XLOUD_VTPM_ENABLED'])
        self.assertEqual('auto', found['XLOUD_SHARED_STORAGE'])


class InstallTest(base.PluginTestCase):

    def test_node_without_compute_gets_nothing(self):
        self.run_phases('stack:install', 'stack:post-config',
                        ENABLED_SERVICES='n-api,n-cond,n-sch')
        self.assertEqual([], self.calls())
        self.assertEqual(base.DEVSTACK_NOVA_CONF, open(self.nova_conf).read())


LOCAL_CONF = """\
[[local|localrc]]
enable_plugin xloud-nova-ext https://opendev.example/xloud/xloud-nova-ext

[[post-config|$NOVA_CONF]]
[DEFAULT]
debug = True

[[post-config|$NOVA_CPU_CONF]]
[libvirt]
cpu_mode = custom
[DEFAULT]
compute_driver = %s
"""


class NovaConfTest(base.PluginTestCase):
    """post-config: nova-compute's driver comes from local.conf."""

    def test_writes_nothing(self):
        # DevStack writes nova.conf in the background meanwhile, and builds
        # nova-cpu.conf later from it and local.conf.
        self.write_local_conf(LOCAL_CONF % 'xloud.XloudLibvirtDriver')
        self.run_phases('stack:post-config', XLOUD_VTPM_ENABLED='True')
        self.assertEqual(base.DEVSTACK_NOVA_CONF, open(self.nova_conf).read())
        self.assertFalse(os.path.exists(self.nova_cpu_conf))

    def test_stops_stack_without_the_driver_in_local_conf(self):
        self.run_phases('stack:post-config', expect_rc=1)
        self.assertIn('nova-compute would run libvirt.LibvirtDriver, not the '
                      'Xloud driver: add to local.conf '
                      '[[post-config|$NOVA_CPU_CONF]]', self.stderr)
        self.assertIn('compute_driver = xloud.XloudLibvirtDriver',
                      self.stderr)

    def test_another_driver_in_local_conf_stops_stack(self):
        self.write_local_conf(LOCAL_CONF % 'libvirt.LibvirtDriver')
        self.run_phases('stack:post-config', expect_rc=1)
        self.assertIn('nova-compute would run libvirt.LibvirtDriver',
                      self.stderr)

    def test_the_driver_for_nova_conf_is_not_enough(self):
        # nova-api and nova-conductor must not get it; nova-compute must.
        self.write_local_conf(LOCAL_CONF.replace(
            'debug = True', 'compute_driver = xloud.XloudLibvirtDriver') %
            'fake.FakeDriver')
        self.run_phases('stack:post-config', expect_rc=1)
        self.assertIn('would run fake.FakeDriver', self.stderr)

    def test_the_driver_in_another_section_is_not_taken(self):
        self.write_local_conf(LOCAL_CONF.replace(
            '[DEFAULT]\ncompute_driver', '[xloud]\ncompute_driver') %
            'xloud.XloudLibvirtDriver')
        self.run_phases('stack:post-config', expect_rc=1)

    def test_node_without_compute_needs_no_driver(self):
        self.run_phases('stack:post-config', ENABLED_SERVICES='n-api,tempest')

    def test_readme_examples_configure_the_driver(self):
        examples = [e for e in readme_local_confs()
                    if 'compute_driver' in e]
        self.assertEqual(2, len(examples), 'the plain and the vTPM cloud')
        for example in examples:
            self.write_local_conf(example)
            self.run_phases('stack:post-config')

    def test_readme_lists_every_xloud_option(self):
        text = '\n'.join(readme_local_confs())
        for _group, opts in conf.list_opts():
            for opt in opts:
                self.assertIn('#%s = %s' % (opt.name, opt.default), text)

    def test_other_virt_driver_stops_stack(self):
        self.write_local_conf(LOCAL_CONF % 'xloud.XloudLibvirtDriver')
        self.run_phases('stack:post-config', VIRT_DRIVER='fake', expect_rc=1)
        self.assertIn('VIRT_DRIVER is fake', self.stderr)


def readme_local_confs():
    """The literal blocks of devstack/README.rst that are local.conf text."""
    with open(os.path.join(base.DEVSTACK, 'README.rst')) as f:
        text = f.read()
    blocks = re.findall(r'::\n\n((?:    .*\n|\n)+)', text)
    examples = []
    for block in blocks:
        lines = [line[4:] for line in block.splitlines()]
        example = '\n'.join(lines).strip() + '\n'
        if '[[post-config|$NOVA_CPU_CONF]]' in example:
            examples.append(example)
    return examples


class TempestConfTest(base.PluginTestCase):
    """test-config: tempest.conf from what the deployment offers."""

    def flags(self):
        return base.section(self.tempest_conf, 'compute-feature-enabled')

    def test_two_computes_with_local_disks(self):
        self.run_phases('stack:test-config',
                        XLOUD_TEST_COMPUTES='controller compute1 controller')
        self.assertEqual('2', base.section(
            self.tempest_conf, 'compute')['min_compute_nodes'])
        self.assertEqual({'live_migration': 'True',
                          'cold_migration': 'True',
                          'block_migration_for_live_migration': 'True',
                          'vtpm_live_migration': 'False'}, self.flags())
        self.assertEqual({'shared_storage_live_migration': 'False'},
                         base.section(self.tempest_conf, 'xloud_migration'))
        self.assertEqual({}, base.section(self.tempest_conf,
                                          'service_available'))

    def test_one_compute_turns_migrations_off(self):
        self.run_phases('stack:test-config', XLOUD_TEST_COMPUTES='controller')
        self.assertEqual('1', base.section(
            self.tempest_conf, 'compute')['min_compute_nodes'])
        self.assertEqual({'False'}, set(self.flags().values()))

    def test_setting_beats_registered_services(self):
        # Gate jobs stack the subnodes after the controller's test-config.
        self.run_phases('stack:test-config', XLOUD_COMPUTE_NODES='3',
                        XLOUD_TEST_COMPUTES='controller')
        self.assertEqual('3', base.section(
            self.tempest_conf, 'compute')['min_compute_nodes'])
        self.assertNotIn('openstack', ' '.join(self.calls()))

    def test_unlisted_services_count_as_one(self):
        self.run_phases('stack:test-config', XLOUD_TEST_COMPUTES='FAIL')
        self.assertIn('set XLOUD_COMPUTE_NODES', self.stderr)
        self.assertEqual('1', base.section(
            self.tempest_conf, 'compute')['min_compute_nodes'])

    def test_bad_number_of_computes_stops_stack(self):
        self.run_phases('stack:test-config', XLOUD_COMPUTE_NODES='two',
                        expect_rc=1)
        self.assertIn("must be a number, not 'two'", self.stderr)

    def test_nfs_instances_path_is_shared(self):
        self.run_phases('stack:test-config', XLOUD_TEST_FS_TYPE='nfs')
        self.assertEqual('False',
                         self.flags()['block_migration_for_live_migration'])
        self.assertEqual('True', base.section(
            self.tempest_conf,
            'xloud_migration')['shared_storage_live_migration'])

    def test_rbd_images_are_shared(self):
        with open(self.nova_conf, 'a') as f:
            f.write('[libvirt]\nimages_type = rbd\n')
        self.run_phases('stack:test-config')
        self.assertEqual('True', base.section(
            self.tempest_conf,
            'xloud_migration')['shared_storage_live_migration'])

    def test_setting_beats_detection(self):
        self.run_phases('stack:test-config', XLOUD_TEST_FS_TYPE='nfs',
                        XLOUD_SHARED_STORAGE='false')
        self.assertEqual('True',
                         self.flags()['block_migration_for_live_migration'])

    def test_vtpm_needs_barbican(self):
        self.run_phases('stack:test-config', XLOUD_VTPM_ENABLED='True')
        self.assertEqual('False', self.flags()['vtpm_live_migration'])

    def test_vtpm_with_barbican(self):
        self.run_phases('stack:test-config', XLOUD_VTPM_ENABLED='True',
                        ENABLED_SERVICES='n-cpu,tempest,barbican')
        self.assertEqual('True', self.flags()['vtpm_live_migration'])
        self.assertEqual({'barbican': 'True'}, base.section(
            self.tempest_conf, 'service_available'))

    def test_nothing_where_tempest_does_not_run(self):
        self.run_phases('stack:test-config', ENABLED_SERVICES='n-cpu')
        self.assertEqual(base.DEVSTACK_TEMPEST_CONF,
                         open(self.tempest_conf).read())

    def test_every_option_written_exists(self):
        known = _tempest_options(self)
        self.run_phases('stack:test-config', XLOUD_VTPM_ENABLED='True',
                        ENABLED_SERVICES='n-cpu,tempest,barbican')
        parser = base.read_ini(self.tempest_conf)
        written = {(s, o) for s in parser.sections() for o in parser[s]}
        self.assertEqual(set(), written - known,
                         'tempest.conf options that neither tempest nor a '
                         'plugin the jobs install registers')


class UnstackCleanTest(base.PluginTestCase):

    def test_unstack_changes_nothing(self):
        self.run_phases('unstack')
        self.assertEqual([], self.calls())


# Registered by plugins that the vTPM job installs, not by tempest.
OTHER_PLUGINS_OPTIONS = {
    ('service_available', 'barbican'),  # barbican-tempest-plugin
}


def _tempest_options(test):
    """(group, option) pairs of tempest and the Xloud plugin."""
    try:
        from tempest import config as tempest_config
    except ImportError as e:
        requirements.require(test, False, 'tempest is not installed: %s' % e)
    sys.path.insert(0, os.path.join(base.TOP, 'tempest_plugin'))
    try:
        from xloud_tempest_plugin import config as xloud_config
    finally:
        sys.path.pop(0)
    groups = [(getattr(g, 'name', g), opts)
              for g, opts in tempest_config.list_opts()]
    groups.append((xloud_config.migration_group.name,
                   xloud_config.MigrationGroup))
    known = {(name, opt.name) for name, opts in groups for opt in opts}
    return known | OTHER_PLUGINS_OPTIONS


class ReadmeTest(testing.TestCase):
    """devstack/README.rst documents every setting, with its default."""

    def setUp(self):
        super().setUp()
        with open(os.path.join(base.DEVSTACK, 'README.rst')) as f:
            text = f.read()
        # One entry per row of the settings table, keyed by its first cell.
        table = text.split('\nSettings\n', 1)[1].split(
            '\nTesting the plugin\n', 1)[0]
        self.rows = {}
        for row in table.split('\n   * - ')[1:]:
            first, _, rest = row.partition('\n')
            for name in re.findall(r'``([A-Z0-9_]+)``', first):
                self.rows[name] = ' '.join(rest.split())

    def test_every_setting_has_a_row(self):
        with open(os.path.join(base.DEVSTACK, 'settings')) as f:
            names = set(re.findall(r'^([A-Z][A-Z0-9_]*)=', f.read(), re.M))
        names.discard('TEMPEST_PLUGINS')  # DevStack's, not ours
        self.assertEqual(set(), names - set(self.rows),
                         'settings missing from devstack/README.rst')
