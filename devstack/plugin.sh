# shellcheck shell=bash
# plugin.sh - DevStack plugin of xloud-nova-ext
#
# stack.sh, unstack.sh and clean.sh source this file as
# "plugin.sh <mode> [phase]" after devstack/settings. See devstack/README.rst
# for the settings and lib/xloud for what each phase does.

# shellcheck source=devstack/lib/xloud
source "$(dirname "${BASH_SOURCE[0]}")/lib/xloud"

if [[ $1 == stack ]]; then
    case $2 in
        pre-install)
            # Nothing: the package and swtpm need no system setup of their
            # own beyond what DevStack does for nova and libvirt.
            ;;
        install)
            if is_service_enabled n-cpu; then
                echo_summary "Installing xloud-nova-ext"
                install_xloud
            fi
            ;;
        post-config)
            if is_service_enabled n-cpu; then
                echo_summary "Configuring nova-compute for xloud-nova-ext"
                configure_xloud_nova
            fi
            ;;
        extra)
            # Nothing: the driver runs inside nova-compute; no service of
            # its own to start.
            ;;
        test-config)
            if is_service_enabled tempest; then
                echo_summary "Configuring tempest for xloud-nova-ext"
                configure_xloud_tempest
            fi
            ;;
    esac
elif [[ $1 == unstack ]]; then
    # Nothing to stop: nova-compute, which loads the driver, is DevStack's.
    :
elif [[ $1 == clean ]]; then
    if is_service_enabled n-cpu; then
        cleanup_xloud
    fi
fi
