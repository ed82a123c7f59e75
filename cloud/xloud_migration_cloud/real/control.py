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

"""The control plane of the real cloud, on the bridge's address.

MariaDB and RabbitMQ (Debian's, as our children, private data), keystone,
placement, glance (file store), Barbican (the harness's server on MariaDB,
keystone's tokens), nova's API, conductor and scheduler, each a real process
of this virtualenv, and the network API stub. Every process
is recorded (pid and start time) in layout.PIDS_FILE before anything else
happens, so the sweep finds what a killed run left.
"""

import os
import secrets
import shutil
import signal
import subprocess
import sys

from keystoneauth1.identity import v3
from keystoneauth1 import session as ks_session
from keystoneclient.v3 import client as ks_client

from xloud_harness import barbican
from xloud_harness import poll
from xloud_harness import process
from xloud_harness.servers import mariadb
from xloud_harness.servers import rabbitmq

from xloud_migration_cloud.real import configs
from xloud_migration_cloud.real import layout

PORTS = {'identity': 5000, 'placement': 8778, 'compute': 8774,
         'image': 9292, 'network': 9696, 'key-manager': 9311}
DATABASES = ('keystone', 'placement', 'glance', 'barbican', 'nova_api',
             'nova', 'nova_cell0')
ADMIN_PASSWORD = secrets.token_urlsafe(12)
SERVICE_USERS = ('nova', 'placement', 'glance', 'barbican', 'neutron')
#: Catalog entries: service type -> service name.
CATALOG = (('compute', 'nova'), ('placement', 'placement'),
           ('image', 'glance'), ('key-manager', 'barbican'),
           ('network', 'neutron'))


def bin_path(name):
    """A console script of this virtualenv."""
    return os.path.join(os.path.dirname(sys.executable), name)


def _exited(child):
    """True once ``child`` has exited; it stays unreaped (see stop())."""
    return os.waitid(os.P_PID, child.pid, os.WEXITED | os.WNOHANG |
                     os.WNOWAIT) is not None


def record_pid(pid):
    with open(layout.PIDS_FILE, 'a') as f:
        f.write('%d %s\n' % (pid, process.start_time(pid)))


