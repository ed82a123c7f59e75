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

"""nova 34's own libvirt functional tests, with our driver as the compute.

stestr discovers this package; :func:`load_tests` hands it the tests of
``nova.tests.functional.libvirt`` (shipped in the nova wheel) unchanged.
nova's harness sets ``compute_driver = libvirt.LibvirtDriver``; the
substitution in :mod:`.driver_swap` makes nova load
``xloud.XloudLibvirtDriver`` instead, through our ``nova.virt.xloud`` shim as
in production, with default options. ``XLOUD_NOVA_COMPAT_DRIVER=stock``
leaves nova's driver in place, to measure the reference.
"""

# nova's services expect eventlet's monkey patching before anything else is
# imported, exactly as nova's own functional test package does.
from nova import monkey_patch; monkey_patch.patch()  # noqa

import importlib  # noqa: E402
import os  # noqa: E402
import pkgutil  # noqa: E402
import unittest  # noqa: E402

from nova.tests.functional import libvirt as nova_libvirt_tests  # noqa: E402

from xloud_nova_ext.tests.nova_compat import by_design  # noqa: E402
from xloud_nova_ext.tests.nova_compat import completed_job  # noqa: E402
from xloud_nova_ext.tests.nova_compat import driver_swap  # noqa: E402
from xloud_nova_ext.tests.nova_compat import watchdog  # noqa: E402

if os.environ.get('XLOUD_NOVA_COMPAT_DRIVER', 'xloud') != 'stock':
    driver_swap.install()
completed_job.install()


def nova_test_modules():
    """The names of nova's libvirt functional test modules."""
    return sorted(
        '%s.%s' % (nova_libvirt_tests.__name__, info.name)
        for info in pkgutil.iter_modules(nova_libvirt_tests.__path__)
        if info.name.startswith('test_'))


def load_tests(loader, standard_tests, pattern):
    suite = unittest.TestSuite()
    # The runner's own checks; a package with load_tests is not searched.
    for name in [__name__ + '.test_runner'] + nova_test_modules():
        suite.addTests(loader.loadTestsFromModule(
            importlib.import_module(name)))
    if driver_swap.installed():
        by_design.mark(suite)
    watchdog.watch(by_design.tests(suite))
    return suite
