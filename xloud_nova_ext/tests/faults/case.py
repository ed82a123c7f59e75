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


"""The row a fault case reports, and the mixins that record it."""

import collections

#: One case's outcome. ``leftovers`` is {host: text}, "none" when clean.
Row = collections.namedtuple('Row', 'fault ended status leftovers')

#: Rows by test id. Kept outside the test: nova's TestCase clears its
#: instance attributes when it ends.
ROWS = {}

#: Callables the runner calls once every case has run (stop what cases
#: shared, e.g. the real cloud).
AT_END = []


def run_at_end():
    while AT_END:
        AT_END.pop()()


class FaultCase(object):
    """Mix into a TestCase; each test method is one fault case.

    The fault is the first line of the test method's docstring. Call
    :meth:`row` once the fault has played out and before asserting, so
    that a case that does not hold still shows what happened.
    """

    def fault(self):
        doc = getattr(self, self._testMethodName).__doc__ or ''
        return doc.strip().split('\n')[0] or self._testMethodName

    def row(self, ended, status, leftovers):
        """Record what the fault left.

        Where the server(s) ended, the migration record(s)' status, and
        what was left on each host ({host: text}; empty text is "none").
        """
        self.fault_row = ROWS[self.id()] = Row(
            self.fault(), ended, status,
            {h: text or 'none' for h, text in leftovers.items()})


class DiskFaultCase(FaultCase):
    """A fault case on the disk preflight's computes.

    Mix in before
    :class:`~xloud_nova_ext.tests.functional.test_disk.DiskPreflightTestBase`.
    """

    def leftovers(self, servers):
        """{host: text}: reservations, and guests where their server is not.

        ``servers``: the servers as the API shows them once ACTIVE.
        """
        out = {}
        for host in self.COMPUTES:
            items = []
            reserved = self.guard(host).ledger.snapshot()
            if reserved:
                items.append('%d reservation(s)' % len(reserved))
            strays = [s['id'] for s in servers
                      if s['OS-EXT-SRV-ATTR:host'] != host and
                      s['id'] in self.domains_on(host)]
            if strays:
                items.append('%d stray guest(s)' % len(strays))
            out[host] = ', '.join(items)
        return out
