import json, os, shutil, subprocess, sys, time
sys.path[:0] = ['/tmp/real-proto/lc']
import configs
VENV = '/tmp/real-proto/venv/bin'; PY = VENV + '/python'
WORK = '/run/xloud-cloud'; IP = '10.78.0.254'
c = json.load(open(WORK + '/cloud.json')); ctx = c['ctx']; ks_url = c['keystone']
gdir = WORK + '/glance'
for d in ('images', 'staging', 'tasks', 'locks'):
    os.makedirs(gdir + '/' + d, exist_ok=True)
shutil.copy(os.path.join(os.path.dirname(VENV), 'etc/glance/glance-api-paste.ini'), gdir)
open(gdir + '/glance-api.conf', 'w').write(configs.ini({
    'DEFAULT': {'use_stderr': True, 'enabled_backends': 'fs:file'},
    'database': {'connection': 'sqlite:///%s/glance.db' % gdir},
    'glance_store': {'default_backend': 'fs'},
    'fs': {'filesystem_store_datadir': gdir + '/images'},
    'os_glance_staging_store': {'filesystem_store_datadir': gdir + '/staging'},
    'os_glance_tasks_store': {'filesystem_store_datadir': gdir + '/tasks'},
    'oslo_concurrency': {'lock_path': gdir + '/locks'},
    'paste_deploy': {'flavor': 'keystone', 'config_file': gdir + '/glance-api-paste.ini'},
    'keystone_authtoken': {'www_authenticate_uri': ks_url, 'auth_url': ks_url,
        'auth_type': 'password', 'username': 'glance', 'password': ctx['service_password'],
        'project_name': 'service', 'user_domain_name': 'Default', 'project_domain_name': 'Default'}}))
r = subprocess.run([VENV + '/glance-manage', '--config-file', gdir + '/glance-api.conf', 'db_sync'], capture_output=True, text=True)
print('db_sync', r.returncode, r.stderr[-1500:])
for name, argv, env in (('glance', [PY, '/tmp/real-proto/lc/wsgi_any.py', 'glance.wsgi.api:application', IP, '9292'], dict(os.environ, OS_GLANCE_CONFIG_DIR=gdir)),
                        ('network-stub', [PY, '/tmp/real-proto/lc/wsgi_any.py', 'network_stub:application', IP, '9696'], dict(os.environ, PYTHONPATH='/tmp/real-proto/lc'))):
    out = open(WORK + '/logs/%s.log' % name, 'ab')
    p = subprocess.Popen(argv, env=env, stdout=out, stderr=out, stdin=subprocess.DEVNULL, start_new_session=True)
    print(name, p.pid)
