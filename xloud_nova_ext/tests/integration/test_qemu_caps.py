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

"""Editing one host's QEMU capability cache, and undoing it."""

import re
from xml.etree import ElementTree as ET

from xloud_nova_ext.tests.integration import base


def usable(conn, model):
    """The ``usable`` attribute of CPU ``model`` in TCG domain caps."""
    caps = ET.fromstring(conn.getDomainCapabilities(
        None, 'x86_64', None, 'qemu', 0))
    for node in caps.findall("./cpu/mode[@name='custom']/model"):
        if node.text == model:
            return node.get('usable')
    return None


def forbid(model):
    """An edit that marks TCG CPU ``model`` unusable."""
    pattern = re.compile(r"(<cpu type='tcg' name='%s' [^>]*usable=')yes'"
                         % re.escape(model))

    def edit(xml):
        return pattern.sub(r"\1no'", xml)
    return edit


class QemuCapsTest(base.IntegrationTestCase):

    def test_edited_caps_apply_after_restart_until_reset(self):
        """B reports Nehalem unusable after the edit; A is unchanged."""
        self.assertEqual('yes', usable(self.open(self.b), 'Nehalem'))

        self.b.edit_qemu_caps(forbid('Nehalem'))

        self.assertEqual('no', usable(self.open(self.b), 'Nehalem'))
        self.assertEqual('yes', usable(self.open(self.a), 'Nehalem'))
        self.pair.reset()
        self.assertEqual('yes', usable(self.open(self.b), 'Nehalem'))
