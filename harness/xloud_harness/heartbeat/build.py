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

"""Build the heartbeat guest from Debian packages, once per version.

The guest is Debian's cloud kernel (``linux-image-cloud-amd64`` names the
current one) and an initramfs holding ``busybox-static`` and :file:`init.sh`.
Both come from the machine's own apt sources (``apt-get download``, no
install); the result is cached under :func:`cache_dir`, keyed by the package
versions and the init script, so a second build is a lookup.
"""

import collections
import fcntl
import glob
import gzip
import hashlib
import os
import shutil
import subprocess
import tempfile

KERNEL_METAPACKAGE = 'linux-image-cloud-amd64'
BUSYBOX_PACKAGE = 'busybox-static'
INIT_SCRIPT = os.path.join(os.path.dirname(__file__), 'init.sh')
# The init draws its console itself (ttyS0); "quiet" keeps the kernel's
# boot messages from slowing a TCG boot. No panic= option: a panicking
# guest then stays down with its message on the console, for a check to
# find, instead of rebooting into a new boot id.
CMDLINE = 'console=ttyS0 quiet'

Guest = collections.namedtuple('Guest', 'kernel initramfs cmdline')


class BuildError(Exception):
    pass


def cache_dir():
    """Where built guests are kept: ``$XLOUD_CACHE_DIR`` or ~/.cache/xloud."""
    return os.environ.get('XLOUD_CACHE_DIR') or os.path.join(
        os.path.expanduser('~'), '.cache', 'xloud')


def _run(argv, cwd=None):
    proc = subprocess.run(argv, cwd=cwd, capture_output=True, text=True,
                          stdin=subprocess.DEVNULL)
    if proc.returncode != 0:
        raise BuildError('%s exited %s: %s' % (
            ' '.join(argv), proc.returncode,
            (proc.stderr or proc.stdout).strip()))
    return proc.stdout


def kernel_package():
    """The versioned kernel package the cloud metapackage depends on."""
    out = _run(['apt-cache', 'depends', KERNEL_METAPACKAGE])
    for line in out.splitlines():
        name = line.strip().partition('Depends: ')[2]
        if name.startswith('linux-image-'):
            return name
    raise BuildError('apt-cache knows no kernel behind %s: run apt-get update'
                     % KERNEL_METAPACKAGE)


def candidate_version(package):
    out = _run(['apt-cache', 'policy', package])
    for line in out.splitlines():
        key, _, value = line.strip().partition(': ')
        if key == 'Candidate' and value != '(none)':
            return value
    raise BuildError('apt has no candidate for %s: run apt-get update'
                     % package)


def _key(packages):
    digest = hashlib.sha256()
    for name, version in packages:
        digest.update(('%s=%s\n' % (name, version)).encode())
    with open(INIT_SCRIPT, 'rb') as f:
        digest.update(f.read())
    return digest.hexdigest()[:16]


def _pack_initramfs(root, target):
    """``root`` as a gzipped newc cpio archive (what the kernel unpacks)."""
    names = []
    for dirpath, dirnames, filenames in os.walk(root):
        rel = os.path.relpath(dirpath, root)
        for name in sorted(dirnames) + sorted(filenames):
            names.append(os.path.normpath(os.path.join(rel, name)))
    cpio = subprocess.run(
        ['cpio', '--create', '--format=newc', '--quiet', '--reproducible'],
        cwd=root, input='\n'.join(names).encode(), capture_output=True)
    if cpio.returncode != 0:
        raise BuildError('cpio failed: %s' % cpio.stderr.decode().strip())
    with gzip.open(target, 'wb', compresslevel=6) as f:
        f.write(cpio.stdout)


def _build(work, kernel_pkg, out):
    debs = os.path.join(work, 'debs')
    tree = os.path.join(work, 'tree')
    root = os.path.join(work, 'initramfs')
    os.makedirs(debs)
    _run(['apt-get', 'download', '-q', kernel_pkg, BUSYBOX_PACKAGE],
         cwd=debs)
    for deb in sorted(glob.glob(os.path.join(debs, '*.deb'))):
        _run(['dpkg-deb', '-x', deb, tree])
    kernels = glob.glob(os.path.join(tree, 'boot', 'vmlinuz-*'))
    if len(kernels) != 1:
        raise BuildError('%s holds %d kernels, expected one'
                         % (kernel_pkg, len(kernels)))
    for d in ('bin', 'dev', 'proc', 'sys', 'mem'):
        os.makedirs(os.path.join(root, d))
    shutil.copy2(os.path.join(tree, 'bin', 'busybox'),
                 os.path.join(root, 'bin', 'busybox'))
    shutil.copyfile(INIT_SCRIPT, os.path.join(root, 'init'))
    os.chmod(os.path.join(root, 'init'), 0o755)
    _pack_initramfs(root, os.path.join(out, 'initramfs.gz'))
    shutil.copyfile(kernels[0], os.path.join(out, 'vmlinuz'))


def build(cache=None):
    """The heartbeat :class:`Guest`, built on first use, then from cache."""
    kernel_pkg = kernel_package()
    packages = [(p, candidate_version(p))
                for p in (kernel_pkg, BUSYBOX_PACKAGE)]

    def make(work, staged):
        _build(work, kernel_pkg, staged)
        with open(os.path.join(staged, 'packages'), 'w') as f:
            f.writelines('%s=%s\n' % p for p in packages)

    out = cached(os.path.join(cache or cache_dir(), 'guest'),
                 _key(packages), make)
    return Guest(os.path.join(out, 'vmlinuz'),
                 os.path.join(out, 'initramfs.gz'), CMDLINE)


def cached(base, key, make):
    """The directory ``base/key``, made by ``make(work, staged)`` if absent.

    ``make`` fills ``staged`` (``work`` is its scratch space, removed
    after). Builds in ``base`` by two processes wait for each other; the
    finished directory appears by rename, whole or not at all. Any other
    key in ``base`` (an older build, ~15 MB each) is removed.
    """
    out = os.path.join(base, key)
    os.makedirs(base, exist_ok=True)
    with open(os.path.join(base, '.lock'), 'w') as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not os.path.isdir(out):
            with tempfile.TemporaryDirectory(dir=base) as work:
                staged = os.path.join(work, 'out')
                os.makedirs(staged)
                make(work, staged)
                os.rename(staged, out)
        # Under the lock: no other build is staging in ``base`` now.
        for name in os.listdir(base):
            path = os.path.join(base, name)
            if path != out and os.path.isdir(path):
                shutil.rmtree(path, ignore_errors=True)
    return out
