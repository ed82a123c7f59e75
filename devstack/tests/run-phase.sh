#!/bin/bash
# Run the plugin as stack.sh, unstack.sh and clean.sh do, with DevStack's
# functions replaced by devstack/tests/stubs.sh:
#
#   run-phase.sh [<mode>[:<phase>] ...]
#
# e.g. "run-phase.sh stack:install stack:post-config". devstack/settings is
# sourced once, then plugin.sh once per argument. With no argument only the
# settings are read. DevStack's variables (DEST, NOVA_CONF, TEMPEST_CONFIG,
# VIRT_DRIVER, ...) come from the environment; the names listed in
# XLOUD_TEST_PRINT are printed as "var: NAME=value" at the end, each on
# one line.
#
# Stricter than stack.sh, which sets errexit and only optionally nounset.
set -o errexit -o nounset -o pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
plugin_dir=$(dirname "$here")

# shellcheck source=devstack/tests/stubs.sh
source "$here/stubs.sh"

# DevStack sources the plugin from inside functions (load_plugin_settings,
# run_plugins): so do we, so that "local" behaves as it would there.
function load_settings {
    # shellcheck source=devstack/settings
    source "$plugin_dir/settings"
}

function run_plugin {
    # shellcheck source=devstack/plugin.sh
    source "$plugin_dir/plugin.sh" "$@"
}

load_settings
for arg in "$@"; do
    mode=${arg%%:*}
    phase=
    if [[ $arg == *:* ]]; then
        phase=${arg#*:}
    fi
    run_plugin "$mode" "$phase"
done

for name in ${XLOUD_TEST_PRINT:-}; do
    value=${!name:-}
    echo "var: $name=${value//$'\n'/ }"
done
