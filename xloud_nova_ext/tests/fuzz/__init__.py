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

"""Fuzzing (``tox -e fuzz``): hostile input to every parser of the product.

Each target draws at least :data:`.base.CASES` inputs with hypothesis and
checks that each gets a correct answer or a clean refusal (the product's
own error with a message), never an unhandled exception. ``tox -e fuzz``
prints how many cases each target ran (:mod:`.report`).

Add a target: a test method that calls :meth:`.base.FuzzTestCase.fuzz`
with a strategy and a check, in a module ``test_<area>.py`` here.
"""

from nova import monkey_patch; monkey_patch.patch()  # noqa
