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

"""xloud-drain-host against nova's real API, conductor and computes.

The CPU baseline check refuses the only possible destination: the command
must say the server was not moved, with the refusal's code and fix, and
exit 1. Only the credentials differ from production: the harness's API
takes nova's noauth headers, which the command's adapter sends.
"""

import io

from keystoneauth1 import adapter
from keystoneauth1 import session

from xloud_nova_ext.cmd import drain_host
from xloud_nova_ext.tests.functional import test_cpu


class DrainRefusedTest(test_cpu.CPUTestBase):

    CPUS = test_cpu.NewerToOlderTest.CPUS

    def drain(self, host):
        api = self.admin_api
        compute = drain_host.Compute(adapter.Adapter(
            session.Session(), endpoint_override=api.base_url,
            additional_headers={
                'X-Auth-User': api.auth_user, 'X-User-Id': api.auth_user,
                'X-Auth-Project-Id': api.project_id,
                'X-Roles': ','.join(api.roles)}))
        out = io.StringIO()
        code = drain_host.Drain(compute, host, timeout=60, interval=0.2,
                                out=out).run()
        return code, out.getvalue()

    def test_refused_server_reported_not_moved_with_cause(self):
        server = self.boot('src')
        code, out = self.drain('src')
        self.assertEqual(1, code, out)
        self.assertIn('(%s): not moved: live-migration' % server['id'], out)
        self.assertIn('ended error, server ACTIVE on src: [%s] Host dest '
                      'cannot run guest CPU' % test_cpu.CODE, out)
        self.assertIn('Fix: [libvirt] cpu_mode = custom', out)
        self.assertIn('Summary: 0 moved, 1 not moved; src still holds 1',
                      out)
        self.assertEqual('src', self._show_server(server)[
            'OS-EXT-SRV-ATTR:host'])
