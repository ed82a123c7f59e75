# shellcheck shell=bash
# DevStack's pip functions (inc/python) for devstack/tests/run-phase.sh:
# what each one does to pip, reproduced, so that the plugin's install phase
# really installs into a virtualenv with nova in it.
#
# Read from DevStack master (inc/python, commit 493835a6, 2026-07):
#   setup_install DIR   _setup_package_with_constraints_edit DIR "":
#                       edit-constraints (openstack/requirements) drops the
#                       project named by DIR's setup.cfg from
#                       $REQUIREMENTS_DIR/upper-constraints.txt, then
#                       pip_install DIR (not editable, with dependencies)
#   setup_develop DIR   the same with pip_install -e DIR
#   pip_install ARGS    $PIP_VIRTUAL_ENV/bin/pip or, with GLOBAL_VENV=True,
#                       $DEVSTACK_VENV/bin/pip: install -c
#                       $REQUIREMENTS_DIR/upper-constraints.txt
#                       [--upgrade if PIP_UPGRADE] ARGS
#   pip_uninstall NAME  the same pip: uninstall -y NAME, never failing
# Left out, as they change nothing pip does here: OFFLINE, the proxy and
# PIP_FIND_LINKS variables (pip reads them from the environment anyway),
# time_start/stop, bindep, the LIBS_FROM_GIT check and the chown of
# *.egg-info. The system-wide branch (sudo pip, no virtualenv) is refused:
# a test must never install into the machine's Python.

function _xloud_test_pip {
    if [[ -n ${PIP_VIRTUAL_ENV:-} && -d $PIP_VIRTUAL_ENV ]]; then
        echo "$PIP_VIRTUAL_ENV/bin/pip"
    elif [[ ${GLOBAL_VENV:-True} == True && -d ${DEVSTACK_VENV:-} ]]; then
        echo "$DEVSTACK_VENV/bin/pip"
    else
        die $LINENO "no virtualenv: set DEVSTACK_VENV (GLOBAL_VENV=True)" \
            "or PIP_VIRTUAL_ENV"
    fi
}

function get_python_exec_prefix {
    if [[ ${GLOBAL_VENV:-True} == True ]]; then
        echo "$DEVSTACK_VENV/bin"
    else
        echo "/usr/local/bin"
    fi
}

function pip_install {
    local upgrade=""
    if [[ $(trueorfalse False PIP_UPGRADE) == True ]]; then
        upgrade="--upgrade"
    fi
    # shellcheck disable=SC2086
    "$(_xloud_test_pip)" install -c "$REQUIREMENTS_DIR/upper-constraints.txt" \
        $upgrade "$@"
}

function pip_uninstall {
    _record "pip_uninstall $*"
    "$(_xloud_test_pip)" uninstall -y "$1" || true
}

# edit-constraints FILE -- NAME: drop NAME's lines (PEP 503 names).
function _xloud_test_edit_constraints {
    "$XLOUD_TEST_PYTHON" - "$1" "$2" <<'PYEOF'
import re
import sys

path, name = sys.argv[1:]


def canonical(text):
    return re.sub(r'[-_.]+', '-', text).lower()


with open(path) as f:
    lines = f.readlines()
with open(path, 'w') as f:
    for line in lines:
        req = re.split(r'[<>=!~;\s\[]', line.strip(), maxsplit=1)[0]
        if not req or canonical(req) != canonical(name):
            f.write(line)
PYEOF
}

function _setup_package_with_constraints_edit {
    local project_dir flags=$2 name
    project_dir=$(cd "$1" && pwd)
    if [[ -n ${REQUIREMENTS_DIR:-} ]]; then
        name=$(awk '/^name.*=/ {print $3}' "$project_dir/setup.cfg")
        _xloud_test_edit_constraints \
            "$REQUIREMENTS_DIR/upper-constraints.txt" "$name"
    fi
    # shellcheck disable=SC2086
    pip_install $flags "$project_dir"
}

function setup_install {
    _record "setup_install $*"
    _setup_package_with_constraints_edit "$1" ""
}

function setup_develop {
    _record "setup_develop $*"
    _setup_package_with_constraints_edit "$1" -e
}
