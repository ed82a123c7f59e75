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


"""Poll until something holds, or say what did not happen in time."""

import time


class WaitTimeout(Exception):
    """``what`` did not happen within ``timeout`` seconds."""

    def __init__(self, what, timeout, last=None):
        self.what = what
        self.timeout = timeout
        self.last = last
        super().__init__('%s did not happen within %.1f s%s' % (
            what, timeout, '' if last is None else ' (last seen: %r)' % (
                last,)))


def wait_until(predicate, timeout, interval=0.1, what='the condition'):
    """Call ``predicate()`` until it returns a true value; return that value.

    It is called at least once, even with a zero timeout. An exception it
    raises ends the wait at once (that is how a caller aborts, e.g. when the
    process it waits for has exited). Past ``timeout`` seconds,
    :class:`WaitTimeout` names ``what`` and the last value seen.
    """
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() >= deadline:
            raise WaitTimeout(what, timeout, value)
        time.sleep(interval)
