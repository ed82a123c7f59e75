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

from tempest.lib import decorators

from xloud_tempest_plugin.common import console
from xloud_tempest_plugin import config as xloud_config
from xloud_tempest_plugin.tests.unit import base


class TestNewOutput(base.TestCase):

    @decorators.idempotent_id('ade4c33a-711a-4c4f-a780-2f7f01efd6e6')
    def test_appended_output(self):
        self.assertEqual('new\n', console.new_output('old\n', 'old\nnew\n'))

    @decorators.idempotent_id('9441a33c-0a0e-4889-9c2c-6cb002973a76')
    def test_nothing_seen_before(self):
        self.assertEqual('all\n', console.new_output(None, 'all\n'))
        self.assertEqual('all\n', console.new_output('', 'all\n'))

    @decorators.idempotent_id('29a16fbe-0a2a-4337-b631-9e8a653680f0')
    def test_start_of_the_log_scrolled_away(self):
        before = ''.join('line %d\n' % i for i in range(2000))
        after = before[5000:] + 'fresh\n'
        self.assertEqual('fresh\n', console.new_output(before, after))

    @decorators.idempotent_id('396ecb62-a98d-43d4-8939-a8e14b3b72b2')
    def test_new_log_on_the_destination(self):
        self.assertEqual('other log\n',
                         console.new_output('old log\n', 'other log\n'))

    @decorators.idempotent_id('7218091a-0db0-43dd-bfb4-693e9fb8ae14')
    def test_a_repeated_short_line_is_no_anchor(self):
        before = 'Linux version 6.1\n' + 'x' * 3000 + '\nlogin: '
        after = before + '\nLinux version 6.1\nlogin: '
        self.assertIn('Linux version',
                      console.new_output(before, after))


def default(name):
    return next(o.default for o in xloud_config.MigrationGroup
                if o.name == name)


class TestDefaultPatterns(base.TestCase):

    def _matches(self, line):
        return console.matching_lines(line,
                                      default('console_failure_patterns'))

    @decorators.idempotent_id('a63129c9-5c54-494e-96f7-e00f09f664eb')
    def test_failures_are_caught(self):
        for line in ['Kernel panic - not syncing: VFS: Unable to mount',
                     'Oops: 0002 [#1] PREEMPT SMP NOPTI',
                     'Oops: general protection fault, probably for '
                     'non-canonical address 0xdead: 0000 [#1] SMP',
                     'kernel BUG at mm/slub.c:379!',
                     'BUG: unable to handle page fault',
                     'BUG: kernel NULL pointer dereference, address: 0008',
                     'blk_update_request: I/O error, dev vda, sector 2048',
                     'Buffer I/O error on dev vda1, logical block 0',
                     'EXT4-fs error (device vda1): ext4_lookup',
                     'Out of memory: Kill process 42 (stress)']:
            self.assertEqual([line], self._matches(line), line)

    @decorators.idempotent_id('bfff8025-af1f-4bf1-992b-7d64ffc6beac')
    def test_cirros_floppy_probe_is_not_a_failure(self):
        for line in ['blk_update_request: I/O error, dev fd0, sector 0',
                     'Buffer I/O error on dev fd0, logical block 0',
                     'login as cirros user']:
            self.assertEqual([], self._matches(line), line)

    @decorators.idempotent_id('a8460a71-95c9-4b6d-b031-5ce6aa8dc2e6')
    def test_harmless_kernel_warnings_are_reported_not_failed(self):
        # What a healthy guest prints on a loaded TCG gate node.
        warnings = default('console_warning_patterns')
        for line in ['watchdog: BUG: soft lockup - CPU#0 stuck for 22s! '
                     '[swapper/0:1]',
                     'rcu: INFO: rcu_sched self-detected stall on CPU',
                     'rcu: INFO: rcu_preempt detected stalls on CPUs/tasks:',
                     'Call Trace:',
                     'WARNING: CPU: 0 PID: 1 at kernel/time/timer.c:1234',
                     'INFO: task jbd2/vda1-8:120 blocked for more than 120 '
                     'seconds.']:
            self.assertEqual([], self._matches(line), line)
            self.assertEqual([line], console.matching_lines(line, warnings),
                             line)

    @decorators.idempotent_id('5b9a9597-7be7-421f-a684-8276fde54e3c')
    def test_boot_marker_is_the_kernel_banner(self):
        marker = default('console_boot_marker')
        banner = ('[    0.000000] Linux version 5.15.0-71-generic '
                  '(buildd@lcy02-amd64-044) (gcc 11.3.0) #78-Ubuntu SMP')
        self.assertEqual([banner], console.matching_lines(banner, [marker]))
        self.assertEqual([], console.matching_lines('Linux version', [marker]))

    @decorators.idempotent_id('4941f403-a47a-4d83-bcf0-d4bb62f5eaf7')
    def test_empty_pattern_matches_nothing(self):
        self.assertEqual([], console.matching_lines('anything', ['', None]))
