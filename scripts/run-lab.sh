#!/usr/bin/env bash
# Start JupyterLab with the napari desktop on http://127.0.0.1:8888 (the token is printed).
#
# Usage: scripts/run-lab.sh [JUPYTER_LAB_OPTION ...]
#
# Options go to `jupyter lab` and win over the defaults --ip=127.0.0.1 --port=8888
# --no-browser (and --allow-root as root), e.g. scripts/run-lab.sh --port=9999
# Needs scripts/setup.sh first (it makes .venv).
set -euo pipefail

case "${1:-}" in
-h | --help)
    sed -n '2,/^set -euo/p' "${BASH_SOURCE[0]}" | sed '$d; s/^# \{0,1\}//'
    exit 0
    ;;
esac
cd "$(dirname "${BASH_SOURCE[0]}")/.."
if [[ ! -x .venv/bin/jupyter-lab ]]; then
    echo "run-lab: JupyterLab not found in $(pwd)/.venv; set it up first: bash scripts/setup.sh" >&2
    exit 1
fi

# jupyter refuses a value given twice ("port only accepts one value, got 2"): a default is
# passed only when the user's arguments do not set it, by alias or by its ServerApp name.
given() {
    local alias="$1" trait="$2" arg
    for arg in "${@:3}"; do
        case "${arg}" in
        "--${alias}" | "--${alias}="* | "--ServerApp.${trait}" | "--ServerApp.${trait}="*) return 0 ;;
        esac
    done
    return 1
}
args=()
given ip ip "$@" || args+=(--ip=127.0.0.1)
given port port "$@" || args+=(--port=8888)
given no-browser open_browser "$@" || args+=(--no-browser)
if [[ "$(id -u)" == 0 ]] && ! given allow-root allow_root "$@"; then
    args+=(--allow-root)
fi
exec .venv/bin/jupyter lab ${args[@]+"${args[@]}"} "$@"
