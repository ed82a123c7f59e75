#!/bin/bash
# Prepare a fresh Debian machine: the Debian packages every tier needs and a
# small tools virtualenv (.venv-tools) with tox and python-subunit, pinned by
# upper-constraints.txt. Idempotent; safe to run again.
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"

if [ "$(id -u)" = 0 ]; then
    tools/install-debian-deps.sh
else
    echo "bootstrap: not root, skipping Debian packages" \
         "(the integration tier will fail under XLOUD_TEST_REQUIRE_ALL)" >&2
fi

if [ ! -x .venv-tools/bin/tox ]; then
    python3 -m venv .venv-tools
    .venv-tools/bin/python -m pip install --quiet --upgrade pip
fi
.venv-tools/bin/python -m pip install --quiet -c upper-constraints.txt \
    tox python-subunit
