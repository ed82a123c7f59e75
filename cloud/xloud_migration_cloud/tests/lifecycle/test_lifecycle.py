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


"""The embedded cloud starts, answers and stops without leaving anything.

Runs ``xloud-migration-demo --keep --no-tests`` as an operator would,
waits until it prints the access details, checks that keystone, Barbican
and nova answer on the printed endpoints, then presses Ctrl-C (SIGINT) and
checks that no process, listening port or temporary directory is left.
"""

import os
import re
import signal
import subprocess
import sys
import tempfile
import urllib.request


from xloud_harness import process
from xloud_harness import testing

READY = 'The cloud keeps running'


def _descendants(pid):
    """PIDs of every live process below ``pid`` (from /proc)."""
    children = {}
    for entry in os.listdir('/proc'):
        if not entry.isdigit():
            continue
        try:
            with open('/proc/%s/stat' % entry) as f:
                ppid = int(f.read().rsplit(')', 1)[1].split()[1])
        except (OSError, IndexError, ValueError):
            continue
        children.setdefault(ppid, []).append(int(entry))
    found, todo = [], [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            found.append(child)
            todo.append(child)
    return found


def _listening(port):
    with open('/proc/net/tcp') as f:
        for line in f.readlines()[1:]:
            local, state = line.split()[1], line.split()[3]
            if state == '0A' and int(local.split(':')[1], 16) == port:
                return True
    return False


class LifecycleTest(testing.TestCase):

    def test_ctrl_c_leaves_nothing_behind(self):
        tmp = tempfile.mkdtemp(prefix='xloud-lifecycle-')
        self.addCleanup(os.rmdir, tmp)
        env = dict(os.environ, TMPDIR=tmp)
        proc = subprocess.Popen(
            [sys.executable, '-m', 'xloud_migration_cloud.demo', '--keep',
             '--no-tests'], stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
            text=True, env=env)
        self.addCleanup(lambda: proc.poll() is None and proc.kill())
        output = []
        while True:  # bounded by the test timeout (OS_TEST_TIMEOUT)
            line = proc.stdout.readline()
            output.append(line)
            # The last line of the access details.
            if not line or line.lstrip().startswith('compute API:'):
                break
        text = ''.join(output)
        self.assertIn(READY, text, text)

        urls = dict(re.findall(r'(keystone|compute API):\s+(http://\S+)',
                               text))
        self.assertEqual({'keystone', 'compute API'}, set(urls), text)
        for url in urls.values():
            with urllib.request.urlopen(url, timeout=10) as response:
                self.assertLess(response.status, 400)
        ports = [int(p) for p in re.findall(r'127\.0\.0\.1:(\d+)', text)]
        children = _descendants(proc.pid)
        self.assertGreaterEqual(len(children), 3, text)
        # Its work directories (cloud, Barbican, nova's instances path).
        self.assertNotEqual([], os.listdir(tmp))

        proc.send_signal(signal.SIGINT)
        self.assertEqual(130, proc.wait(timeout=60))
        # Children die with their parent's stop(); give the kernel a moment.
        self.assertEqual([], process.wait_gone(children, 10))
        self.assertEqual([], [p for p in ports if _listening(p)])
        self.assertEqual([], os.listdir(tmp))
