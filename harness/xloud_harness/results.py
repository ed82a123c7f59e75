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


"""One reader of subunit v2 streams: each test's outcome, time and files.

``stestr last --subunit`` and ``tempest run --subunit`` write subunit v2;
:class:`Collector` keeps, per test id, its final status, its start and stop
times and the files attached to it, as the stream arrives. Needs only
python-subunit and testtools (``tools/ci_summary.py`` uses it from the tree
in the small tools virtualenv).
"""

import dataclasses

import subunit
import testtools

#: subunit's final statuses, as the reports name them.
FINAL = {'success': 'pass', 'fail': 'FAIL', 'skip': 'skip',
         'xfail': 'pass', 'uxsuccess': 'FAIL'}


@dataclasses.dataclass
class TestOutcome:
    test_id: str
    #: 'running' until the stream says more, then pass, FAIL or skip.
    status: str = 'running'
    started: object = None
    stopped: object = None
    #: (file name, bytes) of every file attached to the test, in order.
    attachments: list = dataclasses.field(default_factory=list)

    @property
    def seconds(self):
        if self.started and self.stopped:
            return (self.stopped - self.started).total_seconds()
        return 0.0

    @property
    def fixture(self):
        """True for a class or module fixture's own row (setUpClass...)."""
        return self.test_id.split(' ')[0] in (
            'setUpClass', 'tearDownClass', 'setUpModule', 'tearDownModule')


class Collector(testtools.StreamResult):
    """Per-test outcomes of a subunit v2 stream, in the order tests began.

    Subclasses may override :meth:`attached` (a whole file arrived) and
    :meth:`finished` (a test reached its final status).
    """

    outcome_class = TestOutcome

    def __init__(self):
        super().__init__()
        self.tests = {}
        self._files = {}

    def status(self, test_id=None, test_status=None, file_name=None,
               file_bytes=None, eof=False, timestamp=None, **kwargs):
        if not test_id:
            return
        test = self.tests.get(test_id)
        if test is None:
            test = self.tests[test_id] = self.outcome_class(test_id)
        if test_status == 'inprogress':
            test.started = timestamp
        if file_name:
            key = (test_id, file_name)
            self._files[key] = self._files.get(key, b'') + (file_bytes or b'')
            if eof:
                data = self._files.pop(key)
                test.attachments.append((file_name, data))
                self.attached(test, file_name, data)
        if test_status in FINAL:
            test.status = FINAL[test_status]
            test.stopped = timestamp
            self.finished(test)

    def attached(self, test, file_name, data):
        """``test`` got the whole file ``file_name``."""

    def finished(self, test):
        """``test`` has its final status."""

    def outcomes(self):
        return list(self.tests.values())


def read(stream, collector=None, non_subunit_name=None):
    """Feed a binary subunit v2 ``stream`` to ``collector``; return it."""
    collector = collector or Collector()
    case = subunit.ByteStreamToStreamResult(
        stream, non_subunit_name=non_subunit_name)
    collector.startTestRun()
    case.run(collector)
    collector.stopTestRun()
    return collector


def verdicts(outcomes):
    """(passed, failed or skipped, outcome) of each test in ``outcomes``.

    A fixture that worked is not a test of its own; a test that started but
    never finished failed, unless its class's setUpClass skipped (tempest
    announces such tests, then never runs them: the class's skip counts).
    """
    skipped_classes = {t.test_id for t in outcomes
                       if t.fixture and t.status == 'skip'}
    for t in outcomes:
        if t.fixture and t.status == 'pass':
            continue
        if t.status == 'running' and 'setUpClass (%s)' % (
                t.test_id.split('[')[0].rsplit('.', 1)[0]) in skipped_classes:
            continue  # its class skipped before it started: counted once
        yield {'pass': 'passed', 'skip': 'skipped'}.get(t.status, 'failed'), t


def counts(outcomes):
    """{passed, failed, skipped} of ``outcomes`` (see :func:`verdicts`)."""
    total = {'passed': 0, 'failed': 0, 'skipped': 0}
    for key, _ in verdicts(outcomes):
        total[key] += 1
    return total
