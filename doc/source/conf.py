# Licensed under the Apache License, Version 2.0 (the "License"); you may
# not use this file except in compliance with the License. You may obtain
# a copy of the License at
#
#      http://www.apache.org/licenses/LICENSE-2.0
#
# Unless required by applicable law or agreed to in writing, software
# distributed under the License is distributed on an "AS IS" BASIS, WITHOUT
# WARRANTIES OR CONDITIONS OF ANY KIND, either express or implied. See the
# License for the specific language governing permissions and limitations
# under the License.

extensions = [
    'openstackdocstheme',
    'oslo_config.sphinxext',
    'oslo_config.sphinxconfiggen',
]

# oslo_config.sphinxconfiggen: the sample configuration file in the docs.
config_generator_config_file = [
    ('../../etc/xloud-nova-ext-config-generator.conf',
     '_static/xloud-nova-ext'),
]

openstackdocs_repo_name = 'xloud/xloud-nova-ext'
openstackdocs_bug_project = 'xloud-nova-ext'
openstackdocs_auto_name = False

project = 'xloud-nova-ext'
copyright = '2026, Xloud'
master_doc = 'index'
source_suffix = '.rst'
exclude_patterns = []
pygments_style = 'native'
html_theme = 'openstackdocs'
html_static_path = ['_static']
