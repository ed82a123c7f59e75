import json, os, subprocess, sys, time
from keystoneauth1.identity import v3
from keystoneauth1 import session as kss
sys.path[:0] = ['/work/wt/real/harness']
from xloud_harness.heartbeat import build, lines
WORK = '/run/xloud-cloud'
c = json.load(open(WORK + '/cloud.json'))
s = kss.Session(auth=v3.Password(auth_url=c['keystone'], username='admin', password=c['admin_password'],
    project_name='admin', user_domain_id='default', project_domain_id='default'))
N = 'http://10.78.0.254:8774/v2.1'; G = 'http://10.78.0.254:9292'
H = {'OpenStack-API-Version': 'compute 2.74', 'X-OpenStack-Nova-API-Version': '2.74'}
T0 = time.monotonic()
def log(*a): print('[%6.1f]' % (time.monotonic() - T0), *a, flush=True)

def image(name, path, disk_format, container_format, props=None):
    body = dict({'name': name, 'disk_format': disk_format, 'container_format': container_format, 'visibility': 'public'}, **(props or {}))
    img = s.post(G + '/v2/images', json=body).json()
    with open(path, 'rb') as f:
        s.put(G + '/v2/images/%s/file' % img['id'], data=f, headers={'Content-Type': 'application/octet-stream'})
    return img['id']

def wait(fn, what, timeout=600):
    t = time.monotonic()
    while True:
        v = fn()
        if v: return v
        if time.monotonic() - t > timeout: raise SystemExit('timeout ' + what)
        time.sleep(2)

cmd = sys.argv[1]
if cmd == 'setup':
    g = build.build()
    disk = WORK + '/root.qcow2'
    subprocess.run(['qemu-img', 'create', '-f', 'qcow2', disk, '64M'], check=True, capture_output=True)
    k = image('xloud-heartbeat-kernel', g.kernel, 'aki', 'aki')
    r = image('xloud-heartbeat-ramdisk', g.initramfs, 'ari', 'ari')
    i = image('xloud-heartbeat', disk, 'qcow2', 'bare', {'kernel_id': k, 'ramdisk_id': r, 'os_command_line': g.cmdline})
    f = s.post(N + '/flavors', json={'flavor': {'name': 'xloud.tiny', 'ram': 128, 'vcpus': 1, 'disk': 1, 'id': 'xt'}}, headers=H).json()
    json.dump({'image': i, 'flavor': 'xt'}, open(WORK + '/client.json', 'w'))
    log('images', k, r, i)
elif cmd == 'boot':
    cj = json.load(open(WORK + '/client.json'))
    srv = s.post(N + '/servers', headers=H, json={'server': {'name': 'hb1', 'imageRef': cj['image'], 'flavorRef': cj['flavor'],
        'networks': 'none', 'host': sys.argv[2]}}).json()['server']
    sid = srv['id']; log('server', sid)
    def active():
        st = s.get(N + '/servers/' + sid, headers=H).json()['server']
        if st['status'] == 'ERROR': raise SystemExit(json.dumps(st.get('fault')))
        return st['status'] == 'ACTIVE' and st
    st = wait(active, 'ACTIVE'); log('ACTIVE on', st['OS-EXT-SRV-ATTR:host'])
    print(sid)
elif cmd == 'console':
    sid = sys.argv[2]
    out = s.post(N + '/servers/%s/action' % sid, headers=H, json={'os-getConsoleOutput': {'length': 20}}).json()
    text = out.get('output', out)
    print(text if isinstance(text, str) else out)
    print(lines.parse(text)[-3:] if isinstance(text, str) else '')
elif cmd == 'migrate':
    sid, dest = sys.argv[2], sys.argv[3]
    r = s.post(N + '/servers/%s/action' % sid, headers=H, json={'os-migrateLive': {'host': dest, 'block_migration': 'auto'}}, raise_exc=False)
    log('migrate', r.status_code, r.text[:300])
    def done():
        ms = s.get(N + '/os-migrations?instance_uuid=%s' % sid, headers=H).json()['migrations']
        m = ms[0] if ms else None
        return m and m['status'] in ('completed', 'error', 'failed') and m
    m = wait(done, 'migration'); log('migration', m['status'], m['source_compute'], '->', m['dest_compute'])
