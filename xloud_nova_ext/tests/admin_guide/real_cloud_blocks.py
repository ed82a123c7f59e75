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

"""The guides' blocks that need a real hypervisor, run on the real cloud.

The real-cloud tier (tox.ini) runs this module once its scenarios ran,
with ``xloud-migration-demo --hypervisor libvirt --then``: the cloud is
still up and its admin's credentials are in ``OS_*``, as an operator's
openrc puts them. Each block is read from its .rst and run as the page
shows it, where the page says: a command ``# on the destination`` runs on
the cloud's small-storage host (``xlc-c``, the block migration scenarios'
destination), entered as nova itself enters a host (the cloud's ``ssh``,
into that host's namespaces, where ``/var/lib/nova/instances`` is its
instances filesystem); the server the page names (``web-1``) is a
heartbeat guest booted under that name.

Not named ``test_*``: only the real cloud can run it, so the admin-guide
tier's discovery must not pick it up.
"""

import os
import re
import shlex

from keystoneauth1 import adapter
from keystoneauth1.identity import v3
from keystoneauth1 import session as ks_session
from xloud_harness.heartbeat import lines as heartbeat
from xloud_harness import poll
from xloud_harness import testing

from xloud_nova_ext.tests.admin_guide import shell_blocks
from xloud_nova_ext.tests import requirements

#: Where nova looks for room on a block migration's destination, in every
#: host of the real cloud.
INSTANCES_PATH = '/var/lib/nova/instances'
#: The destination: its own small ext4 (xloud_migration_cloud.real.layout:
#: SMALL_FS_MB, of which a ballast leaves SMALL_FREE_MB free).
DEST, DEST_FS_MB, DEST_FREE_MB = 'xlc-c', 1536, 440
SOURCE = 'xlc-a'
#: The cloud's ssh (xloud_migration_cloud.real.hosts.SHIM_DIR).
SSH = '/run/xloud-cloud/bin/ssh'
#: The heartbeat guest's image and flavor (xloud_migration_cloud.real).
IMAGE, FLAVOR = 'xloud-heartbeat', 'xl1'
#: The console lines the block asks for.
LINES = 50
_SIZE = re.compile(r'^(?P<number>\d+(?:\.\d+)?)(?P<unit>[KMGT]?)$')


def mib(human):
    """MiB of one of ``df -h``'s sizes (``1.4G``, ``396M``, ``0``)."""
    match = _SIZE.match(human)
    assert match, human
    power = ' KMGT'.index(match['unit'] or ' ')
    return float(match['number']) * 1024 ** power / 2 ** 20


