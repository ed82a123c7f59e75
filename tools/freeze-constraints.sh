#!/bin/bash
# Regenerate upper-constraints.txt: install the top-level requirements of every
# tier into a scratch venv and freeze it. Run after bumping a pin below.
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
venv=$(mktemp -d)/venv
trap 'rm -rf "$(dirname "$venv")"' EXIT
python3 -m venv "$venv"
"$venv/bin/pip" install -q -U pip
"$venv/bin/pip" install -q 'nova==34.0.0' 'tempest==47.0.0' 'barbican==23.0.0' \
    'keystone==30.0.0' 'SQLAlchemy<2.1' 'python-openstackclient==10.5.0' \
    -r "$top/requirements.txt" -r "$top/test-requirements.txt" \
    -r "$top/doc/requirements.txt"
{
    sed -n '/^#/p' "$top/upper-constraints.txt"
    "$venv/bin/pip" freeze --exclude-editable | grep -v '^xloud' | sort -f
} > "$top/upper-constraints.txt.new"
mv "$top/upper-constraints.txt.new" "$top/upper-constraints.txt"
