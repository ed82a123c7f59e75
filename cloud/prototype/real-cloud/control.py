"""Scratch: the control plane of the real cloud, on the bridge address."""
import json, os, secrets, shutil, signal, subprocess, sys, time
sys.path[:0] = ['/work/wt/real/harness', '/tmp/real-proto/lc']
from xloud_harness.servers import mariadb, rabbitmq
import configs, network

VENV = '/tmp/real-proto/venv/bin'
PY = VENV + '/python'
WORK = '/run/xloud-cloud'
IP = '10.78.0.254'
PORTS = {'keystone': 5000, 'placement': 8778, 'nova': 8774, 'glance': 9292,
         'barbican': 9311, 'network': 9696}
procs = []

def log(*a):
    print('[%6.1f]' % (time.monotonic() - T0), *a, flush=True)

def spawn(name, argv, env=None, cwd=None):
    out = open(os.path.join(WORK, 'logs', name + '.log'), 'ab')
    p = subprocess.Popen(argv, env=env, cwd=cwd, stdout=out, stderr=subprocess.STDOUT,
                         stdin=subprocess.DEVNULL, start_new_session=True)
    procs.append((name, p))
    return p

def wait(pred, what, timeout=300):
    t = time.monotonic()
    while not pred():
        for n, p in procs:
            if p.poll() is not None and n not in ('rabbitmq',):
                raise SystemExit('%s exited %s' % (n, p.returncode))
        if time.monotonic() - t > timeout:
            raise SystemExit('timeout: ' + what)
        time.sleep(0.2)
    log('ready:', what, '%.1fs' % (time.monotonic() - t))

def listening(port):
    import socket
    with socket.socket() as s:
        s.settimeout(1)
        return s.connect_ex((IP, port)) == 0

def run(argv, env=None):
    r = subprocess.run(argv, env=env, capture_output=True, text=True)
    if r.returncode:
        raise SystemExit('%s: %s' % (argv, r.stderr[-3000:]))
    return r.stdout

def write(path, text, mode=0o600):
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    with os.fdopen(fd, 'w') as f:
        f.write(text)

def stop_all():
    for n, p in reversed(procs):
        try:
            os.killpg(p.pid, signal.SIGTERM)
        except ProcessLookupError:
            pass
    for n, p in reversed(procs):
        try:
            p.wait(15)
        except subprocess.TimeoutExpired:
            os.killpg(p.pid, signal.SIGKILL)
    network.remove([])