class RealCloudBlocksTest(testing.TestCase):

    def setUp(self):
        super().setUp()
        requirements.require(
            self, 'OS_AUTH_URL' in os.environ and os.path.exists(SSH),
            'needs the real cloud up, its admin in OS_*: the real-cloud '
            'tier runs this (xloud-migration-demo --then)')
        self.env = dict(os.environ)

    def session(self):
        auth = v3.Password(
            auth_url=os.environ['OS_AUTH_URL'],
            username=os.environ['OS_USERNAME'],
            password=os.environ['OS_PASSWORD'],
            project_name=os.environ['OS_PROJECT_NAME'],
            user_domain_name=os.environ['OS_USER_DOMAIN_NAME'],
            project_domain_name=os.environ['OS_PROJECT_DOMAIN_NAME'])
        return ks_session.Session(auth=auth)

    def test_room_on_the_destination(self):
        b = shell_blocks.block('admin/prerequisites.rst',
                               'df -h ' + INSTANCES_PATH)
        self.assertEqual(1, len(b.commands), b.commands)
        command = b.commands[0]
        self.assertIn('# on the destination', command)
        # As nova reaches the destination: the host's own namespaces.
        proc = self.run_block(b, '%s %s %s' % (SSH, DEST, shlex.quote(
            command)))
        printed = proc.stdout.splitlines()
        self.assertEqual(2, len(printed), proc.stdout)
        # The page's example has df's header and a row of the same
        # filesystem: its header, and its mount point, are what df prints.
        self.assertEqual(2, len(b.output), b.output)
        self.assertIsNone(shell_blocks.drift(b.output[:1], printed[:1]),
                          'the page shows a header that df does not print')
        device, size, used, avail, use, mounted = printed[1].split()
        self.assertEqual(b.output[1].split()[-1], mounted)
        # The host's own instances filesystem, not the machine's: xlc-c's
        # small ext4 on its loop device, with the room the cloud left.
        self.assertEqual(INSTANCES_PATH, mounted)
        self.assertRegex(device, r'^/dev/loop\d+$')
        self.assertLess(DEST_FS_MB * 0.85, mib(size), printed)
        self.assertLessEqual(mib(size), DEST_FS_MB, printed)
        self.assertLess(100, mib(avail), printed)
        self.assertLessEqual(mib(avail), DEST_FREE_MB * 1.05, printed)

    def test_console_log_of_the_guest(self):
        b = shell_blocks.block('admin/verification.rst',
                               'openstack console log show')
        self.assertEqual(['openstack console log show --lines %d web-1'
                          % LINES], b.commands)
        session = self.session()
        compute = adapter.Adapter(session, service_type='compute',
                                  default_microversion='2.74')
        server = self.boot(session, compute, 'web-1', SOURCE)
        # Once the guest has printed more heartbeats than the block asks.
        poll.wait_until(lambda: len(heartbeat.parse(self.console(
            compute, server))) > LINES, 180, 1,
            what='%d heartbeats on the console of %s' % (LINES, server))
        proc = self.run_block(b, b.commands[0])
        printed = proc.stdout.rstrip('\n').splitlines()
        self.assertLessEqual(len(printed), LINES, proc.stdout)
        beats = heartbeat.parse(proc.stdout)
        # The last lines of a running heartbeat guest: heartbeats, one a
        # line, none lost or repeated (the last one may be cut mid-line).
        self.assertGreaterEqual(len(beats), LINES - 2, proc.stdout)
        self.assertEqual(1, len({beat.boot_id for beat in beats}), beats)
        seqs = [beat.seq for beat in beats]
        self.assertEqual(list(range(seqs[0], seqs[0] + len(seqs))), seqs)
        for crash in ('Kernel panic', 'Oops:', 'Linux version'):
            self.assertNotIn(crash, proc.stdout)

    def run_block(self, b, script):
        """Run ``script`` (block ``b``'s); print it and what it printed."""
        proc = shell_blocks.bash(script, '/', env=self.env)
        # In the tier's log, as its other block prints: the evidence.
        print('\n%s:%d: $ %s\n%s' % (b.page, b.line, script, proc.stdout),
              flush=True)
        self.assertEqual(0, proc.returncode, proc.stdout + proc.stderr)
        return proc

    def boot(self, session, compute, name, host):
        image = adapter.Adapter(session, service_type='image').get(
            '/v2/images?name=%s' % IMAGE).json()
        server = compute.post('/servers', json={'server': {
            'name': name, 'imageRef': image['images'][0]['id'],
            'flavorRef': FLAVOR, 'networks': 'none', 'host': host}}).json()
        server_id = server['server']['id']
        self.addCleanup(compute.delete, '/servers/' + server_id,
                        raise_exc=False)

        def active():
            shown = compute.get('/servers/' + server_id).json()['server']
            self.assertNotEqual('ERROR', shown['status'], shown)
            return shown['status'] == 'ACTIVE'
        poll.wait_until(active, 300, 1, what='server %s ACTIVE' % name)
        return server_id

    @staticmethod
    def console(compute, server_id):
        return compute.post('/servers/%s/action' % server_id, json={
            'os-getConsoleOutput': {}}).json()['output']
