#!/usr/bin/env python3
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

"""Check .zuul.yaml without a Zuul server.

Zuul only reports a broken job after the change is proposed; this catches
what can be checked from the repository alone:

* the file parses and holds only Zuul configuration objects;
* every job has a unique name starting with the project's and a parent, and
  is run by some pipeline; a parent, nodeset, pipeline job or template named
  with the project's prefix is defined in this file (other projects' names
  are left to Zuul, which checks them when the change is proposed);
* every playbook a job runs (pre-run, run, post-run, cleanup-run) exists
  and is a YAML list of plays;
* every XLOUD_* DevStack setting a job sets is defined in devstack/settings,
  enabling this project's DevStack plugin finds devstack/plugin.sh and
  devstack/settings, and every path inside this project's DevStack checkout
  (/opt/stack/<project>/...) exists in the repository;
* every files / irrelevant-files matcher compiles and uses no look-around
  (Zuul matches them with RE2, which has none);
* every tempest_test_regex selects at least one scenario of the Tempest
  plugin, and the job's tempest_exclude_regex does not drop them all.

Usage: check_zuul.py [--root DIR]. Prints one line per problem and exits 1,
or prints a summary and exits 0.
"""

import argparse
import configparser
import importlib.util
import os
import re
import sys

import yaml

# Jobs, nodesets and templates of other repositories (openstack-tox,
# tempest-multinode-full-py3, ...) are not checked here: a list of them
# would drift from upstream, and Zuul reports an unknown one when the change
# is proposed. A name with this project's prefix, though, must be defined in
# this file.

FILE_MATCHERS = ('files', 'irrelevant-files')
_LOOKAROUND = re.compile(r'\(\?<?[=!]')
TOP_LEVEL = {'job', 'nodeset', 'project', 'project-template', 'secret',
             'semaphore', 'queue', 'pragma'}
PLAYBOOK_KEYS = ('pre-run', 'run', 'post-run', 'cleanup-run')


