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


"""A real keystone 30 on 127.0.0.1: sqlite, fernet tokens, bootstrapped.

Creates the admin (via ``keystone-manage bootstrap``), a ``demo`` project and
user, a ``service`` project with the service users nova and Barbican need,
and registers the catalog entries the caller gives.
"""

import os
import subprocess
import sys

from keystoneauth1.identity import v3
from keystoneauth1 import session as ks_session
from keystoneclient.v3 import client as ks_client

from xloud_harness import process

REGION = 'RegionOne'
ADMIN_PASSWORD = 'admin-secret'
SERVICE_PASSWORD = 'service-secret'
DEMO_PASSWORD = 'demo-secret'
SERVICE_USERS = ('nova', 'barbican', 'placement')

# keystonemiddleware in a service's paste pipeline, as that service user.
AUTHTOKEN_FILTER = """
[filter:authtoken]
paste.filter_factory = keystonemiddleware.auth_token:filter_factory
www_authenticate_uri = {url}
auth_url = {url}
auth_type = password
username = {username}
password = {password}
project_name = service
user_domain_id = default
project_domain_id = default
service_token_roles_required = true
"""


def authtoken_filter(url, username, password=SERVICE_PASSWORD):
    """The ``[filter:authtoken]`` paste section for service ``username``."""
    return AUTHTOKEN_FILTER.format(url=url, username=username,
                                   password=password)


CONFIG = """\
[DEFAULT]
use_stderr = true
[database]
connection = sqlite:///{workdir}/keystone.db
[identity]
# A throwaway cloud on loopback: cheap password hashing keeps start-up and
# every token request fast (bcrypt's default costs ~0.3 s per hash).
password_hash_rounds = 4
[token]
provider = fernet
[fernet_tokens]
key_repository = {workdir}/fernet-keys
[fernet_receipts]
key_repository = {workdir}/fernet-keys
[credential]
key_repository = {workdir}/credential-keys
"""


class Keystone:
    """Configure, bootstrap and serve keystone from ``workdir``."""

    def __init__(self, workdir, port=None, env=None):
        self.workdir = os.path.join(workdir, 'keystone')
        self.env = dict(env or os.environ)
        self.port = port or process.free_port()
        self.url = 'http://127.0.0.1:%d/v3' % self.port
        self.conf = os.path.join(self.workdir, 'keystone.conf')
        self.service = None

    def _manage(self, *args):
        argv = [os.path.join(os.path.dirname(sys.executable),
                             'keystone-manage'),
                '--config-file', self.conf] + list(args)
        proc = subprocess.run(argv, capture_output=True, text=True,
                              env=self.env)
        if proc.returncode:
            raise process.ServiceError(
                'keystone-manage %s failed: %s' % (args[0],
                                                   proc.stderr[-2000:]))

    def start(self):
        os.makedirs(self.workdir, exist_ok=True)
        with open(self.conf, 'w') as f:
            f.write(CONFIG.format(workdir=self.workdir))
        user = ['--keystone-user', 'root', '--keystone-group', 'root']
        self._manage('db_sync')
        self._manage('fernet_setup', *user)
        self._manage('credential_setup', *user)
        self._manage('bootstrap', '--bootstrap-password', ADMIN_PASSWORD,
                     '--bootstrap-region-id', REGION,
                     '--bootstrap-public-url', self.url,
                     '--bootstrap-internal-url', self.url,
                     '--bootstrap-admin-url', self.url)
        env = dict(self.env, OS_KEYSTONE_CONFIG_FILES=self.conf)
        # Known before it starts: whoever stops us stops it, at any point.
        self.service = process.Service(
            'keystone', process.python_argv(
                'xloud_harness.wsgi', 'keystone.wsgi.api:application',
                self.port),
            os.path.join(self.workdir, 'keystone.log'), port=self.port,
            ready_path='/v3', env=env)
        self.service.start()
        return self

    def stop(self):
        if self.service:
            self.service.stop()

    def admin_session(self):
        auth = v3.Password(auth_url=self.url, username='admin',
                           password=ADMIN_PASSWORD, project_name='admin',
                           user_domain_id='default',
                           project_domain_id='default')
        return ks_session.Session(auth=auth)

    def seed(self, endpoints):
        """Projects, users and the catalog.

        ``endpoints`` maps a service type to (name, url).
        """
        ks = ks_client.Client(session=self.admin_session())
        roles = {r.name: r for r in ks.roles.list()}
        for name in ('service', 'member', 'reader'):
            if name not in roles:
                roles[name] = ks.roles.create(name)
        service_project = ks.projects.create('service', 'default')
        demo_project = ks.projects.create('demo', 'default')
        for name in SERVICE_USERS:
            user = ks.users.create(name, domain='default',
                                   password=SERVICE_PASSWORD,
                                   default_project=service_project)
            for role in ('admin', 'service'):
                ks.roles.grant(roles[role], user=user,
                               project=service_project)
        demo = ks.users.create('demo', domain='default',
                               password=DEMO_PASSWORD,
                               default_project=demo_project)
        ks.roles.grant(roles['member'], user=demo, project=demo_project)
        for service_type, (name, url) in endpoints.items():
            service = ks.services.create(name, type=service_type)
            for interface in ('public', 'internal', 'admin'):
                ks.endpoints.create(service, url, interface=interface,
                                    region=REGION)
        return {'service_project_id': service_project.id,
                'demo_project_id': demo_project.id}
