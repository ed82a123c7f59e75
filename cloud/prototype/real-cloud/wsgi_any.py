"""Serve a WSGI app on ADDRESS:PORT, threaded (scratch)."""
import importlib, os, signal, socketserver, sys
from wsgiref import simple_server

class Server(socketserver.ThreadingMixIn, simple_server.WSGIServer):
    allow_reuse_address = True
    daemon_threads = True

def main():
    spec, address, port = sys.argv[1:4]
    del sys.argv[1:]
    module, _, attr = spec.partition(':')
    app = importlib.import_module(module)
    for name in (attr or 'application').split('.'):
        app = getattr(app, name)
    server = simple_server.make_server(address, int(port), app, server_class=Server)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    server.serve_forever()

main()
