#!/bin/bash
# What tempest itself sees of the installed plugin: it is registered, it
# lists every scenario (and none of the plugin's unit tests), and every
# scenario has a unique idempotent id. Run in a venv holding only tempest
# and the plugin (tox -e tempest-plugin).
set -eu -o pipefail
export LC_ALL=C  # one collation for sort and comm

here=$(cd "$(dirname "$0")" && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
# tempest writes ~/.tempest and $TMPDIR/tempest-lock: keep both in here.
export HOME=$work/home TMPDIR=$work/tmp
mkdir -p "$HOME" "$TMPDIR"
cd "$work"  # import the installed plugin, not the source tree

fail() { echo "FAILED: $*" >&2; exit 1; }

echo "== tempest list-plugins"
tempest list-plugins | tee plugins.txt
grep -qw xloud_tempest_plugin plugins.txt ||
    fail "tempest does not know xloud_tempest_plugin"

echo "== tempest run --list-tests --regex xloud_tempest_plugin"
tempest init workspace >/dev/null
(cd workspace && tempest run --list-tests --regex xloud_tempest_plugin) |
    tee listed.txt
# "pkg.Class.test_x[id-...,multinode]" -> "pkg.Class.test_x"
grep '^xloud_tempest_plugin\.' listed.txt | sed 's/\[.*//' | sort -u \
    > listed-ids.txt
python "$here/list_scenarios.py" | sort -u > expected-ids.txt
[ -s expected-ids.txt ] || fail "no scenario found in the plugin"
missing=$(comm -23 expected-ids.txt listed-ids.txt)
[ -z "$missing" ] || fail "tempest does not list: $missing"
if grep -q '\.tests\.unit\.' listed.txt; then
    fail "tempest lists the plugin's unit tests"
fi
if grep -q -i 'failedtest\|ImportError' listed.txt; then
    fail "tempest could not load a test module"
fi
echo "tempest lists all $(wc -l < expected-ids.txt) scenarios"
# check-uuid reads the source: a variant class that inherits its tests
# would pass it with ids that name two tests each. Count what tempest runs.
grep '^xloud_tempest_plugin\.' listed.txt | grep -o 'id-[0-9a-f-]*' | sort \
    > listed-uuids.txt
[ "$(wc -l < listed-uuids.txt)" -eq "$(wc -l < expected-ids.txt)" ] ||
    fail "a listed scenario has no idempotent id"
dups=$(uniq -d listed-uuids.txt)
[ -z "$dups" ] || fail "idempotent ids shared by several tests: $dups"
echo "every listed scenario has an id of its own"

echo "== check-uuid --package xloud_tempest_plugin"
check-uuid --package xloud_tempest_plugin
echo "idempotent ids: present and unique"
