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


"""nova 34's services in one process, with the compute API on real HTTP.

Run as ``python -m xloud_migration_cloud.nova_server CONFIG.json``. The
process builds the functional tier's cloud (nova's conductor, scheduler,
placement and four computes running XloudLibvirtDriver, with nova's own
fakes at the libvirt, image and network edge), serves nova's real
``osapi_compute`` WSGI pipeline, keystone authtoken included, on
127.0.0.1, writes a ready file and runs until SIGTERM.
"""

import json
import logging
import os
import signal
import sys


def write_paste(default_paste, path, keystone_url, password):
    """nova's api-paste.ini with keystonemiddleware pointed at keystone."""
    # Imported here, after eventlet's monkey patching (see main()).
    from xloud_harness import keystone
    with open(default_paste) as f:
        text = f.read()
    start = text.index('[filter:authtoken]')
    end = text.find('\n[', start + 1)
    end = len(text) if end < 0 else end
    text = text[:start] + keystone.authtoken_filter(
        keystone_url, 'nova', password).strip() + '\n' + text[end:]
    with open(path, 'w') as f:
        f.write(text)


def main(argv=None):
    with open((argv or sys.argv[1:])[0]) as f:
        config = json.load(f)
    default_paste = os.path.join(sys.prefix, 'etc', 'nova', 'api-paste.ini')
    # The harness's own (intercepted) API loads the default pipeline.
    os.environ.setdefault('OS_WSGI__API_PASTE_CONFIG', default_paste)
    # A server, not a test: nova's test base (oslotest) arms a per-test
    # alarm from OS_TEST_TIMEOUT (tox sets 240 s for its tiers), which
    # killed this API in the middle of a longer Tempest run, and the last
    # scenario then found no API.
    os.environ.pop('OS_TEST_TIMEOUT', None)

    from nova import monkey_patch
    monkey_patch.patch()
    import eventlet
    from eventlet import wsgi as eventlet_wsgi
    from nova.api import wsgi as nova_wsgi

    from xloud_migration_cloud import nova_cloud

    cloud = nova_cloud.NovaCloud(config)
    cloud.setUp()
    # nova's test logging fixture keeps records in memory; the cloud's log
    # is this process's output (nova.log).
    handler = logging.StreamHandler(sys.stdout)
    handler.setLevel(logging.INFO)
    handler.setFormatter(logging.Formatter(
        '%(asctime)s %(levelname)s %(name)s %(message)s'))
    logging.getLogger().addHandler(handler)
    try:
        paste = os.path.join(config['workdir'], 'api-paste.ini')
        write_paste(default_paste, paste, config['keystone_url'],
                    config['service_password'])
        app = nova_wsgi.Loader(paste).load_app('osapi_compute')
        sock = eventlet.listen(('127.0.0.1', config['port']))
        signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
        with open(config['ready_file'], 'w') as f:
            f.write(str(os.getpid()))
        eventlet_wsgi.server(sock, app, log=logging.getLogger('nova.api'),
                             log_output=True)
    finally:
        cloud.doCleanups()


if __name__ == '__main__':
    main()