def _load_lister():
    """The plugin's scenario lister (tempest_plugin/tools), by its path."""
    path = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(
        __file__))), 'tempest_plugin', 'tools', 'list_scenarios.py')
    spec = importlib.util.spec_from_file_location('list_scenarios', path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


#: scenario_ids(root): the ids of the plugin's scenarios in that tree.
scenario_ids = _load_lister().scenario_ids


class _Loader(yaml.SafeLoader):
    """YAML with Zuul's tags (e.g. !encrypted/pkcs1-oaep) as plain data."""


_Loader.add_multi_constructor(
    '!', lambda loader, suffix, node: loader.construct_sequence(node)
    if isinstance(node, yaml.SequenceNode)
    else loader.construct_scalar(node))


def project_name(root):
    parser = configparser.ConfigParser()
    parser.read(os.path.join(root, 'setup.cfg'))
    return parser.get('metadata', 'name')


def load(path):
    with open(path) as f:
        return yaml.load(f, Loader=_Loader)


def _as_list(value):
    if value is None:
        return []
    return value if isinstance(value, list) else [value]


def _playbooks(job):
    for key in PLAYBOOK_KEYS:
        for item in _as_list(job.get(key)):
            yield key, item['name'] if isinstance(item, dict) else item


def _pipeline_jobs(project):
    """(pipeline, job name, variant) of every job a project stanza runs."""
    for pipeline, body in project.items():
        if not isinstance(body, dict):
            continue
        for item in body.get('jobs') or []:
            if isinstance(item, dict):
                for name, variant in item.items():
                    yield pipeline, name, variant
            else:
                yield pipeline, item, None


def _strings(value):
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for v in value.values():
            yield from _strings(v)
    elif isinstance(value, list):
        for v in value:
            yield from _strings(v)


def _var_dicts(job):
    """The job's vars and each of its group-vars and host-vars."""
    yield 'vars', job.get('vars') or {}
    for key in ('group-vars', 'host-vars'):
        for group, variables in (job.get(key) or {}).items():
            yield '%s.%s' % (key, group), variables or {}


def devstack_settings(root):
    """Names that devstack/settings assigns."""
    path = os.path.join(root, 'devstack', 'settings')
    if not os.path.exists(path):
        return set()
    with open(path) as f:
        return set(re.findall(r'^\s*([A-Z][A-Z0-9_]*)=', f.read(), re.M))


def check(root):
    """Every problem found, as text; empty when the file is fine."""
    path = os.path.join(root, '.zuul.yaml')
    try:
        config = load(path)
    except (OSError, yaml.YAMLError) as e:
        return ['%s: cannot be read: %s' % (path, e)]
    if not isinstance(config, list):
        return ['.zuul.yaml: a list of Zuul objects expected, got %s'
                % type(config).__name__]

    problems = []
    jobs, nodesets, templates, projects = {}, set(), set(), []
    for index, item in enumerate(config):
        if not (isinstance(item, dict) and len(item) == 1 and
                next(iter(item)) in TOP_LEVEL):
            problems.append('item %d: not a Zuul object: %r'
                            % (index, item))
            continue
        kind, body = next(iter(item.items()))
        if kind == 'project':
            projects.append(body)
            continue
        name = (body or {}).get('name')
        if kind == 'job':
            if name in jobs:
                problems.append('job %s: defined twice' % name)
            jobs[name] = body
        elif kind == 'nodeset':
            nodesets.add(name)
        elif kind == 'project-template':
            templates.add(name)
            projects.append(body)

    project = project_name(root)
    settings = devstack_settings(root)
    checkout = re.compile(r'(?:/opt/stack|\{\{ *devstack_base_dir *\}\})/%s/'
                          r'([^\s:"\']+)' % re.escape(project))
    scenarios = scenario_ids(root)
    used = set()
    for name, job in jobs.items():
        problems.extend(_check_job(root, name, job, jobs, nodesets, project,
                                   settings, checkout, scenarios))
        if job.get('parent'):
            used.add(job['parent'])

    for body in projects:
        for tmpl in body.get('templates') or []:
            if _ours_but_undefined(project, tmpl, templates):
                problems.append('template %s: named for this project but '
                                'not defined here' % tmpl)
        for pipeline, name, variant in _pipeline_jobs(body):
            used.add(name)
            for key in FILE_MATCHERS:
                problems.extend(_check_matchers(
                    '%s pipeline: job %s: %s' % (pipeline, name, key),
                    (variant or {}).get(key)))
            if _ours_but_undefined(project, name, jobs):
                problems.append('%s pipeline: job %s is named for this '
                                'project but not defined here'
                                % (pipeline, name))
    for name, job in jobs.items():
        if name not in used and not job.get('abstract'):
            problems.append('job %s: no pipeline runs it and no job '
                            'inherits from it' % name)
    return problems


def _check_job(root, name, job, jobs, nodesets, project, settings, checkout,
               scenarios):
    problems = []
    if not name or not name.startswith(project + '-'):
        problems.append('job %s: its name must start with "%s-"'
                        % (name, project))
    parent = job.get('parent')
    if not parent:
        problems.append('job %s: no parent (it would run on the base job '
                        'only)' % name)
    elif _ours_but_undefined(project, parent, jobs):
        problems.append('job %s: parent %s is named for this project but '
                        'not defined here' % (name, parent))
    nodeset = job.get('nodeset')
    if (isinstance(nodeset, str) and
            _ours_but_undefined(project, nodeset, nodesets)):
        problems.append('job %s: nodeset %s is named for this project but '
                        'not defined here' % (name, nodeset))
    for key in FILE_MATCHERS:
        problems.extend(_check_matchers('job %s: %s' % (name, key),
                                        job.get(key)))
    for key, playbook in _playbooks(job):
        path = os.path.join(root, playbook)
        if not os.path.isfile(path):
            problems.append('job %s: %s playbook %s does not exist'
                            % (name, key, playbook))
            continue
        try:
            plays = load(path)
        except yaml.YAMLError as e:
            problems.append('job %s: %s playbook %s does not parse: %s'
                            % (name, key, playbook, e))
            continue
        if not (isinstance(plays, list) and plays and
                all(isinstance(p, dict) and ('hosts' in p or
                                             'import_playbook' in p)
                    for p in plays)):
            problems.append('job %s: %s playbook %s is not a list of plays'
                            % (name, key, playbook))

    for where, variables in _var_dicts(job):
        if project in (variables.get('devstack_plugins') or {}):
            for f in ('settings', 'plugin.sh'):
                if not os.path.isfile(os.path.join(root, 'devstack', f)):
                    problems.append('job %s: %s enables the DevStack plugin '
                                    'but devstack/%s does not exist'
                                    % (name, where, f))
        for setting in variables.get('devstack_localrc') or {}:
            if setting.startswith('XLOUD_') and setting not in settings:
                problems.append('job %s: %s sets %s, which devstack/settings '
                                'does not define' % (name, where, setting))
        for text in _strings(variables):
            for rel in checkout.findall(text):
                if not os.path.exists(os.path.join(root, rel)):
                    problems.append('job %s: %s names %s, which is not in '
                                    'the repository' % (name, where, rel))

    variables = _effective_vars(name, jobs)
    regex = variables.get('tempest_test_regex')
    if regex and not job.get('abstract'):
        problems.extend(_check_regex(name, regex,
                                     variables.get('tempest_exclude_regex'),
                                     scenarios))
    return problems


def _ours_but_undefined(project, name, defined):
    """True for a name of this project's that this file does not define."""
    return name.startswith(project + '-') and name not in defined


def _check_matchers(where, matchers):
    problems = []
    for matcher in _as_list(matchers):
        try:
            re.compile(matcher)
        except (re.error, TypeError) as e:
            problems.append('%s: %r does not compile: %s'
                            % (where, matcher, e))
            continue
        if _LOOKAROUND.search(matcher):
            problems.append('%s: %r uses look-around, which RE2 lacks'
                            % (where, matcher))
    return problems


def _merge(base, override):
    """Zuul's merge of job variables: dicts recursively, the rest replaced."""
    merged = dict(base)
    for key, value in override.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = _merge(merged[key], value)
        else:
            merged[key] = value
    return merged


def _effective_vars(name, jobs, seen=()):
    """The job's vars merged over those of its ancestors in this file."""
    job = jobs.get(name)
    if job is None or name in seen:
        return {}
    inherited = _effective_vars(job.get('parent'), jobs, seen + (name,))
    return _merge(inherited, job.get('vars') or {})


def _check_regex(name, regex, exclude, scenarios):
    try:
        selected = [s for s in scenarios if re.search(regex, s)]
        if exclude:
            selected = [s for s in selected if not re.search(exclude, s)]
    except re.error as e:
        return ['job %s: bad tempest regex: %s' % (name, e)]
    if not selected:
        return ['job %s: tempest_test_regex %r (exclude %r) selects none of '
                'the %d scenarios of the Tempest plugin'
                % (name, regex, exclude, len(scenarios))]
    return []


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--root', default=os.path.dirname(os.path.dirname(
        os.path.abspath(__file__))), help='repository to check')
    args = parser.parse_args(argv)
    problems = check(args.root)
    for problem in problems:
        print(problem)
    if problems:
        return 1
    config = load(os.path.join(args.root, '.zuul.yaml'))
    jobs = sum(1 for item in config if 'job' in item)
    print('.zuul.yaml: %d jobs checked, no problem found' % jobs)
    return 0


if __name__ == '__main__':
    sys.exit(main())
