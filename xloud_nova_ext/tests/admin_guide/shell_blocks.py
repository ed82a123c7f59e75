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

"""The shell blocks of the operator's and QA guides, read from the .rst.

A shell block is a ``code-block`` of a shell language (``console``,
``shell``, ``bash``, ``sh``) or any code block with a ``$`` prompt. Each
one is either run by a doc test or says, in its caption, why it is not::

    .. code-block:: console
       :caption: Not run by the doc tests: needs a cloud

so that the reason is in the page, where a reader sees it.

The tests that run blocks are in several tiers, each where the block's
environment is (:data:`RUN`); this module imports nothing beyond the
standard library, so that every tier's environment can read the pages.
"""

import collections
import os
import re
import subprocess

TOP = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__)))))
SOURCE = os.path.join(TOP, 'doc', 'source')
#: The operator's guide (install/, admin/) and the QA engineer's (user/).
GUIDES = ('install', 'admin', 'user')
NOT_RUN = 'Not run by the doc tests:'
SHELLS = ('console', 'shell', 'bash', 'sh')

_DIRECTIVE = re.compile(r'^(?P<indent> *)\.\. code-block::\s*(?P<lang>\S*)')
_OPTION = re.compile(r'^ *:(?P<name>[\w-]+):\s*(?P<value>.*)$')
_PROMPT = re.compile(r'^[$#] ')

Block = collections.namedtuple(
    'Block', 'page line lang caption commands output')


def _body(lines, start, indent):
    """The block's body (dedented) and the index after it."""
    body = []
    i = start
    while i < len(lines):
        line = lines[i]
        if line.strip() and len(line) - len(line.lstrip()) <= indent:
            break
        body.append(line)
        i += 1
    while body and not body[-1].strip():
        body.pop()
    depth = min((len(b) - len(b.lstrip()) for b in body if b.strip()),
                default=0)
    return [b[depth:] for b in body], i


def commands(body):
    """Commands of a console body: prompts, with their continuation lines.

    A command goes on, as in bash, after a line ending with ``\\`` or
    ``|``, and on the indented lines right below it (a loop's body).
    Returns (commands, output lines).
    """
    found, output = [], []
    current = None
    for line in body:
        if current is not None and (
                current[-1].rstrip().endswith(('\\', '|')) or
                line[:1].isspace() and line.strip()):
            current.append(line)
            continue
        if current is not None:
            found.append('\n'.join(current))
            current = None
        if _PROMPT.match(line):
            current = [line[2:]]
        elif line.strip():
            output.append(line)
    if current is not None:
        found.append('\n'.join(current))
    return found, output


def code_blocks(page):
    """(line, language, options, body) of every code block of one page."""
    with open(os.path.join(SOURCE, page)) as f:
        lines = f.read().split('\n')
    i = 0
    while i < len(lines):
        match = _DIRECTIVE.match(lines[i])
        if not match:
            i += 1
            continue
        indent = len(match.group('indent'))
        first = i + 1
        options = {}
        i += 1
        while i < len(lines) and _OPTION.match(lines[i]):
            option = _OPTION.match(lines[i])
            options[option.group('name')] = option.group('value')
            i += 1
        body, i = _body(lines, i, indent)
        yield first, match.group('lang'), options, body


def blocks_of(page):
    """Every shell block of one page (path relative to doc/source)."""
    for first, lang, options, body in code_blocks(page):
        if lang not in SHELLS:
            # Outside a shell block '#' starts a comment: only '$' prompts.
            body = [b for b in body if not b.startswith('# ')]
        found, output = commands(body)
        if lang in SHELLS or found:
            yield Block(page, first, lang, options.get('caption', ''),
                        found, output)


def pages():
    for guide in GUIDES:
        for name in sorted(os.listdir(os.path.join(SOURCE, guide))):
            if name.endswith('.rst'):
                yield os.path.join(guide, name)


def all_blocks():
    for page in pages():
        yield from blocks_of(page)


def not_run_reason(block):
    """The reason the page gives for not running the block, or None."""
    if block.caption.startswith(NOT_RUN):
        return block.caption[len(NOT_RUN):].strip()
    return None


#: (page, start of the first command) of the blocks that tests run: the
#: test (its id under the tier's package of xloud_nova_ext.tests), after
#: its tier where that is not admin-guide.
TIERS = {'admin-guide': 'admin_guide', 'install-matrix': 'install',
         'integration': 'integration', 'real-cloud': 'admin_guide'}
