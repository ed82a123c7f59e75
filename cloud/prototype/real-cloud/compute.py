"""Scratch: compute hosts in namespaces on the bridge, libvirtd + nova-compute."""
import json, os, shlex, signal, subprocess, sys, time, uuid
sys.path[:0] = ['/tmp/real-proto/lc']
import configs, network

VENV = '/tmp/real-proto/venv/bin'
WORK = '/run/xloud-cloud'
REAPER = '/work/wt/cloud/harness/xloud_harness/reaper.py'
PRIVATE = ('/etc/libvirt', '/run/libvirt', '/var/lib/libvirt', '/var/log/libvirt',
           '/var/cache/libvirt', '/var/log/swtpm', '/var/lib/swtpm-localca')
INSTANCES = '/var/lib/libvirt/nova-instances'
HOSTS = [
    {'name': 'xlc-a', 'ip': '10.78.0.11', 'driver': 'xloud.XloudLibvirtDriver', 'storage': 'shared'},
    {'name': 'xlc-b', 'ip': '10.78.0.12', 'driver': 'xloud.XloudLibvirtDriver', 'storage': 'shared'},
    {'name': 'xlc-c', 'ip': '10.78.0.13', 'driver': 'xloud.XloudLibvirtDriver', 'storage': 'local'},
    {'name': 'xlc-s', 'ip': '10.78.0.15', 'driver': 'libvirt.LibvirtDriver', 'storage': 'local'},
]
ALL = list(HOSTS)
HOSTS = [h for h in HOSTS if h['name'] in sys.argv[1:]]
T0 = time.monotonic()
def log(*a): print('[%6.1f]' % (time.monotonic() - T0), *a, flush=True)

def sh(argv, **kw):
    r = subprocess.run(argv, capture_output=True, text=True, **kw)
    if r.returncode: raise RuntimeError('%s: %s' % (argv, r.stderr))
    return r.stdout

cloud = json.load(open(WORK + '/cloud.json'))
ctx = cloud['ctx']
os.makedirs('/var/log/swtpm', exist_ok=True)
shim = WORK + '/bin'
os.makedirs(shim, exist_ok=True)
with open(shim + '/sudo', 'w') as f:
    f.write('#!/bin/sh\n# nova runs as root here: sudo only runs the command\nexec "$@"\n')
os.chmod(shim + '/sudo', 0o755)
shared = WORK + '/shared-instances'; os.makedirs(shared, exist_ok=True)
etc_hosts = '127.0.0.1\tlocalhost\n10.78.0.254\txlc-control\n' + ''.join('%s\t%s\n' % (h['ip'], h['name']) for h in ALL)
procs = []
for h in HOSTS:
    root = '%s/hosts/%s' % (WORK, h['name'])
    for d in PRIVATE + (INSTANCES,):
        os.makedirs(root + d, exist_ok=True)
    os.makedirs(root + '/nova/state', exist_ok=True); os.makedirs(root + '/nova/locks', exist_ok=True)
    open(root + '/etc/hosts', 'w').write(etc_hosts)
    open(root + '/etc/libvirt/libvirtd.conf', 'w').write(
        'listen_tls = 0\nlisten_tcp = 1\nauth_tcp = "none"\nauth_unix_rw = "none"\nauth_unix_ro = "none"\n'
        'host_uuid = "%s"\nlog_outputs = "3:file:/var/log/libvirt/libvirtd.log"\n' % uuid.uuid5(uuid.NAMESPACE_DNS, h['name'] + '.xloud-cloud'))
    open(root + '/etc/libvirt/qemu.conf', 'w').write(
        'user = "root"\ngroup = "root"\nsecurity_driver = "none"\nremember_owner = 0\nstdio_handler = "file"\n'
        'cgroup_controllers = [ ]\nnamespaces = [ ]\nswtpm_user = "root"\nswtpm_group = "root"\n'
        'migration_address = "%s"\nmigration_host = "%s"\n' % (h['ip'], h['ip']))
    binds = [(root + p, p) for p in PRIVATE] + [(root + '/etc/hosts', '/etc/hosts')]
    if h['storage'] == 'shared':
        script_extra = ['bindfs -o subtype=glusterfs,fsname=xloud-shared-instances %s %s' % (shared, INSTANCES)]
    else:
        script_extra = []
    for kind in ('net', 'uts'):
        open('%s/%s.ns' % (root, kind), 'w').close()
    script = ['set -e', 'ip link set lo up', 'hostname ' + h['name']]
    script += ['mount --bind %s %s' % (shlex.quote(s), shlex.quote(t)) for s, t in binds]
    script += script_extra
    script += ['echo $$ > %s/holder.pid' % root, 'exec sleep infinity']
    p = subprocess.Popen(['unshare', '--net=%s/net.ns' % root, '--uts=%s/uts.ns' % root, '--mount',
                          '--propagation', 'private', '--', 'sh', '-c', '\n'.join(script)],
                         start_new_session=True, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    while not os.path.exists(root + '/holder.pid'):
        time.sleep(0.05)
    holder = int(open(root + '/holder.pid').read())
    h['enter'] = ['nsenter', '--net=%s/net.ns' % root, '--uts=%s/uts.ns' % root, '--mount=/proc/%d/ns/mnt' % holder, '--']
    h['root'] = root
    network.plug('%s/net.ns' % root, h['name'] + '-e', h['ip'], '10.78.0.254')
    lv = open(root + '/var/log/libvirt/libvirtd.stderr.log', 'ab')
    subprocess.Popen(h['enter'] + [sys.executable, REAPER, 'taskset', '-c', '0', 'libvirtd', '--listen',
                     '--pid-file', root + '/libvirtd.pid'], stdout=lv, stderr=lv, stdin=subprocess.DEVNULL,
                     start_new_session=True)
    log('host', h['name'], 'libvirtd starting')
for h in HOSTS:
    root = h['root']
    hc = dict(ctx, instances_path=INSTANCES, cpu_model='Nehalem')
    conf = configs.nova_compute(hc, dict(h, state_path=root + '/nova/state', lock_path=root + '/nova/locks'))
    open(root + '/nova/nova-cpu.conf', 'w').write(configs.ini(conf))
    # wait for libvirtd
    t = time.monotonic()
    while sh(h['enter'] + ['virsh', '-c', 'qemu:///system', 'uri'], ).strip() != 'qemu:///system':
        time.sleep(0.5)
    log('host', h['name'], 'libvirtd answers')
    env = dict(os.environ, PATH='%s:%s:%s' % (shim, VENV, os.environ['PATH']))
    out = open(root + '/nova/nova-compute.log', 'ab')
    subprocess.Popen(h['enter'] + [VENV + '/nova-compute', '--config-file', root + '/nova/nova-cpu.conf'],
                     env=env, stdout=out, stderr=out, stdin=subprocess.DEVNULL, start_new_session=True)
    log('host', h['name'], 'nova-compute started')
