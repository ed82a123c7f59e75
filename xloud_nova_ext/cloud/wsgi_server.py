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


"""Serve a WSGI application on 127.0.0.1 with the standard library.

``python -m xloud_nova_ext.cloud.wsgi_server module:attribute PORT`` imports
the application and serves it with a threaded ``wsgiref`` server until
SIGTERM. keystone and Barbican ship WSGI applications but no server; the
standard library one is enough for a test cloud on loopback. One request at
a time: the services here keep their data in sqlite, which takes one writer
at a time ("database is locked" otherwise).
"""

import importlib
import signal
import sys
from wsgiref import simple_server


class _Server(simple_server.WSGIServer):
    allow_reuse_address = True


class _QuietHandler(simple_server.WSGIRequestHandler):
    def log_message(self, fmt, *args):
        sys.stderr.write('%s %s\n' % (self.address_string(), fmt % args))


def load(spec):
    module, _, attr = spec.partition(':')
    app = importlib.import_module(module)
    for name in (attr or 'application').split('.'):
        app = getattr(app, name)
    return app


def main(argv=None):
    spec, port = (argv or sys.argv[1:])[:2]
    # keystone and Barbican parse sys.argv as oslo.config arguments when
    # their application is built: give them none of ours.
    del sys.argv[1:]
    app = load(spec)
    server = simple_server.make_server(
        '127.0.0.1', int(port), app, server_class=_Server,
        handler_class=_QuietHandler)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    try:
        server.serve_forever()
    finally:
        server.server_close()


if __name__ == '__main__':
    main()