T0 = time.monotonic()
network.remove([])
shutil.rmtree(WORK, ignore_errors=True)
os.makedirs(WORK + '/logs')
try:
    network.add_bridge(IP)
    db = mariadb.MariaDB(WORK + '/mariadb', IP)
    db.prepare()
    for n, argv, env in db.commands():
        spawn(n, argv, env)
    mq = rabbitmq.RabbitMQ(WORK + '/rabbitmq', IP)
    mq.prepare()
    for n, argv, env in mq.commands():
        spawn(n, argv, env)
        time.sleep(0.3)
    wait(db.ready, 'mariadb')
    db.secure()
    urls = {n: db.create_database(n) for n in ('keystone', 'nova_api', 'nova', 'nova_cell0', 'placement', 'glance')}
    service_password = secrets.token_urlsafe(12)
    admin_password = secrets.token_urlsafe(12)
    ks_url = 'http://%s:%d/v3' % (IP, PORTS['keystone'])
    # keystone
    kdir = WORK + '/keystone'; os.makedirs(kdir)
    write(kdir + '/keystone.conf', configs.ini({
        'DEFAULT': {'use_stderr': True},
        'database': {'connection': urls['keystone']},
        'identity': {'password_hash_rounds': 4},
        'token': {'provider': 'fernet'},
        'fernet_tokens': {'key_repository': kdir + '/fernet-keys'},
        'fernet_receipts': {'key_repository': kdir + '/fernet-keys'},
        'credential': {'key_repository': kdir + '/credential-keys'}}))
    km = [VENV + '/keystone-manage', '--config-file', kdir + '/keystone.conf']
    run(km + ['db_sync']); log('keystone db_sync')
    u = ['--keystone-user', 'root', '--keystone-group', 'root']
    run(km + ['fernet_setup'] + u); run(km + ['credential_setup'] + u)
    run(km + ['bootstrap', '--bootstrap-password', admin_password,
              '--bootstrap-region-id', 'RegionOne', '--bootstrap-public-url', ks_url,
              '--bootstrap-internal-url', ks_url, '--bootstrap-admin-url', ks_url])
    spawn('keystone', [PY, '/tmp/real-proto/lc/wsgi_any.py', 'keystone.wsgi.api:application', IP, str(PORTS['keystone'])],
          env=dict(os.environ, OS_KEYSTONE_CONFIG_FILES=kdir + '/keystone.conf'))
    # placement
    pdir = WORK + '/placement'; os.makedirs(pdir)
    write(pdir + '/placement.conf', configs.ini({
        'DEFAULT': {'use_stderr': True},
        'placement_database': {'connection': urls['placement']},
        'api': {'auth_strategy': 'keystone'},
        'keystone_authtoken': {'www_authenticate_uri': ks_url, 'auth_url': ks_url,
            'auth_type': 'password', 'username': 'placement', 'password': service_password,
            'project_name': 'service', 'user_domain_name': 'Default', 'project_domain_name': 'Default'}}))
    penv = dict(os.environ, OS_PLACEMENT_CONFIG_DIR=pdir)
    run([VENV + '/placement-manage', '--config-file', pdir + '/placement.conf', 'db', 'sync']); log('placement db sync')
    spawn('placement', [PY, '/tmp/real-proto/lc/wsgi_any.py', 'placement.wsgi.api:application', IP, str(PORTS['placement'])], env=penv)
    wait(lambda: listening(PORTS['keystone']), 'keystone')
    # seed keystone
    from keystoneauth1.identity import v3
    from keystoneauth1 import session as kss
    from keystoneclient.v3 import client as kc
    ks = kc.Client(session=kss.Session(auth=v3.Password(auth_url=ks_url, username='admin',
        password=admin_password, project_name='admin', user_domain_id='default', project_domain_id='default')))
    roles = {r.name: r for r in ks.roles.list()}
    for r in ('service', 'member', 'reader'):
        roles.setdefault(r, None) or roles.__setitem__(r, ks.roles.create(r))
    sp = ks.projects.create('service', 'default')
    for n in ('nova', 'placement', 'neutron', 'glance', 'barbican'):
        usr = ks.users.create(n, domain='default', password=service_password, default_project=sp)
        for r in ('admin', 'service'):
            ks.roles.grant(roles[r], user=usr, project=sp)
    for stype, name, url in (('compute', 'nova', 'http://%s:%d/v2.1' % (IP, PORTS['nova'])),
                             ('placement', 'placement', 'http://%s:%d' % (IP, PORTS['placement'])),
                             ('network', 'neutron', 'http://%s:%d' % (IP, PORTS['network'])),
                             ('image', 'glance', 'http://%s:%d' % (IP, PORTS['glance']))):
        svc = ks.services.create(name, type=stype)
        for i in ('public', 'internal', 'admin'):
            ks.endpoints.create(svc, url, interface=i, region='RegionOne')
    log('keystone seeded')
    wait(mq.ready, 'rabbitmq')
    # nova
    ndir = WORK + '/nova'; os.makedirs(ndir + '/state'); os.makedirs(ndir + '/locks')
    shutil.copy(os.path.join(os.path.dirname(VENV), 'etc/nova/api-paste.ini'), ndir + '/api-paste.ini')
    ctx = {'transport_url': mq.transport_url, 'state_path': ndir + '/state', 'lock_path': ndir + '/locks',
           'keystone_url': ks_url, 'service_password': service_password,
           'network_url': 'http://%s:%d' % (IP, PORTS['network']),
           'image_url': 'http://%s:%d' % (IP, PORTS['glance']),
           'barbican_url': 'http://%s:%d' % (IP, PORTS['barbican']),
           'control_ip': IP, 'api_paste': ndir + '/api-paste.ini',
           'db': {'nova_api': urls['nova_api'], 'nova': urls['nova']}}
    write(ndir + '/nova.conf', configs.ini(configs.nova_control(ctx)))
    nm = [VENV + '/nova-manage', '--config-file', ndir + '/nova.conf']
    run(nm + ['api_db', 'sync']); log('nova api_db sync')
    run(nm + ['cell_v2', 'map_cell0', '--database_connection', urls['nova_cell0']])
    run(nm + ['cell_v2', 'create_cell', '--name', 'cell1'])
    run(nm + ['db', 'sync']); log('nova db sync')
    nenv = dict(os.environ, OS_NOVA_CONFIG_DIR=ndir, OS_NOVA_CONFIG_FILES='api-paste.ini;nova.conf')
    spawn('nova-api', [PY, '/tmp/real-proto/lc/wsgi_any.py', 'nova.wsgi.osapi_compute:application', IP, str(PORTS['nova'])], env=nenv)
    spawn('nova-conductor', [VENV + '/nova-conductor', '--config-file', ndir + '/nova.conf'])
    spawn('nova-scheduler', [VENV + '/nova-scheduler', '--config-file', ndir + '/nova.conf'])
    wait(lambda: listening(PORTS['placement']), 'placement')
    wait(lambda: listening(PORTS['nova']), 'nova-api')
    # glance
    gdir = WORK + '/glance'
    for d in ('images', 'staging', 'tasks', 'locks'):
        os.makedirs(gdir + '/' + d)
    shutil.copy(os.path.join(os.path.dirname(VENV), 'etc/glance/glance-api-paste.ini'), gdir)
    write(gdir + '/glance-api.conf', configs.ini({
        'DEFAULT': {'use_stderr': True, 'enabled_backends': 'fs:file',
                    'bind_host': IP, 'bind_port': PORTS['glance']},
        'database': {'connection': urls['glance']},
        'glance_store': {'default_backend': 'fs'},
        'fs': {'filesystem_store_datadir': gdir + '/images'},
        'os_glance_staging_store': {'filesystem_store_datadir': gdir + '/staging'},
        'os_glance_tasks_store': {'filesystem_store_datadir': gdir + '/tasks'},
        'oslo_concurrency': {'lock_path': gdir + '/locks'},
        'paste_deploy': {'flavor': 'keystone', 'config_file': gdir + '/glance-api-paste.ini'},
        'keystone_authtoken': {'www_authenticate_uri': ks_url, 'auth_url': ks_url,
            'auth_type': 'password', 'username': 'glance', 'password': service_password,
            'project_name': 'service', 'user_domain_name': 'Default', 'project_domain_name': 'Default'}}))
    run([VENV + '/glance-manage', '--config-file', gdir + '/glance-api.conf', 'db_sync']); log('glance db_sync')
    spawn('glance', [PY, '/tmp/real-proto/lc/wsgi_any.py', 'glance.wsgi.api:application', IP, str(PORTS['glance'])],
          env=dict(os.environ, OS_GLANCE_CONFIG_DIR=gdir))
    wait(lambda: listening(PORTS['glance']), 'glance')
    spawn('network-stub', [PY, '/tmp/real-proto/lc/wsgi_any.py', 'network_stub:application', IP, str(PORTS['network'])],
          env=dict(os.environ, PYTHONPATH='/tmp/real-proto/lc'))
    json.dump({'ctx': ctx, 'admin_password': admin_password, 'keystone': ks_url, 'db_root': db.root_password, 'db_port': db.port}, open(WORK + '/cloud.json', 'w'))
    log('control plane up; Ctrl-C to stop')
    signal.signal(signal.SIGTERM, lambda *a: sys.exit(0))
    while True:
        time.sleep(5)
        for n, p in procs:
            if p.poll() is not None:
                log('DIED', n, p.returncode)
finally:
    stop_all()
    log('stopped')
