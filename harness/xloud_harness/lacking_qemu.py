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

"""A QEMU that really lacks CPU features, for one host only.

An edited capability cache only changes libvirt's answers: QEMU still runs
the CPU model, and a migration libvirt "refuses" would in fact work. Here
QEMU itself lacks the features: inside the host's mount namespace a wrapper
is bind-mounted over :data:`QEMU`; it appends ``,<feature>=off`` to the
argument after ``-cpu`` and execs a copy of the real binary. QEMU 7.2 loads
its modules and firmware relative to its own path, so a ``qemu-bundle``
symlink to ``/`` sits beside the copy.

libvirt probes the wrapper afresh (its ctime differs), but the probe runs no
``-cpu``, so the new cache still says TCG has the features:
:func:`edit_caps` makes it say what QEMU now does (the host CPU without them;
every model QEMU expands with them unusable, QEMU itself naming which).
:meth:`xloud_harness.host.Host.lack_cpu_features` puts it together for the
integration tier's hosts, the real cloud's hosts module for its own.
"""

import json
import os
import re
import shutil
import subprocess

QEMU = '/usr/bin/qemu-system-x86_64'

WRAPPER = """#!/bin/sh
# xloud_harness.lacking_qemu: this host's QEMU lacks %(features)s.
cpu_next=
for arg in "$@"; do
    shift
    if [ -n "$cpu_next" ]; then
        arg="$arg%(suffix)s"
        cpu_next=
    elif [ "$arg" = -cpu ]; then
        cpu_next=1
    fi
    set -- "$@" "$arg"
done
exec %(binary)s "$@"
"""


def install(directory, features, qemu=QEMU):
    """Write the wrapper, the copy and its qemu-bundle under ``directory``.

    Returns the wrapper's path (to bind-mount over ``qemu``). The copy is
    made once; the wrapper is rewritten only when ``features`` change, so
    that a capability cache probed for it stays valid.
    """
    os.makedirs(directory, exist_ok=True)
    binary = os.path.join(directory, os.path.basename(qemu))
    if not _same_file(qemu, binary):
        # Copied again after an upgrade: the modules must match the binary.
        shutil.copy2(qemu, binary + '.tmp')
        os.rename(binary + '.tmp', binary)
    bundle = os.path.join(directory, 'qemu-bundle')
    if not os.path.islink(bundle):
        os.symlink('/', bundle)
    wrapper = os.path.join(directory, 'qemu-wrapper')
    text = WRAPPER % {'features': ', '.join(features), 'binary': binary,
                      'suffix': ''.join(',%s=off' % f for f in features)}
    try:
        with open(wrapper) as f:
            unchanged = f.read() == text
    except FileNotFoundError:
        unchanged = False
    if not unchanged:
        with open(wrapper + '.tmp', 'w') as f:
            f.write(text)
        os.chmod(wrapper + '.tmp', 0o755)
        os.rename(wrapper + '.tmp', wrapper)
    return wrapper


def _same_file(original, copy):
    try:
        a, b = os.stat(original), os.stat(copy)
    except FileNotFoundError:
        return False
    return (a.st_size, a.st_mtime_ns) == (b.st_size, b.st_mtime_ns)


def models_with(features, models, qemu=QEMU, timeout=60):
    """{model: [features it has]} for the ``models`` that have any.

    QEMU's own answer (QMP ``query-cpu-model-expansion``, TCG, full).
    """
    commands = [{'execute': 'qmp_capabilities'}]
    commands += [{'execute': 'query-cpu-model-expansion',
                  'arguments': {'type': 'full', 'model': {'name': m}}}
                 for m in models]
    commands.append({'execute': 'quit'})
    proc = subprocess.run(
        [qemu, '-machine', 'none,accel=tcg', '-nodefaults', '-display',
         'none', '-S', '-qmp', 'stdio'],
        input=''.join(json.dumps(c) + '\n' for c in commands),
        capture_output=True, text=True, timeout=timeout)
    replies = [json.loads(line) for line in proc.stdout.splitlines()
               if line.strip()]
    replies = [r for r in replies if 'return' in r or 'error' in r]
    if len(replies) < len(commands) - 1:
        raise RuntimeError('QEMU answered %d of %d QMP commands: %s'
                           % (len(replies), len(commands), proc.stderr))
    having = {}
    for model, reply in zip(models, replies[1:]):
        props = reply.get('return', {}).get('model', {}).get('props', {})
        found = [f for f in features if props.get(f) is True]
        if found:
            having[model] = found
    return having


def tcg_models(caps_xml):
    """Names of the usable TCG CPU models in a capability cache file."""
    return re.findall(r"<cpu type='tcg' name='([^']+)' [^>]*usable='yes'",
                      caps_xml)


def edit_caps(caps_xml, features, blocked):
    """``caps_xml`` as QEMU without ``features`` would have answered.

    ``blocked``: {model: [features]} (see :func:`models_with`).
    """
    start = caps_xml.index("<hostCPU type='tcg'")
    end = caps_xml.index('</hostCPU>', start)
    block = caps_xml[start:end]
    for name in features:
        block = re.sub(
            r"<property name='%s' type='boolean' value='true'[^>]*/>"
            % re.escape(name),
            "<property name='%s' type='boolean' value='false'/>" % name,
            block)
    caps_xml = caps_xml[:start] + block + caps_xml[end:]
    for model, lacks in blocked.items():
        blockers = ''.join("    <blocker name='%s'/>\n" % f for f in lacks)
        caps_xml = re.sub(
            r"(<cpu type='tcg' name='%s' [^>]*usable=)'yes'/>\n"
            % re.escape(model),
            lambda m: "%s'no'>\n%s  </cpu>\n" % (m.group(1), blockers),
            caps_xml)
    return caps_xml


def lacks(caps_xml, features):
    """True if ``caps_xml`` already says that TCG lacks ``features``."""
    start = caps_xml.find("<hostCPU type='tcg'")
    if start < 0:
        return False
    block = caps_xml[start:caps_xml.index('</hostCPU>', start)]
    return all("<property name='%s' type='boolean' value='false'/>" % f
               in block for f in features)


def edited_caps(files, features, qemu=QEMU):
    """A host's capability cache files ({name: bytes}), edited.

    Each file as QEMU without ``features`` would have answered (see
    :func:`edit_caps`); ``qemu`` (the real binary) names the models that
    need them.
    """
    edited = {}
    for name, data in files.items():
        text = data.decode()
        blocked = models_with(features, tcg_models(text), qemu=qemu)
        edited[name] = edit_caps(text, features, blocked).encode()
    return edited
