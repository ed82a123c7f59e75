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


"""A Tempest workspace whose tempest.conf describes the embedded cloud."""

import configparser
import os
import subprocess
import sys

from xloud_harness import keystone

# nova's GlanceFixture knows these images; the flavors are nova's defaults.
IMAGE_REF = '155d900f-4e14-4e4c-a73d-069cbf4541e6'
IMAGE_REF_ALT = 'a2459075-d96c-40d5-893e-577ff92e721c'


def tempest_bin(name='tempest'):
    return os.path.join(os.path.dirname(sys.executable), name)


class Workspace:
    """``tempest init`` under ``root``, with its own HOME and TMPDIR.

    Tempest writes ``~/.tempest`` and ``$TMPDIR/tempest-lock``; both stay
    under ``root`` so that nothing is left behind.
    """

    def __init__(self, root):
        self.path = os.path.join(root, 'workspace')
        self.home = os.path.join(root, 'home')
        self.tmp = os.path.join(root, 'tmp')
        self.conf_path = os.path.join(self.path, 'etc', 'tempest.conf')

    @property
    def env(self):
        return dict(os.environ, HOME=self.home, TMPDIR=self.tmp)

    def init(self):
        os.makedirs(self.home, exist_ok=True)
        os.makedirs(self.tmp, exist_ok=True)
        subprocess.run([tempest_bin(), 'init', self.path], check=True,
                       env=self.env, capture_output=True)
        return self

    def write_conf(self, sections):
        conf = configparser.ConfigParser(interpolation=None)
        for section, options in sections.items():
            conf[section] = {k: str(v) for k, v in options.items()}
        with open(self.conf_path, 'w') as f:
            conf.write(f)
        return self.conf_path

    def write_variant(self, name, sections):
        """Another tempest.conf beside the main one; returns its path.

        The main one's options, updated with ``sections``.
        """
        conf = configparser.ConfigParser(interpolation=None)
        conf.read(self.conf_path)
        for section, options in sections.items():
            if not conf.has_section(section):
                conf.add_section(section)
            for key, value in options.items():
                conf.set(section, key, str(value))
        path = os.path.join(os.path.dirname(self.conf_path),
                            'tempest-%s.conf' % name)
        with open(path, 'w') as f:
            conf.write(f)
        return path

    def run_argv(self, regex, concurrency, conf_path=None):
        """``tempest run`` of this workspace, writing subunit v2 to stdout."""
        return [tempest_bin(), 'run', '--subunit', '--config-file',
                conf_path or self.conf_path, '--regex', regex,
                '--concurrency',
                str(concurrency)]


def cloud_sections(keystone_url, compute_nodes, extra=None):
    """tempest.conf for the embedded cloud, before safeguard scenarios."""
    sections = {
        'DEFAULT': {'log_file': 'tempest.log'},
        'auth': {
            'admin_username': 'admin',
            'admin_password': keystone.ADMIN_PASSWORD,
            'admin_project_name': 'admin',
            'admin_domain_name': 'Default',
            'use_dynamic_credentials': True,
            # No neutron server: nova's computes use nova's network
            # fixture, so tempest must not create networks.
            'create_isolated_networks': False,
        },
        'identity': {
            'uri_v3': keystone_url,
            'auth_version': 'v3',
            'region': keystone.REGION,
        },
        'compute': {
            'image_ref': IMAGE_REF,
            'image_ref_alt': IMAGE_REF_ALT,
            'flavor_ref': 1,
            'flavor_ref_alt': 2,
            'min_compute_nodes': compute_nodes,
            'max_microversion': 'latest',
            'build_timeout': 120,
            'build_interval': 1,
        },
        'compute-feature-enabled': {
            'live_migration': True,
            'cold_migration': True,
            'resize': True,
            'console_output': False,
        },
        'service_available': {
            'neutron': True,
            'glance': True,
            'cinder': False,
            'swift': False,
            'horizon': False,
        },
        'network-feature-enabled': {'api_extensions': 'security-group'},
        'enforce_scope': {'nova': True},
        'validation': {'run_validation': False},
    }
    for section, options in (extra or {}).items():
        sections.setdefault(section, {}).update(options)
    return sections
