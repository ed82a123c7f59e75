import os, subprocess, sys
VENV = '/tmp/real-proto/venv/bin'
WORK = '/run/xloud-cloud'
for name in sys.argv[1:]:
    root = '%s/hosts/%s' % (WORK, name)
    holder = int(open(root + '/holder.pid').read())
    enter = ['nsenter', '--net=%s/net.ns' % root, '--uts=%s/uts.ns' % root, '--mount=/proc/%d/ns/mnt' % holder, '--']
    env = dict(os.environ, PATH='%s/bin:%s:%s' % (WORK, VENV, os.environ['PATH']))
    out = open(root + '/nova/nova-compute.log', 'ab')
    p = subprocess.Popen(enter + [VENV + '/nova-compute', '--config-file', root + '/nova/nova-cpu.conf'],
                     env=env, stdout=out, stderr=out, stdin=subprocess.DEVNULL, start_new_session=True)
    print(name, p.pid)
