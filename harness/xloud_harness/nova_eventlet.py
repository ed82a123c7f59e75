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

"""nova's services on eventlet, as nova's functional tests run them.

nova's functional test package applies eventlet's monkey patching when it
is imported, and it must come before anything imports nova (or urllib3, or
threading's users). A script that starts nova's services in-process through
:mod:`xloud_harness.nova_fakelibvirt` (the benchmarks) imports this module
first, before any other import::

    from xloud_harness import nova_eventlet  # noqa: F401 (patches)

Tests need not: their package does it (``xloud_nova_ext/tests``).
"""

from nova import monkey_patch

monkey_patch.patch()