RUN = {
    ('install/index.rst', 'git clone '):
        'test_shell_blocks.ShellBlocksTest.test_wheel_from_a_checkout',
    ('install/index.rst', '/opt/nova/venv/bin/xloud-nova-ext check'):
        'test_shell_blocks.ShellBlocksTest.'
        'test_check_says_nova_can_load_the_driver',
    ('user/tempest.rst', 'git clone '):
        'test_shell_blocks.ShellBlocksTest.test_qa_virtualenv',
    ('user/tempest.rst', 'tempest init ~/xloud-qa'):
        'test_shell_blocks.ShellBlocksTest.test_tempest_workspace',
}
#: The blocks test_cloud_blocks runs against the embedded cloud.
_CLOUD = 'test_cloud_blocks.CloudBlocksTest.'
RUN.update({(page, start): _CLOUD + test for page, start, test in (
    ('admin/maintenance.rst', 'openstack compute service set --disable',
     'test_maintenance_page_drains_a_host'),
    ('admin/maintenance.rst',
     'openstack server list --all-projects --host compute1 \\',
     'test_maintenance_page_drains_a_host'),
    ('admin/maintenance.rst', 'xloud-drain-host compute1',
     'test_maintenance_page_drains_a_host'),
    ('admin/maintenance.rst',
     'openstack server list --all-projects --host compute1',
     'test_maintenance_page_drains_a_host'),
    ('admin/maintenance.rst', 'openstack compute service set --enable',
     'test_maintenance_page_drains_a_host'),
    ('admin/cli.rst', 'export OS_COMPUTE_API_VERSION=',
     'test_cli_page_live_migrations'),
    ('admin/cli.rst', 'openstack server migrate --live-migration --wait',
     'test_cli_page_live_migrations'),
    ('admin/cli.rst',
     'openstack server migrate --live-migration --host compute2',
     'test_cli_page_live_migrations'),
    ('admin/cli.rst', 'openstack server migration list --server web-1',
     'test_cli_page_live_migrations'),
    ('admin/cli.rst', 'openstack server migration show web-1',
     'test_cli_page_migration_in_progress'),
    ('admin/prerequisites.rst',
     'openstack server migration list --host compute2 --status running',
     'test_cli_page_migration_in_progress'),
    ('admin/cli.rst', 'openstack server migrate --wait web-1',
     'test_cli_page_cold_migrations'),
    ('admin/cli.rst', 'openstack server migration confirm web-1',
     'test_cli_page_cold_migrations'),
    ('admin/cli.rst', 'openstack server migration revert web-1',
     'test_cli_page_cold_migrations'),
    ('admin/verification.rst', 'openstack server show web-1 \\',
     'test_verification_page_after_a_live_migration'),
    ('admin/verification.rst',
     'openstack server migration list --server web-1',
     'test_verification_page_after_a_live_migration'),
    ('admin/verification.rst', 'openstack server event list web-1',
     'test_verification_page_after_a_live_migration'),
    ('admin/troubleshooting.rst', 'openstack server event list web-1',
     'test_troubleshooting_page_names_the_refusal'),
    ('admin/prerequisites.rst',
     'openstack compute service list --service nova-compute',
     'test_prerequisites_hosts_up_and_enabled'),
    ('admin/prerequisites.rst', 'openstack hypervisor show compute1',
     'test_prerequisites_hosts_up_and_enabled'),
    ('admin/operations.rst',
     'openstack --os-compute-api-version 2.87 hypervisor show compute1',
     'test_operations_page'),
    ('admin/cpu-baseline-tool.rst',
     'openstack --os-compute-api-version 2.87 hypervisor list',
     'test_cpu_baseline_tool_page_hypervisors_file'),
    ('admin/operations.rst',
     'openstack server migration list --host compute1 --status running',
     'test_operations_page'),
    ('user/tempest.rst', 'tempest run --regex xloud_tempest_plugin',
     'test_qa_guide_runs_the_scenarios'),
)})


_LAYOUTS = ('install-matrix: test_layouts.WheelLayoutsTest.'
            'test_virtualenv_uninstall_and_split_site_dirs')
RUN.update({
    ('install/index.rst', '/opt/nova/venv/bin/pip install'): _LAYOUTS,
    ('install/index.rst', '/opt/nova/venv/bin/pip uninstall'): _LAYOUTS,
    ('install/index.rst', 'pip3 freeze > distribution-constraints.txt'):
        _LAYOUTS,
})
_HOST = 'integration: test_guide_blocks.GuideBlocksOnAHostTest.'
RUN.update({
    ('admin/prerequisites.rst', 'virsh version'):
        _HOST + 'test_prerequisites_hypervisor_versions',
    ('admin/cpu-baseline-tool.rst', 'xloud-cpu-baseline --uri qemu+ssh://'):
        _HOST + 'test_cpu_baseline_of_one_host_over_ssh',
    ('admin/cpu-baseline-tool.rst',
     'xloud-cpu-baseline --connect qemu+ssh://'):
        _HOST + 'test_cpu_baseline_of_the_hypervisors_file_over_ssh',
    ('admin/verification.rst', "grep -h 'xloud-migration-stats'"):
        'integration: test_migration_stats.MigrationStatsTest.'
        'test_real_live_migration_logs_qemu_figures',
})

