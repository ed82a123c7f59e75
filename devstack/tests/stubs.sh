# shellcheck shell=bash
# Stand-ins for the DevStack functions that devstack/settings, plugin.sh and
# lib/xloud call, for devstack/tests/run-phase.sh.
#
# ini files are edited with devstack-tools' dsconf, the Python twin of
# DevStack's inc/ini-config; pip runs for real, as DevStack's inc/python
# runs it (devstack/tests/inc-python.sh), in the test's virtualenv; what
# would change the machine (distribution packages) is only recorded. Calls
# are recorded one line each in $XLOUD_TEST_LOG.
# The environment of the test chooses what the machine looks like:
#   ENABLED_SERVICES        comma-separated, as in DevStack
#   XLOUD_TEST_DISTRO_DEB   True when is_ubuntu should answer yes
#   XLOUD_TEST_COMPUTES     hosts that "openstack compute service list"
#                           prints, space-separated; "FAIL" makes it fail
#   XLOUD_TEST_FS_TYPE      what "stat -f -c %T" prints

function _record {
    echo "$*" >> "$XLOUD_TEST_LOG"
}

# shellcheck source=devstack/tests/inc-python.sh
source "$(dirname "${BASH_SOURCE[0]}")/inc-python.sh"

function define_plugin {
    :
}

function echo_summary {
    echo "summary: $*"
}

function die {
    local line=$1
    shift
    echo "die: line $line: $*" >&2
    exit 1
}

function warn {
    echo "warn: line $1: $2"
}

# Same contract as DevStack's: known words map to True or False, anything
# else (including unset) to the default.
function trueorfalse {
    local default=$1 value=${!2:-}
    case $value in
        1|[yY]es|YES|[tT]rue|TRUE) echo True ;;
        0|[nN]o|NO|[fF]alse|FALSE) echo False ;;
        *) echo "$default" ;;
    esac
}

function is_service_enabled {
    local service
    for service in "$@"; do
        if [[ ,$ENABLED_SERVICES, == *,$service,* ]]; then
            return 0
        fi
    done
    return 1
}

function is_ubuntu {
    [[ ${XLOUD_TEST_DISTRO_DEB:-True} == True ]]
}

function iniset {
    dsconf iniset "$@"
}

function inidelete {
    if [[ -f $1 ]]; then
        dsconf inirm "$@"
    fi
}

function iniget {
    "$XLOUD_TEST_PYTHON" - "$@" <<'EOF'
import configparser
import sys

path, section, option = sys.argv[1:]
parser = configparser.RawConfigParser(strict=False)
parser.read(path)
print(parser.get(section, option, fallback=''))
EOF
}

function install_package {
    _record "install_package $*"
}

function openstack {
    _record "openstack $*"
    if [[ ${XLOUD_TEST_COMPUTES:-} == FAIL ]]; then
        echo "Failed to discover available identity versions" >&2
        return 1
    fi
    local host
    for host in ${XLOUD_TEST_COMPUTES:-}; do
        echo "$host"
    done
}

function stat {
    if [[ $* == "-f -c %T "* ]]; then
        echo "${XLOUD_TEST_FS_TYPE:-ext2/ext3}"
    else
        command stat "$@"
    fi
}

# DevStack's (inc/meta-config): the lines of one [[group|file]] section of
# a local.conf-style file; nothing when the file is unreadable.
function get_meta_section {
    local file=$1 group=$2 configfile=$3
    [[ -r $file ]] || return 0
    awk -v group="$group" -v configfile="$configfile" '
        /^\[\[.+\|.*\]\]/ {
            header = $1
            gsub("[][]", "", header)
            split(header, parts, "|")
            inside = (parts[1] == group && parts[2] == configfile)
            next
        }
        inside { print }
    ' "$file"
}
