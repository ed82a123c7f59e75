#!/bin/bash
# Set up a fresh machine and run every test tier and check, as CI does.
#
#   tools/run-tests.sh            all tiers
#   tools/run-tests.sh py3 docs   only these
#
# Missing requirements (root, libvirtd, QEMU) fail instead of skipping
# (XLOUD_TEST_REQUIRE_ALL=1), so no tier can pass by skipping. The last line
# counts every test of every tier: "N passed, N failed, N skipped".
set -u
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top" || exit 1

export XLOUD_TEST_REQUIRE_ALL=${XLOUD_TEST_REQUIRE_ALL:-1}
tools/bootstrap.sh || { echo "0 passed, 1 failed (bootstrap)"; exit 1; }

# Tiers with stestr repositories are counted test by test; the others
# (flake8, Sphinx, the benchmarks, which print figures) count as one check
# each.
all_tiers="pep8 py3 fuzz functional nova-compat integration faults install-matrix harness tempest-plugin devstack docs admin-guide releasenotes cloud demo real-cloud bench"
tiers=${*:-$all_tiers}
results=$top/.ci-results
rm -rf "$results"
mkdir -p "$results"

for tier in $tiers; do
    rm -rf ".stestr-$tier"  # count this run only
    echo "===== tox -e $tier"
    start=$(date +%s)
    if [ "$tier" = demo ]; then
        # The main job on nova's fake libvirt (real-cloud runs it on real
        # libvirt), its Tempest scenarios counted one by one.
        .venv-tools/bin/tox -e demo -- --hypervisor fake \
            --subunit "$results/demo.subunit" \
            --html "$results/xloud-migration-report.html"
    elif [ "$tier" = real-cloud ]; then
        # The main job on real libvirt and QEMU, its scenarios counted too.
        # Its services' logs are kept; after a failure their errors are
        # printed, since CI keeps only what the run prints.
        .venv-tools/bin/tox -e real-cloud -- \
            --workdir "$results/real-cloud" \
            --subunit "$results/real-cloud.subunit" \
            --html "$results/xloud-migration-report-libvirt.html" \
            --json "$results/xloud-migration-report-libvirt.json"
    else
        .venv-tools/bin/tox -e "$tier"
    fi
    rc=$?
    if [ "$tier" = real-cloud ] && [ "$rc" != 0 ]; then
        grep -H -A3 -E ' (ERROR|CRITICAL) ' "$results"/real-cloud/logs/*.log |
            tail -n 200
    fi
    secs=$(( $(date +%s) - start ))
    if [ -d ".stestr-$tier" ]; then
        # stestr's public output of this run, for tools/ci_summary.py.
        .venv-tools/bin/tox exec -qq -e "$tier" -- \
            stestr --repo-url ".stestr-$tier" last --subunit \
            > "$results/$tier.subunit" || true
    fi
    echo "$tier $rc $secs" >> "$results/tiers"
    echo "===== tox -e $tier: exit $rc in $secs s"
done

.venv-tools/bin/python tools/ci_summary.py "$results/tiers"
