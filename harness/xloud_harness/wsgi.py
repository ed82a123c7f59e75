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


"""Serve one WSGI application on 127.0.0.1 with the standard library.

``python -m xloud_harness.wsgi [--address IP] [--threads] APP PORT
[PORT_FILE]`` serves ``APP`` until SIGTERM. ``APP`` is ``module:attribute``
or ``paste:CONFIG_PATH#NAME`` (a paste.deploy pipeline). With ``PORT`` 0 it
binds a free port and, once the application is loaded, writes the port to
``PORT_FILE``. ``--address`` binds another address of ours (the real cloud's
bridge) instead of loopback; ``--threads`` serves requests in parallel, for
services whose database takes concurrent writers (MariaDB).

keystone and Barbican ship WSGI applications but no server; wsgiref is
enough for services on loopback. Without ``--threads`` it serves one request
at a time, which services keeping their data in sqlite need anyway: sqlite
takes one writer at a time ("database is locked" otherwise).
"""

import importlib
import os
import signal
import socketserver
import sys
from wsgiref import simple_server


class _Server(simple_server.WSGIServer):
    allow_reuse_address = True


class _ThreadingServer(socketserver.ThreadingMixIn, _Server):
    daemon_threads = True


class _Handler(simple_server.WSGIRequestHandler):
    def log_message(self, fmt, *args):
        sys.stderr.write('%s %s\n' % (self.address_string(), fmt % args))


def load(spec):
    """The application named by ``spec`` (see the module docstring)."""
    if spec.startswith('paste:'):
        path, _, name = spec[len('paste:'):].partition('#')
        from paste import deploy
        return deploy.loadapp('config:' + os.path.abspath(path),
                              name=name or 'main')
    module, _, attr = spec.partition(':')
    app = importlib.import_module(module)
    for name in (attr or 'application').split('.'):
        app = getattr(app, name)
    return app


def _write_port(path, port):
    tmp = path + '.tmp'
    with open(tmp, 'w') as f:
        f.write(str(port))
    os.rename(tmp, path)


def main(argv=None):
    args = list(argv or sys.argv[1:])
    address, server_class = '127.0.0.1', _Server
    while args and args[0].startswith('--'):
        option = args.pop(0)
        if option == '--address':
            address = args.pop(0)
        elif option == '--threads':
            server_class = _ThreadingServer
        else:
            sys.exit('unknown option %s' % option)
    spec, port = args[0], int(args[1])
    port_file = args[2] if len(args) > 2 else None
    # keystone and Barbican parse sys.argv as oslo.config arguments when
    # their application is built: give them none of ours.
    del sys.argv[1:]
    server = simple_server.make_server(address, port, None,
                                       server_class=server_class,
                                       handler_class=_Handler)
    server.set_app(load(spec))
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    if port_file:
        _write_port(port_file, server.server_port)
    try:
        server.serve_forever()
    finally:
        server.server_close()


if __name__ == '__main__':
    main()
