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

"""RabbitMQ and MariaDB run as our children, privately, and leave nothing.

Real servers (Debian's packages), started as the cloud starts them.
"""

import os
import shutil
import signal
import socket
import subprocess
import tempfile

try:
    import amqp   # oslo.messaging's AMQP client
except ImportError:
    amqp = None

from xloud_harness import poll
from xloud_harness.servers import mariadb
from xloud_harness.servers import rabbitmq
from xloud_harness import testing
from xloud_harness.tests.requirements import missing_commands
from xloud_harness.tests.requirements import require

ADDRESS = '127.0.0.1'
OTHER_ADDRESS = '127.0.0.2'   # loopback too, but not ours


def _listens(address, port):
    with socket.socket() as s:
        s.settimeout(1)
        return s.connect_ex((address, port)) == 0


class _ServerTest(testing.TestCase):
    commands = ()
    # Starts a database or broker (up to 120 s on a loaded machine), then
    # stops and restarts it.
    TIMEOUT_SCALING_FACTOR = 2

    def setUp(self):
        super().setUp()
        require(self, os.geteuid() == 0, 'needs root')
        missing = missing_commands(*self.commands)
        require(self, not missing,
                'missing %s (tools/install-debian-deps.sh)' % missing)
        self.base = tempfile.mkdtemp(prefix='xloud-servers-')
        self.addCleanup(shutil.rmtree, self.base, True)
        self.procs = []

    def start(self, server, timeout=120):
        server.prepare()
        for name, argv, env in server.commands():
            log = open(os.path.join(self.base, name + '.log'), 'w')
            self.addCleanup(log.close)
            proc = subprocess.Popen(argv, env=env, stdout=log,
                                    stderr=subprocess.STDOUT,
                                    stdin=subprocess.DEVNULL,
                                    start_new_session=True)
            self.procs.append(proc)
            self.addCleanup(self.stop, proc)

        def ready():
            for proc in self.procs:
                self.assertIsNone(proc.poll(), 'a server process exited')
            return server.ready()

        poll.wait_until(ready, timeout, interval=0.2,
                        what='%s ready' % type(server).__name__)

    @staticmethod
    def stop(proc):
        try:
            os.killpg(proc.pid, signal.SIGTERM)
        except ProcessLookupError:
            pass
        proc.wait(30)

    def group_members(self, pgid):
        members = []
        for pid in os.listdir('/proc'):
            if pid.isdigit():
                try:
                    if os.getpgid(int(pid)) == pgid:
                        members.append(int(pid))
                except ProcessLookupError:
                    pass
        return members


class TestRabbitMQ(_ServerTest):
    commands = (rabbitmq.BROKER, rabbitmq.EPMD)

    def _login(self, mq, user, password):
        conn = amqp.Connection('%s:%d' % (mq.address, mq.port),
                               userid=user, password=password,
                               connect_timeout=10)
        conn.connect()
        conn.close()

    def test_private_broker_with_random_credentials(self):
        require(self, amqp is not None, 'the python amqp library is missing')
        mq = rabbitmq.RabbitMQ(os.path.join(self.base, 'mq'), ADDRESS)
        self.start(mq)
        self.assertTrue(_listens(ADDRESS, mq.port))
        self.assertFalse(_listens(OTHER_ADDRESS, mq.port))
        self.assertIn('%s:%s@' % (mq.user, mq.password), mq.transport_url)
        self._login(mq, mq.user, mq.password)
        self.assertRaises(amqp.exceptions.AccessRefused,
                          self._login, mq, 'guest', 'guest')
        # Its node lives in our directory, not in /var/lib/rabbitmq.
        self.assertTrue(os.listdir(os.path.join(self.base, 'mq', 'mnesia')))
        pgids = {os.getpgid(p.pid) for p in self.procs}
        for proc in self.procs:
            self.stop(proc)
        for pgid in pgids:
            self.assertEqual([], self.group_members(pgid),
                             'a process of the broker outlived it')
        self.assertFalse(_listens('127.0.0.1', mq.epmd_port))


class TestMariaDB(_ServerTest):
    commands = (mariadb.INSTALL_DB, mariadb.SERVER, mariadb.CLIENT)

    def _query(self, db, user, password, sql):
        return subprocess.run(
            [mariadb.CLIENT, '--no-defaults', '--protocol=tcp',
             '--host=' + db.address, '--port=%d' % db.port,
             '--user=' + user, '--batch', '--skip-column-names', '-e', sql],
            env=dict(os.environ, MYSQL_PWD=password), capture_output=True,
            text=True)

    def test_private_server_and_a_database_per_service(self):
        db = mariadb.MariaDB(os.path.join(self.base, 'db'), ADDRESS)
        self.start(db)
        db.secure()
        url = db.create_database('nova')
        self.assertIn('@%s:%d/nova' % (ADDRESS, db.port), url)
        self.assertFalse(_listens(OTHER_ADDRESS, db.port))
        ok = self._query(db, 'nova', db.users['nova'], 'SELECT DATABASE()')
        self.assertEqual(0, ok.returncode, ok.stderr)
        ok = self._query(db, 'nova', db.users['nova'],
                         'CREATE TABLE nova.t (i INT); SHOW TABLES IN nova')
        self.assertEqual('t', ok.stdout.strip(), ok.stderr)
        # Each service sees its own database only; root needs the password.
        other = db.create_database('glance')
        self.assertNotEqual(url, other)
        denied = self._query(db, 'glance', db.users['glance'],
                             'SHOW TABLES IN nova')
        self.assertNotEqual(0, denied.returncode)
        self.assertIn('denied', denied.stderr)
        denied = self._query(db, 'root', '', 'SELECT 1')
        self.assertNotEqual(0, denied.returncode)
        proc = self.procs[0]
        self.stop(proc)
        self.assertFalse(_listens(ADDRESS, db.port))
