#!/usr/bin/env bash
# Start JupyterLab with the napari desktop on http://127.0.0.1:8888 (the token is printed).
# Extra arguments go to `jupyter lab`, e.g. scripts/run-lab.sh --port=9999
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
args=(--ip=127.0.0.1 --port=8888 --no-browser)
[[ "$(id -u)" == 0 ]] && args+=(--allow-root)
exec .venv/bin/jupyter lab "${args[@]}" "$@"