class ControlPlane:

    def __init__(self, workdir, progress):
        self.workdir = workdir
        self.progress = progress
        self.children = []  # Popen objects, in start order
        self.ctx = {}
        self.barbican = None

    def _log(self, name):
        return os.path.join(self.workdir, 'logs', name + '.log')

    def _dir(self, name):
        path = os.path.join(self.workdir, name)
        os.makedirs(path, exist_ok=True)
        return path

    def _write(self, path, text):
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, 'w') as f:
            f.write(text)
        return path

    def _record(self, proc):
        self.children.append(proc)
        record_pid(proc.pid)

    def spawn(self, name, argv, env=None, cwd=None):
        with open(self._log(name), 'ab') as log:
            return process.start_child(
                argv, self._record, stdout=log, stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL, env=env, cwd=cwd,
                start_new_session=True)

    def _wait(self, predicate, what, timeout=180):
        def ready():
            for child in self.children:
                if child.poll() is not None:
                    raise process.ServiceError(
                        '%s exited with status %s while waiting for %s; '
                        'logs in %s' % (child.args[0], child.returncode,
                                        what, os.path.join(self.workdir,
                                                           'logs')))
            return predicate()
        try:
            poll.wait_until(ready, timeout, 0.2, what=what)
        except poll.WaitTimeout:
            raise process.ServiceError('%s not ready within %d s; logs in %s'
                                       % (what, timeout, self.workdir))

    def _manage(self, argv):
        """A ``*-manage`` command (database sync, cells...), checked."""
        try:
            process.run(argv, timeout=900)
        except process.CommandError as e:
            raise process.ServiceError('%s %s failed: %s' % (
                os.path.basename(argv[0]), ' '.join(argv[3:5]),
                (e.stderr or e.stdout or '')[-2000:]))

    def _wsgi(self, name, app, port, env=None):
        service = process.Service(
            name, process.python_argv(
                'xloud_harness.wsgi', '--address', layout.CONTROL_IP,
                '--threads', app, port),
            self._log(name), port=port, env=env, timeout=180,
            address=layout.CONTROL_IP)
        # Not service.start(): it waits; we start them all, then wait.
        service.proc = self.spawn(name, service.argv, env)
        return service

    @staticmethod
    def _answers(service):
        return service._answers
    # The start, in dependency order.

    def start(self):
        self._dir('logs')
        ip = layout.CONTROL_IP
        self.db = mariadb.MariaDB(self._dir('mariadb'), ip)
        self.db.prepare()
        self.mq = rabbitmq.RabbitMQ(self._dir('rabbitmq'), ip)
        self.mq.prepare()
        for name, argv, env in self.db.commands() + self.mq.commands():
            self.spawn(name, argv, env)
        self.progress('MariaDB and RabbitMQ starting on %s ...' % ip)
        self._wait(self.db.ready, 'MariaDB')
        self.db.secure()
        urls = {'%s' % k: 'http://%s:%d' % (ip, p) for k, p in PORTS.items()}
        urls['identity'] += '/v3'
        urls['compute'] += '/v2.1'
        self.ctx = {
            'db': {n: self.db.create_database(n) for n in DATABASES},
            'urls': urls,
            'keystone_url': urls['identity'],
            'service_password': secrets.token_urlsafe(12),
            'admin_password': ADMIN_PASSWORD,
        }
        self._keystone()
        self._placement_and_glance()
        self._barbican()
        self._wait(self.mq.ready, 'RabbitMQ')
        self.ctx['transport_url'] = self.mq.transport_url
        self._nova()
        self.network = self._wsgi(
            'network-stub', 'xloud_migration_cloud.network_stub:application',
            PORTS['network'])
        for name, service in (('keystone', self.keystone),
                              ('placement', self.placement),
                              ('glance', self.glance),
                              ('Barbican', self.barbican_service),
                              ('nova-api', self.nova_api),
                              ('network stub', self.network)):
            self._wait(self._answers(service), name)
        return self.ctx

    def _keystone(self):
        self.progress('keystone: database, fernet keys, bootstrap ...')
        kdir = self._dir('keystone')
        conf = self._write(kdir + '/keystone.conf',
                           configs.ini(configs.keystone(self.ctx, kdir)))
        manage = [bin_path('keystone-manage'), '--config-file', conf]
        user = ['--keystone-user', 'root', '--keystone-group', 'root']
        url = self.ctx['keystone_url']
        self._manage(manage + ['db_sync'])
        self._manage(manage + ['fernet_setup'] + user)
        self._manage(manage + ['credential_setup'] + user)
        self._manage(manage + [
            'bootstrap', '--bootstrap-password', ADMIN_PASSWORD,
            '--bootstrap-region-id', 'RegionOne',
            '--bootstrap-public-url', url, '--bootstrap-internal-url', url,
            '--bootstrap-admin-url', url])
        self.keystone = self._wsgi(
            'keystone', 'keystone.wsgi.api:application', PORTS['identity'],
            env=dict(os.environ, OS_KEYSTONE_CONFIG_FILES=conf))
        self._wait(self._answers(self.keystone), 'keystone')
        self._seed_keystone()

    def admin_session(self):
        return ks_session.Session(auth=v3.Password(
            auth_url=self.ctx['keystone_url'], username='admin',
            password=ADMIN_PASSWORD, project_name='admin',
            user_domain_id='default', project_domain_id='default'))

    def _seed_keystone(self):
        ks = ks_client.Client(session=self.admin_session())
        roles = {r.name: r for r in ks.roles.list()}
        for name in ('service', 'member', 'reader'):
            if name not in roles:
                roles[name] = ks.roles.create(name)
        project = ks.projects.create('service', 'default')
        for name in SERVICE_USERS:
            user = ks.users.create(
                name, domain='default', default_project=project,
                password=self.ctx['service_password'])
            for role in ('admin', 'service'):
                ks.roles.grant(roles[role], user=user, project=project)
        urls = self.ctx['urls']
        for stype, name in CATALOG:
            service = ks.services.create(name, type=stype)
            for interface in ('public', 'internal', 'admin'):
                ks.endpoints.create(service, urls[stype], interface=interface,
                                    region='RegionOne')

    def _placement_and_glance(self):
        self.progress('placement and glance: databases, services ...')
        pdir = self._dir('placement')
        self._write(pdir + '/placement.conf',
                    configs.ini(configs.placement(self.ctx)))
        self._manage([bin_path('placement-manage'), '--config-file',
                      pdir + '/placement.conf', 'db', 'sync'])
        self.placement = self._wsgi(
            'placement', 'placement.wsgi.api:application',
            PORTS['placement'],
            env=dict(os.environ, OS_PLACEMENT_CONFIG_DIR=pdir))
        gdir = self._dir('glance')
        for sub in ('images', 'staging', 'tasks', 'locks'):
            self._dir('glance/' + sub)
        paste = os.path.join(gdir, 'glance-api-paste.ini')
        shutil.copy(os.path.join(sys.prefix, 'etc', 'glance',
                                 'glance-api-paste.ini'), paste)
        conf = self._write(gdir + '/glance-api.conf', configs.ini(
            configs.glance(self.ctx, gdir, paste)))
        self._manage([bin_path('glance-manage'), '--config-file', conf,
                      'db_sync'])
        self.glance = self._wsgi(
            'glance', 'glance.wsgi.api:application', PORTS['image'],
            env=dict(os.environ, OS_GLANCE_CONFIG_DIR=gdir))

    def _barbican(self):
        """The harness's Barbican server, on MariaDB and keystone's tokens.

        Its tables are created when it starts (``db_auto_create``).
        """
        self.progress('Barbican: MariaDB, simple_crypto, keystone '
                      'authtoken ...')
        self.barbican = barbican.BarbicanServer(
            keystone=(self.ctx['keystone_url'], self.ctx['service_password']),
            tmpdir=self._dir('barbican'), address=layout.CONTROL_IP,
            port=PORTS['key-manager'], connection=self.ctx['db']['barbican'])
        service = self.barbican_service = self.barbican.prepare()
        # Ours to record (the sweep), not service.start(): it would wait.
        service.proc = self.spawn('barbican', service.argv, service.env,
                                  cwd=service.cwd)

    def _nova(self):
        self.progress('nova: databases, cells, API, conductor, scheduler '
                      '...')
        ndir = self._dir('nova')
        self._dir('nova/state')
        self._dir('nova/locks')
        shutil.copy(os.path.join(sys.prefix, 'etc', 'nova', 'api-paste.ini'),
                    ndir + '/api-paste.ini')
        conf = self._write(ndir + '/nova.conf', configs.ini(
            configs.nova_control(self.ctx, ndir)))
        manage = [bin_path('nova-manage'), '--config-file', conf]
        self._manage(manage + ['api_db', 'sync'])
        self._manage(manage + ['cell_v2', 'map_cell0',
                               '--database_connection',
                               self.ctx['db']['nova_cell0']])
        self._manage(manage + ['cell_v2', 'create_cell', '--name', 'cell1'])
        self._manage(manage + ['db', 'sync'])
        self.nova_api = self._wsgi(
            'nova-api', 'nova.wsgi.osapi_compute:application',
            PORTS['compute'], env=dict(
                os.environ, OS_NOVA_CONFIG_DIR=ndir,
                OS_NOVA_CONFIG_FILES='api-paste.ini;nova.conf'))
        for name in ('nova-conductor', 'nova-scheduler'):
            self.spawn(name, [bin_path(name), '--config-file', conf])

    def stop(self, grace=10.0):
        """Stop every child's session at once (a second stop does nothing).

        SIGTERM to all, SIGKILL to what is left after ``grace`` seconds:
        one after the other, nova's services alone would take minutes.
        """
        children, self.children = self.children, []
        running = [c for c in children if c.returncode is None]
        for sig in (signal.SIGTERM, signal.SIGKILL):
            for child in running:
                try:
                    os.killpg(child.pid, sig)
                except ProcessLookupError:
                    pass
            try:
                poll.wait_until(lambda: all(_exited(c) for c in running),
                                grace, 0.05, what='the control plane\'s exit')
                break
            except poll.WaitTimeout:
                pass
        for child in running:
            # Not reaped yet, so its group id is still ours to signal.
            process.stop_session(child, grace=1.0)
