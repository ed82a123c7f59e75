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


"""Fault cases: what a fault during a migration leaves behind.

``tox -e faults`` runs every case here (``python -m
xloud_nova_ext.tests.faults [REGEX]``) one after the other and prints one
row per case: the fault, where the server ended, the migration record's
status, the leftovers on each host; then ``N cases, N held, N failed``.
It exits non-zero when a case did not hold.

A case is a test method of a :class:`~.case.FaultCase` (a mixin beside
any testtools TestCase: nova's functional harness, the integration hosts,
a real cloud) in a module ``test_*.py`` of this package. It names its
fault in its docstring's first line, calls :meth:`~.case.FaultCase.row`
with what it observed, then asserts what must hold.
"""

# nova's services expect eventlet's monkey patching before anything else is
# imported, as in the functional test package.
from nova import monkey_patch; monkey_patch.patch()  # noqa
