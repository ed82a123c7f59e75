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

"""Lets nova import our driver as ``nova.virt.xloud``, wherever nova lives.

nova's ``load_compute_driver`` imports ``'nova.virt.' + compute_driver``, so
``compute_driver = xloud.XloudLibvirtDriver`` needs a module
``nova.virt.xloud``. A file shipped under ``nova/virt/xloud/`` is only seen
when it lands inside nova's own package directory: beside an editable nova
(DevStack's ``setup_develop``) it turns ``nova`` into a namespace package
and breaks nova altogether, and with nova in another site directory (a
distribution's dist-packages) nova never sees it. So the package ships no
file under ``nova/``; instead ``xloud-nova-ext.pth``, read by Python's
``site`` at start-up, calls :func:`install`, which appends this finder to
``sys.meta_path``. It answers for ``nova.virt.xloud`` alone, and only after
nova's own finders have not found it, with xloud_nova_ext/virt/xloud.py.

A top-level module, not part of ``xloud_nova_ext``: every Python start-up in
nova's environment imports it, and must not import our package (or anything
else) that early.
"""

import importlib.util
import sys

MODULE = 'nova.virt.xloud'
SOURCE = 'xloud_nova_ext.virt.xloud'


class NovaVirtXloudFinder:
    """Finds ``nova.virt.xloud``: our module, loaded under nova's name."""

    @classmethod
    def find_spec(cls, fullname, path=None, target=None):
        if fullname != MODULE:
            return None
        source = importlib.util.find_spec(SOURCE)
        if source is None or not source.origin:
            return None
        return importlib.util.spec_from_file_location(fullname, source.origin)


def install():
    """Add the finder once, after every finder already there."""
    if NovaVirtXloudFinder not in sys.meta_path:
        sys.meta_path.append(NovaVirtXloudFinder)
