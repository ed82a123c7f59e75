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

"""The guide's recipe that feeds nova's hypervisors to xloud-cpu-baseline.

The recipe's first command is read from the guide and run by bash with a
stand-in ``openstack`` that prints what openstackclient prints (one JSON
document per ``hypervisor show``); the file it writes must be read by the
tool's input parser.
"""

import json
import os
import re
import shutil
import subprocess

import fixtures

from xloud_harness import testing

from xloud_nova_ext.cpu import inputs
from xloud_nova_ext import exception
from xloud_nova_ext.tests import requirements

GUIDE = os.path.join(os.path.dirname(__file__), '..', '..', '..', 'doc',
                     'source', 'admin', 'cpu-baseline-tool.rst')
CPU_INFO = {'arch': 'x86_64', 'model': 'Skylake-Client', 'vendor': 'Intel',
            'topology': {'sockets': 1, 'cores': 4, 'threads': 2},
            'features': ['vmx', 'pcid']}
FAKE_OPENSTACK = """#!/bin/bash
case "$*" in
  *"hypervisor list"*) printf '1\\n2\\n' ;;
  *"hypervisor show"*)
    id="${@: -1}"
    printf '{\\n "hypervisor_hostname": "cmp%%s",\\n "cpu_info": %%s\\n}\\n' \
        "$id" '%s' ;;
esac
"""


def recipe():
    """The guide's shell command that writes hypervisors.json."""
    text = open(GUIDE).read()
    block = re.search(r'\$ (openstack .*?> hypervisors\.json)', text, re.S)
    return block.group(1)


class RecipeTest(testing.TestCase):

    def test_recipe_output_is_read_by_the_tool(self):
        requirements.require(self, shutil.which('jq'),
                             'needs jq (Debian package jq)')
        tmp = self.useFixture(fixtures.TempDir()).path
        cpu_info = json.dumps(json.dumps(CPU_INFO))
        stub = os.path.join(tmp, 'openstack')
        with open(stub, 'w') as f:
            f.write(FAKE_OPENSTACK % cpu_info.replace('%', '%%'))
        os.chmod(stub, 0o755)
        env = dict(os.environ, PATH=tmp + os.pathsep + os.environ['PATH'])
        subprocess.run(['bash', '-euo', 'pipefail', '-c', recipe()],
                       cwd=tmp, env=env, check=True)
        with open(os.path.join(tmp, 'hypervisors.json'), 'rb') as f:
            hosts = inputs.parse_bytes(f.read(), 'hypervisors.json')
        self.assertEqual(['cmp1', 'cmp2'], [h.name for h in hosts])
        self.assertEqual('Skylake-Client', hosts[0].cpu.model)

    def test_concatenated_documents_are_what_the_tool_rejects(self):
        # The recipe's old form (issue 15 item 2): proves the jq step
        # matters.
        doc = json.dumps({'hypervisor_hostname': 'a',
                          'cpu_info': CPU_INFO})
        self.assertRaises(exception.BaselineInputError, inputs.parse_bytes,
                          (doc + '\n' + doc).encode(), 'hypervisors.json')
