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

"""The built operator's guide says what the code does.

The documentation is built once (Sphinx, warnings are errors) into a
temporary directory, and its HTML pages are read as plain text.
"""

import html
import os
import re
import shutil
import subprocess
import sys
import tempfile

from xloud_harness import testing

from xloud_nova_ext import exception
from xloud_nova_ext.tests.admin_guide import refusals

TOP = refusals.TOP
SOURCE = os.path.join(TOP, 'doc', 'source')

# Sphinx's smartquotes turn these into typographic characters in HTML.
_TYPOGRAPHY = {'\u2018': "'", '\u2019': "'", '\u201c': '"', '\u201d': '"',
               '\u2026': '...', '\u2013': '--', '\u2014': '---'}

_built = {}


def build():
    """The HTML directory of a fresh build, made once per process."""
    if 'html' not in _built:
        out = tempfile.mkdtemp(prefix='xloud-guide-')
        proc = subprocess.run(
            [sys.executable, '-m', 'sphinx', '-W', '--keep-going', '-q',
             '-b', 'html', '-d', os.path.join(out, 'doctrees'), SOURCE,
             os.path.join(out, 'html')],
            capture_output=True, text=True, cwd=TOP)
        _built['html'] = os.path.join(out, 'html')
        _built['error'] = (proc.stdout + proc.stderr
                           if proc.returncode else None)
    return _built['html'], _built['error']


def page_text(name):
    """A built page as normalised plain text."""
    html_dir, error = build()
    if error:
        raise AssertionError('the documentation does not build:\n' + error)
    with open(os.path.join(html_dir, name + '.html')) as f:
        text = f.read()
    text = re.sub(r'<(script|style)\b.*?</\1>', ' ', text, flags=re.S)
    text = html.unescape(re.sub(r'<[^>]+>', ' ', text))
    for fancy, plain in _TYPOGRAPHY.items():
        text = text.replace(fancy, plain)
    return ' '.join(text.split())


def template(fmt):
    """A message format as the guide shows it: %(name)s becomes <name>."""
    return re.sub(r'%\((\w+)\)s', r'<\1>', fmt)


def refusal_classes():
    """Every raised error class of exception.py: own code and msg_fmt."""
    for obj in vars(exception).values():
        if (isinstance(obj, type) and issubclass(obj, exception.XloudError)
                and obj is not exception.XloudError
                and 'code' in vars(obj) and 'msg_fmt' in vars(obj)):
            yield obj


def missing(parts, text):
    """The parts (whitespace-normalised) that the text does not contain."""
    return [p for p in parts if ' '.join(p.split()) not in text]


class BuiltGuideTest(testing.TestCase):

    @classmethod
    def tearDownClass(cls):
        if 'html' in _built:
            shutil.rmtree(os.path.dirname(_built.pop('html')),
                          ignore_errors=True)
        super().tearDownClass()

    def test_every_refusal_code_cause_and_fix(self):
        text = page_text('admin/troubleshooting')
        classes = list(refusal_classes())
        self.assertGreater(len(classes), 5)
        parts = []
        for cls in classes:
            parts += [cls.code, template(cls.msg_fmt), template(cls.fix_fmt)]
        self.assertEqual([], missing(parts, text),
                         'refusal texts of exception.py missing from the '
                         'built admin/troubleshooting page')

    def test_upstream_errors(self):
        text = page_text('admin/troubleshooting')
        for message in ('No valid host was found.',
                        'Exceeded maximum number of retries.',
                        'Timed out waiting for a reply',
                        'Connection timed out',
                        "guest CPU doesn't match specification",
                        "CPU doesn't have compatibility.",
                        'Block migration disk copy failed',
                        'No space left on device',
                        'Compute service of <host> is unavailable'):
            self.assertEqual([], missing([message], text))

    def test_cli_commands(self):
        text = page_text('admin/cli')
        for command in ('openstack server migrate --live-migration --wait',
                        'openstack server migrate --live-migration --host',
                        '--block-migration',
                        'openstack server migrate --wait',
                        'openstack server migration confirm',
                        'openstack server migration revert',
                        'openstack server migration list'):
            self.assertEqual([], missing([command], text))

    def test_verification_commands(self):
        text = page_text('admin/verification')
        for command in ('openstack server show',
                        'openstack server migration list',
                        'openstack console log show'):
            self.assertEqual([], missing([command], text))

    def test_devstack_settings_are_published(self):
        text = page_text('install/devstack')
        with open(os.path.join(TOP, 'devstack', 'settings')) as f:
            names = re.findall(r'^(XLOUD_[A-Z0-9_]*)=', f.read(), re.M)
        self.assertNotEqual([], names)
        self.assertEqual([], missing(names, text))

    def test_baseline_tool_options(self):
        proc = subprocess.run(
            [sys.executable, '-c',
             'import sys; from xloud_nova_ext.cmd import cpu_baseline; '
             'sys.argv = ["xloud-cpu-baseline", "--help"]; '
             'cpu_baseline.main()'],
            capture_output=True, text=True, cwd=TOP)
        options = set(re.findall(r'(?<![\w-])(--[a-z][a-z0-9-]+)',
                                 proc.stdout)) - {'--help'}
        self.assertNotEqual(set(), options, proc.stdout + proc.stderr)
        text = page_text('admin/cpu-baseline-tool')
        self.assertEqual([], sorted(o for o in options if o not in text),
                         'options of xloud-cpu-baseline missing from '
                         'doc/source/admin/cpu-baseline-tool.rst')
