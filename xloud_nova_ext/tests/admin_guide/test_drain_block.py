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

"""The maintenance page's drain block, run against the embedded cloud.

The block is read from doc/source/admin/maintenance.rst and run by bash
with admin credentials in ``OS_*`` variables, as an operator runs it,
against keystone and nova's API over HTTP (xloud_migration_cloud). The
page's ``compute1`` is the cloud's ``cmp1``; two servers run there, and
the scheduler may propose ``cmp4``, whose older CPU the CPU check refuses.
"""

import os
import time

from keystoneauth1 import adapter
from xloud_harness import keystone
from xloud_harness import testing
from xloud_migration_cloud import cloud as cloud_mod
from xloud_migration_cloud import tempest_workspace

from xloud_nova_ext.tests.admin_guide import test_shell_blocks

HOST = {'compute1': 'cmp1'}


def boot(compute, name, host):
    server = compute.post('/servers', json={'server': {
        'name': name, 'imageRef': tempest_workspace.IMAGE_REF,
        'flavorRef': '1', 'networks': 'none', 'host': host}},
        microversion='2.74').json()['server']
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        shown = compute.get('/servers/%s' % server['id']).json()['server']
        if shown['status'] in ('ACTIVE', 'ERROR'):
            return shown
        time.sleep(0.5)
    raise AssertionError('server %s did not become ACTIVE' % name)


class DrainBlockTest(testing.TestCase):

    def test_drain_block_empties_the_host(self):
        block = test_shell_blocks.block('admin/maintenance.rst',
                                        'xloud-drain-host compute1')
        command = block.commands[0]
        for page, cloud in HOST.items():
            command = command.replace(page, cloud)
        with cloud_mod.EmbeddedCloud(progress=lambda message: None) as c:
            compute = adapter.Adapter(
                c.keystone.admin_session(), service_type='compute',
                endpoint_override=c.urls['compute'])
            servers = [boot(compute, 'web-%d' % i, HOST['compute1'])
                       for i in (1, 2)]
            self.assertEqual(['ACTIVE', 'ACTIVE'],
                             [s['status'] for s in servers])
            env = {k: v for k, v in os.environ.items()
                   if not k.startswith('OS_')}
            env.update(OS_AUTH_URL=c.keystone.url, OS_USERNAME='admin',
                       OS_PASSWORD=keystone.ADMIN_PASSWORD,
                       OS_PROJECT_NAME='admin',
                       OS_USER_DOMAIN_NAME='Default',
                       OS_PROJECT_DOMAIN_NAME='Default',
                       OS_IDENTITY_API_VERSION='3')
            proc = test_shell_blocks.bash(command, c.workdir, env=env)
            out = proc.stdout + proc.stderr
            self.assertEqual(0, proc.returncode, out)
            self.assertIn('Summary: 2 moved, 0 not moved', out)
            left = compute.get(
                '/servers/detail?all_tenants=1&host=%s' % HOST['compute1'],
                microversion='2.74').json()['servers']
            self.assertEqual([], left, out)
