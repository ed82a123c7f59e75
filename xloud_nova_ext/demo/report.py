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


"""Post-migration verification results and the table people read."""

import dataclasses


@dataclasses.dataclass
class Check:
    name: str
    passed: bool
    detail: str = ''


@dataclasses.dataclass
class ScenarioResult:
    name: str
    source: str = '-'
    dest: str = '-'
    status: str = '-'
    duration_s: float = 0.0
    checks: list = dataclasses.field(default_factory=list)
    error: str = ''

    def check(self, name, passed, detail=''):
        self.checks.append(Check(name, bool(passed), detail))

    @property
    def passed(self):
        return not self.error and bool(self.checks) and all(
            c.passed for c in self.checks)


def render(results):
    """The verification report: one block per scenario, then a summary."""
    lines = []
    head = '%-34s %-6s %-6s %-10s %8s  %s' % (
        'scenario', 'source', 'dest', 'status', 'seconds', 'result')
    lines += [head, '-' * len(head)]
    for r in results:
        lines.append('%-34s %-6s %-6s %-10s %8.2f  %s' % (
            r.name, r.source, r.dest or '-', r.status, r.duration_s,
            'PASS' if r.passed else 'FAIL'))
        for c in r.checks:
            lines.append('    [%s] %s%s' % (
                'ok' if c.passed else 'FAILED', c.name,
                (': ' + c.detail) if c.detail else ''))
        if r.error:
            lines.append('    [FAILED] scenario error: %s' % r.error)
    passed = sum(r.passed for r in results)
    lines.append('%d scenarios: %d passed, %d failed' % (
        len(results), passed, len(results) - passed))
    return '\n'.join(lines)
