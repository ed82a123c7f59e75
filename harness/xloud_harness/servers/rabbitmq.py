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

"""RabbitMQ (Debian's ``rabbitmq-server``) as a child process.

Nothing of the machine's own broker is used: the node's database, logs,
Erlang cookie, configuration and plugin list live in a private directory,
it listens on one given address, with a user and password made up at each
start. The Debian wrapper ``/usr/sbin/rabbitmq-server`` is bypassed: it drops
root for the ``rabbitmq`` user (whose home and log directories would then
have to be ours to chown) and lets the broker start a system-wide
``epmd -daemon`` that outlives it. Here the Erlang port mapper is a child of
ours too, on loopback and a port of its own.
"""

import os
import secrets
import socket

BROKER = '/usr/lib/rabbitmq/bin/rabbitmq-server'
EPMD = '/usr/bin/epmd'


def free_port(address='127.0.0.1'):
    with socket.socket() as s:
        s.bind((address, 0))
        return s.getsockname()[1]


class RabbitMQ:
    """One broker node under ``base``, listening on ``address``:``port``.

    ``commands()`` gives the two processes to start in order (the port
    mapper, then the broker), each as ``(name, argv, env)``;
    :attr:`transport_url` is what oslo.messaging needs.
    """

    def __init__(self, base, address, port=None):
        self.base = base
        self.address = address
        self.port = port or free_port(address)
        self.epmd_port = free_port()
        self.dist_port = free_port(address)
        self.user = 'xloud-' + secrets.token_hex(4)
        self.password = secrets.token_urlsafe(18)

    @property
    def transport_url(self):
        return 'rabbit://%s:%s@%s:%d/' % (
            self.user, self.password, self.address, self.port)

    def _path(self, *parts):
        return os.path.join(self.base, *parts)

    def prepare(self):
        """Write the node's private configuration (mode 0600: a password)."""
        for d in ('mnesia', 'log', 'home'):
            os.makedirs(self._path(d), exist_ok=True)
        files = {
            'rabbitmq.conf': '\n'.join([
                'listeners.tcp.default = %s:%d' % (self.address, self.port),
                'default_user = %s' % self.user,
                'default_pass = %s' % self.password,
                # The user connects from other namespaces, not loopback.
                'loopback_users = none',
                'log.console = false',
                'log.file.level = info',
                # This node is alone and small; no alarm on a busy machine.
                'vm_memory_high_watermark.absolute = 512MiB',
                'disk_free_limit.absolute = 50MB',
                '']),
            'enabled_plugins': '[].\n',
            'rabbitmq-env.conf': '',
        }
        for name, text in files.items():
            fd = os.open(self._path(name),
                         os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            with os.fdopen(fd, 'w') as f:
                f.write(text)

    def _env(self):
        env = {k: v for k, v in os.environ.items()
               if not k.startswith(('RABBITMQ_', 'ERL_'))}
        ip = self.address.replace('.', ',')
        env.update({
            'HOME': self._path('home'),
            'ERL_EPMD_ADDRESS': '127.0.0.1',
            'ERL_EPMD_PORT': str(self.epmd_port),
            'RABBITMQ_NODENAME': 'xloud@localhost',
            'RABBITMQ_NODE_IP_ADDRESS': self.address,
            'RABBITMQ_NODE_PORT': str(self.port),
            'RABBITMQ_DIST_PORT': str(self.dist_port),
            'RABBITMQ_MNESIA_BASE': self._path('mnesia'),
            'RABBITMQ_LOG_BASE': self._path('log'),
            'RABBITMQ_CONFIG_FILE': self._path('rabbitmq.conf'),
            'RABBITMQ_ADVANCED_CONFIG_FILE': self._path('advanced.config'),
            'RABBITMQ_ENABLED_PLUGINS_FILE': self._path('enabled_plugins'),
            'RABBITMQ_CONF_ENV_FILE': self._path('rabbitmq-env.conf'),
            # Erlang distribution on our address only, not on all of them.
            'RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS':
                '-kernel inet_dist_use_interface {%s}' % ip,
        })
        return env

    def commands(self):
        env = self._env()
        return [
            ('epmd', [EPMD, '-address', '127.0.0.1',
                      '-port', str(self.epmd_port)], env),
            ('rabbitmq', [BROKER], env),
        ]

    def ready(self):
        """True once the broker accepts AMQP connections."""
        with socket.socket() as s:
            s.settimeout(1)
            return s.connect_ex((self.address, self.port)) == 0
