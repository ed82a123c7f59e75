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

"""Can nova load the Xloud driver from this Python environment?

nova imports ``compute_driver = xloud.XloudLibvirtDriver`` as the module
``nova.virt.xloud``, which _xloud_nova_ext_finder provides once Python has
read xloud-nova-ext.pth from a site directory. These checks name what stands
in the way, and the fix: ``xloud-nova-ext check`` runs them all, and
nova-compute runs :func:`require_supported_nova` as it loads the driver.

Nothing here imports nova at module level: the checks must also run where
nova itself cannot be imported.
"""

import importlib
import importlib.util
import os
import site
import sys

from oslo_log import log as logging

LOG = logging.getLogger(__name__)

#: The nova release whose LibvirtDriver this package extends.
NOVA_MAJOR = 34
DRIVER_MODULE = 'nova.virt.xloud'
DRIVER_CLASS = 'XloudLibvirtDriver'
PTH = 'xloud-nova-ext.pth'


class Problem:
    """Why nova cannot load the driver here, and what fixes it."""

    def __init__(self, cause, fix):
        self.cause = cause
        self.fix = fix

    def __str__(self):
        return '%s Fix: %s' % (self.cause, self.fix)


def nova_version():
    """nova's version, as nova reports it."""
    from nova import version
    return version.version_info.version_string()


def require_supported_nova():
    """Refuse to load the driver into a nova release it was not made for.

    :raises: NovaVersionUnsupported (an ImportError: nova-compute logs it
        and stops, as for any driver it cannot load)
    """
    from xloud_nova_ext import exception

    found = nova_version()
    major = found.split('.', 1)[0]
    if major != str(NOVA_MAJOR):
        error = exception.NovaVersionUnsupported(
            found=found, found_major=major, supported=NOVA_MAJOR)
        LOG.error('%s', error)
        raise error


def _site_dirs():
    dirs = list(site.getsitepackages())
    if site.ENABLE_USER_SITE:
        dirs.append(site.getusersitepackages())
    return dirs


def _nova_shadowed(spec):
    """A namespace nova: bare nova/ directories hide nova's own package."""
    bare = list(spec.submodule_search_locations)
    return Problem(
        'nova is a namespace package in this Python: %s hold no '
        '__init__.py and hide nova\'s own package (left behind by an '
        'xloud-nova-ext that shipped nova/virt/xloud).' % ', '.join(bare),
        'Remove these directories (they hold nothing of nova), e.g. '
        'rm -r %s.' % ' '.join(bare))


def _nova_check():
    spec = importlib.util.find_spec('nova')
    if spec is None:
        return Problem(
            'nova is not installed in the Python that runs this check '
            '(%s).' % sys.executable,
            'Run the xloud-nova-ext installed beside nova, with the Python '
            'that runs nova-compute.')
    if spec.origin is None:
        return _nova_shadowed(spec)
    try:
        importlib.import_module('nova.virt.libvirt')
    except Exception as e:
        return Problem('import nova.virt.libvirt fails: %s: %s.'
                       % (type(e).__name__, e),
                       "Repair nova's installation; nova-compute cannot "
                       "start either.")
    return 'nova at %s' % os.path.dirname(spec.origin)


def _version_check():
    from xloud_nova_ext import exception

    try:
        require_supported_nova()
    except exception.NovaVersionUnsupported as e:
        return Problem('[%s] %s' % (e.code, e.cause), e.fix)
    return 'nova %s; this package extends nova %s' % (
        nova_version(), NOVA_MAJOR)


def _driver_check():
    here = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    if importlib.util.find_spec(DRIVER_MODULE) is None:
        return Problem(
            'nova cannot import %s: this Python did not read %s (the '
            'package is in %s, which is not one of its site directories: '
            '%s).' % (DRIVER_MODULE, PTH, here, ', '.join(_site_dirs())),
            'Install xloud-nova-ext with pip into the environment that runs '
            'nova-compute, not with --target or PYTHONPATH.')
    module = importlib.import_module(DRIVER_MODULE)
    from nova.virt.libvirt import driver as libvirt_driver
    from xloud_nova_ext.virt.libvirt import driver
    cls = getattr(module, DRIVER_CLASS, None)
    if cls is not driver.XloudLibvirtDriver or not issubclass(
            cls, libvirt_driver.LibvirtDriver):
        return Problem(
            '%s (%s) does not provide this package\'s %s.'
            % (DRIVER_MODULE, module.__file__, DRIVER_CLASS),
            'Remove %s, a copy from another installation, then reinstall '
            'xloud-nova-ext.' % os.path.dirname(module.__file__))
    return '%s.%s is %s.%s (%s)' % (DRIVER_MODULE, DRIVER_CLASS,
                                    cls.__module__, cls.__name__,
                                    sys.modules[cls.__module__].__file__)


def check():
    """Every check in turn: yields (what, what was found or a Problem).

    Stops at the first problem: each check needs the previous ones to pass.
    """
    for what, func in (('nova package', _nova_check),
                       ('nova version', _version_check),
                       ('driver module', _driver_check)):
        found = func()
        yield what, found
        if isinstance(found, Problem):
            return
