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


"""tox plugin (loaded by tox from this file): tiers share a virtualenv.

Most tiers install nova and its 200 dependencies, about 45 s each. tox 4
lets several envs point ``env_dir`` at one directory but recreates it
whenever the env's name differs from the one that built it, even with
identical ``deps``. The ``shared-virtualenv`` runner keys that check on
the directory instead of the name; everything else tox checks stays as it
is: a changed or removed dependency, install option, constraint or Python
still updates or recreates the env, and our wheel and editable installs
are installed by every tier as before.

Only envs whose ``deps`` are identical may share a directory (tox.ini
says which); tiers that share one must not run in parallel (``tox p``).
"""

from tox.plugin import impl
from tox.tox_env.api import ToxEnv
from tox.tox_env.info import Info
from tox.tox_env.python.virtual_env.runner import VirtualEnvRunner


class _SharedInfo(Info):
    """tox's record of an env, naming the env after its directory."""

    def __init__(self, path):
        super().__init__(path)
        self._shared_name = path.name

    def compare(self, value, section, sub_section=None):
        if section == ToxEnv.__name__:
            value = dict(value, name=self._shared_name)
        return super().compare(value, section, sub_section)


class SharedVirtualEnvRunner(VirtualEnvRunner):
    """A virtualenv runner whose env several tiers may share."""

    @staticmethod
    def id():
        return 'shared-virtualenv'

    @property
    def cache(self):
        return _SharedInfo(self.env_dir)


@impl
def tox_register_tox_env(register):
    register.add_run_env(SharedVirtualEnvRunner)
