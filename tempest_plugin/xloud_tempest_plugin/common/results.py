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

"""What a post-migration verification found, as one structured object.

Every scenario's verifier fills a Verification: the move (kind, source,
destination, seconds), one Check per thing it looked at (name, ok,
evidence) and the guest-observed pause. Tests attach it as JSON
(``as_dict``) for reports; ``ok`` is True (passed), False (failed) or None
(could not be verified, and the evidence says why): nothing passes silently.
"""

import dataclasses
import typing

PASSED, FAILED, NOT_VERIFIED = True, False, None


@dataclasses.dataclass
class Check:
    name: str
    ok: typing.Optional[bool]
    evidence: str

    def line(self):
        word = {True: 'ok', False: 'FAILED', None: 'not verified'}[self.ok]
        return '%s: %s: %s' % (self.name, word, self.evidence)


@dataclasses.dataclass
class Verification:
    """One move of one server and what was checked after it."""

    server: str
    kind: str
    source: str
    destination: typing.Optional[str] = None
    requested_host: typing.Optional[str] = None
    # Where the server is after the move (its source again after a revert
    # or a refusal).
    host: typing.Optional[str] = None
    status: typing.Optional[str] = None
    seconds: typing.Optional[float] = None
    timings: dict = dataclasses.field(default_factory=dict)
    record_seconds: typing.Optional[float] = None
    migration: dict = dataclasses.field(default_factory=dict)
    guest_pause_ms: typing.Optional[int] = None
    console_warnings: list = dataclasses.field(default_factory=list)
    refusal: typing.Optional[dict] = None
    checks: list = dataclasses.field(default_factory=list)

    def add(self, name, ok, evidence):
        check = Check(name, ok, evidence)
        self.checks.append(check)
        return check

    @property
    def failed(self):
        return [c for c in self.checks if c.ok is FAILED]

    @property
    def not_verified(self):
        return [c for c in self.checks if c.ok is NOT_VERIFIED]

    def summary(self):
        """One line per check, for the test's output."""
        head = '%s of server %s from %s to %s: %s' % (
            self.kind, self.server, self.source, self.destination,
            'FAILED' if self.failed else 'verified')
        if self.guest_pause_ms is not None:
            head += ', guest-observed pause %d ms' % self.guest_pause_ms
        return '\n'.join([head] + ['  ' + c.line() for c in self.checks])

    def as_dict(self):
        data = dataclasses.asdict(self)
        # The keys earlier reports had, for their readers.
        data.update({'type': self.kind, 'source_host': self.source})
        return data
