#!/bin/bash
# Set up a fresh machine and run the main job: live, block and cold
# migration scenarios on an embedded multinode nova whose computes run the
# Xloud driver, ending with a post-migration verification report.
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"
tools/bootstrap.sh
exec .venv-tools/bin/tox -e demo -- "$@"
