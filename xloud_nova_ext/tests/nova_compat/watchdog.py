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
"""Turn a hung nova test into a failure with every thread's stack.

nova's tests stop themselves after ``OS_TEST_TIMEOUT`` seconds, but only
in the test's own green thread: a test whose clean-up then waits on a
thread that never ends (seen once in CI, in a live-migration rollback
test) hangs its stestr worker for good. A little after the timeout, a
real (not green) thread dumps the stack of every thread and green thread
to the worker's real stderr (the test's own stderr is captured) and ends
the worker, so that the run goes on and says where it was stuck. The
runner (:mod:`.run`) reads the test's id from the file named by
``XLOUD_NOVA_COMPAT_HUNG`` and runs it, and the tests its worker never
reached, once more.
"""

import faulthandler
import functools
import gc
import os
import sys
import traceback

from eventlet import patcher
import greenlet

#: The file that gets the id of each test that hung, one per line.
HUNG_FILE = 'XLOUD_NOVA_COMPAT_HUNG'
#: Seconds past the test's own timeout before the worker is ended.
GRACE = 30

# nova's tests run with eventlet's monkey patching: a timer from the
# patched threading module would be a green thread, as stuck as the rest.
_threading = patcher.original('threading')


def limit():
    return int(os.environ.get('OS_TEST_TIMEOUT') or 240) + GRACE


def dump_and_exit(test_id, seconds, out=None):
    out = out or sys.__stderr__
    out.write('\nnova-compat watchdog: %s still running after %d s; '
              'stacks follow, then this worker ends.\n' % (test_id, seconds))
    out.flush()
    if os.environ.get(HUNG_FILE):
        with open(os.environ[HUNG_FILE], 'a') as f:
            f.write(test_id + '\n')
    faulthandler.dump_traceback(file=out, all_threads=True)
    for obj in gc.get_objects():
        if isinstance(obj, greenlet.greenlet) and obj.gr_frame is not None:
            out.write('\nGreen thread %r (most recent call last):\n' % obj)
            traceback.print_stack(obj.gr_frame, file=out)
    out.flush()
    os._exit(1)


def _watched(test, run, seconds, result=None):
    timer = _threading.Timer(seconds, dump_and_exit, (test.id(), seconds))
    timer.daemon = True
    timer.start()
    try:
        return run(result)
    finally:
        timer.cancel()


def watch(tests, seconds=None):
    """Arm the watchdog around each test's ``run``."""
    seconds = seconds or limit()
    for test in tests:
        test.run = functools.partial(_watched, test, test.run, seconds)