#: The blocks that need a real hypervisor: real_cloud_blocks, which the
#: real-cloud tier runs on its cloud once the scenarios ran (tox.ini:
#: xloud-migration-demo --then).
_REAL = 'real-cloud: real_cloud_blocks.RealCloudBlocksTest.'
RUN.update({
    ('admin/prerequisites.rst', 'df -h /var/lib/nova/instances'):
        _REAL + 'test_room_on_the_destination',
    ('admin/verification.rst', 'openstack console log show'):
        _REAL + 'test_console_log_of_the_guest',
})


#: Blocks that a tier's own command runs, read from the page by
#: :func:`main` (tox.ini: ``python -m <this module> PAGE START ARGS``).
TIER_RUN = {
    ('user/embedded-cloud.rst', 'xloud-migration-demo'):
        ('demo', 'real-cloud'),
}


def test_of(key):
    """(tier, dotted name of the test) that runs the block of ``key``."""
    tier, _, test = RUN[key].rpartition(': ')
    tier = tier or 'admin-guide'
    return tier, 'xloud_nova_ext.tests.%s.%s' % (TIERS[tier], test)


def key_of(block):
    """The RUN key of a block: the longest start its first command has."""
    starts = [(page, start) for page, start in list(RUN) + list(TIER_RUN)
              if block.page == page and block.commands and
              block.commands[0].startswith(start)]
    return max(starts, key=lambda key: len(key[1]), default=None)


def block(page, start):
    found = [b for b in all_blocks()
             if key_of(b) == (page, start)]
    assert len(found) == 1, (page, start, found)
    return found[0]


def bash(script, cwd, env=None):
    return subprocess.run(['bash', '-euo', 'pipefail', '-c', script],
                          cwd=cwd, env=env, capture_output=True, text=True)


_SHAPE = re.compile(r'(?P<space> +)|(?P<number>\d+(?:\.\d+)?)|(?P<path>/\S+)')


def shape(shown):
    """A pattern for the lines of the shape of one shown output line.

    Its numbers (timings, counts) and absolute paths stand for any; the
    rest is as shown.
    """
    pattern, end = [], 0
    for match in _SHAPE.finditer(shown):
        pattern.append(re.escape(shown[end:match.start()]))
        pattern.append({'space': ' +', 'number': r'\d+(?:\.\d+)?',
                        'path': r'/\S+'}[match.lastgroup])
        end = match.end()
    pattern.append(re.escape(shown[end:]))
    return re.compile(''.join(pattern))


def drift(shown, printed):
    """The first shown output line that the printed lines lack, or None.

    The shown lines must be found in order, with any lines between them;
    a line ``...`` stands for lines left out.
    """
    printed = iter(printed)
    for line in shown:
        if line.strip() == '...':
            continue
        pattern = shape(line.strip())
        if not any(pattern.fullmatch(p.strip()) for p in printed):
            return line
    return None


def main(argv=None):
    """Run a block's command with ``ARGS`` appended; check what it prints.

    ``python -m xloud_nova_ext.tests.admin_guide.shell_blocks PAGE START
    [ARGS...]`` runs the one command of the block of :data:`TIER_RUN`
    keyed by (PAGE, START), as the page shows it, with ARGS appended (a
    tier's own options), and prints its output as it comes. It exits with
    the command's status; a command that succeeded but printed nothing of
    the shape of a line the block shows fails.
    """
    import shlex
    import signal
    import sys
    page, start, *args = sys.argv[1:] if argv is None else argv
    assert (page, start) in TIER_RUN, (page, start)
    b = block(page, start)
    assert len(b.commands) == 1, b.commands
    script = ' '.join([b.commands[0]] + [shlex.quote(a) for a in args])
    print('%s:%d: $ %s' % (page, b.line, script), flush=True)
    proc = subprocess.Popen(
        ['bash', '-euo', 'pipefail', '-c', script], stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT, text=True, start_new_session=True,
        env=dict(os.environ, PYTHONUNBUFFERED='1'))

    def forward(signum, frame):
        # Its own session: a stop of ours reaches it only from here.
        os.killpg(proc.pid, signum)
    for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(signum, forward)
    printed = []
    for line in proc.stdout:
        sys.stdout.write(line)
        sys.stdout.flush()
        printed.append(line.rstrip('\n'))
    rc = proc.wait()
    missing = drift(b.output, printed)
    if rc == 0 and missing is not None:
        print('FAILED: %s:%d shows output that this run did not print: no '
              'line of the shape %r (pattern %s), in the order shown. '
              'Make the page show what the command prints.' % (
                  page, b.line, missing, shape(missing.strip()).pattern),
              file=sys.stderr)
        return 1
    return rc


if __name__ == '__main__':
    import sys
    sys.exit(main())
