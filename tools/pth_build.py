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

"""Build step: put xloud-nova-ext.pth at the top of the built package.

A .pth file must sit directly in a site directory for Python's ``site`` to
read it, which neither pbr's [files] nor setuptools' package data can place.
setup.cfg names this command in [global] commands; pbr merges it into the
build, and the wheel (so pip, whatever it installs from) then holds the file.
"""

import os

from setuptools.command import build_py

PTH = 'xloud-nova-ext.pth'


class BuildPy(build_py.build_py):
    """setuptools' build_py, plus xloud-nova-ext.pth in the build root."""

    command_name = 'build_py'

    def run(self):
        super().run()
        self.copy_file(PTH, os.path.join(self.build_lib, PTH))

    def get_outputs(self, *args, **kwargs):
        outputs = super().get_outputs(*args, **kwargs)
        return outputs + [os.path.join(self.build_lib, PTH)]
