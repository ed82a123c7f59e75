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

"""MariaDB (Debian's ``mariadb-server``) as a child process.

A private data directory initialised at each start, no option file of the
machine read (``--no-defaults``), listening on one given address with a
root password made up at each start. ``databases`` are created with one
user each (random password) for the services that need them.
"""

import os
import secrets
import socket
import subprocess

INSTALL_DB = '/usr/bin/mariadb-install-db'
SERVER = '/usr/sbin/mariadbd'
CLIENT = '/usr/bin/mariadb'


def free_port(address='127.0.0.1'):
    with socket.socket() as s:
        s.bind((address, 0))
        return s.getsockname()[1]


class MariaDB:
    """One server under ``base`` on ``address``:``port``."""

    def __init__(self, base, address, port=None):
        self.base = base
        self.address = address
        self.port = port or free_port(address)
        self.root_password = secrets.token_urlsafe(18)
        self.users = {}

    @property
    def datadir(self):
        return os.path.join(self.base, 'data')

    @property
    def socket(self):
        return os.path.join(self.base, 'mysqld.sock')

    def prepare(self):
        """A fresh data directory (``mariadb-install-db``, about 0.5 s)."""
        os.makedirs(self.datadir, exist_ok=True)
        subprocess.run(
            [INSTALL_DB, '--no-defaults', '--datadir=' + self.datadir,
             '--user=root', '--auth-root-authentication-method=normal',
             '--skip-test-db', '--skip-name-resolve'],
            check=True, capture_output=True, stdin=subprocess.DEVNULL)

    def commands(self):
        return [('mariadb', [
            SERVER, '--no-defaults', '--datadir=' + self.datadir,
            '--socket=' + self.socket, '--port=%d' % self.port,
            '--bind-address=' + self.address, '--user=root',
            '--pid-file=' + os.path.join(self.base, 'mysqld.pid'),
            '--log-error=' + os.path.join(self.base, 'error.log'),
            '--innodb-buffer-pool-size=64M', '--skip-log-bin',
            '--skip-name-resolve', '--max-connections=500',
            # nova, placement and keystone each hold pools of connections.
            '--performance-schema=OFF',
        ], None)]

    def ready(self):
        with socket.socket() as s:
            s.settimeout(1)
            return s.connect_ex((self.address, self.port)) == 0

    def _sql(self, statements, password=None):
        argv = [CLIENT, '--no-defaults', '--socket=' + self.socket,
                '--user=root', '--batch', '--skip-column-names']
        env = dict(os.environ, MYSQL_PWD=password or '')
        return subprocess.run(argv, input=statements, text=True, check=True,
                              capture_output=True, env=env).stdout

    def secure(self):
        """Root only on the socket, with a password.

        ``mariadb-install-db`` leaves passwordless root accounts for
        localhost, 127.0.0.1, ::1 and the machine's host name.
        """
        hosts = self._sql("SELECT host FROM mysql.user WHERE user = 'root'"
                          " AND host <> 'localhost';\n").split()
        drops = ''.join("DROP USER 'root'@'%s';\n" % h for h in hosts)
        self._sql(drops + "ALTER USER 'root'@'localhost' IDENTIFIED BY '%s';\n"
                  % self.root_password)

    def create_database(self, name):
        """Database ``name`` with its own user; its SQLAlchemy URL."""
        password = secrets.token_urlsafe(18)
        self._sql(
            "CREATE DATABASE `{n}` CHARACTER SET utf8mb4;\n"
            "CREATE USER '{n}'@'%' IDENTIFIED BY '{p}';\n"
            "GRANT ALL ON `{n}`.* TO '{n}'@'%';\n".format(n=name, p=password),
            password=self.root_password)
        self.users[name] = password
        return self.url(name)

    def url(self, name):
        return 'mysql+pymysql://%s:%s@%s:%d/%s?charset=utf8mb4' % (
            name, self.users[name], self.address, self.port, name)
