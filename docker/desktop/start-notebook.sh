#!/usr/bin/env bash
# Start the Jupyter server of this image (docker-stacks' start-notebook.py, same name).
#
#   start-notebook.py [OPTION ...]   e.g. --NapariDesktop.session=minimal --IdentityProvider.token=...
#
# Under JupyterHub (JUPYTERHUB_API_TOKEN is set by the spawner) it runs jupyterhub-singleuser;
# otherwise JupyterLab on 0.0.0.0, port $JUPYTER_PORT (8888), and prints the token URL.
# Options are passed on; an --ip/--port (or --ServerApp.ip/--ServerApp.port) given here
# replaces the default one (jupyter refuses a value given twice).
set -euo pipefail

defaults=()
if [[ "$(id -u)" == 0 ]]; then
    defaults+=(--allow-root)
fi
if [[ -n "${JUPYTERHUB_API_TOKEN:-}" ]]; then
    exec jupyterhub-singleuser ${defaults[@]+"${defaults[@]}"} "$@"
fi

given() {
    local name="$1" arg
    for arg in "${@:2}"; do
        case "${arg}" in
        "--${name}" | "--${name}="* | "--ServerApp.${name}" | "--ServerApp.${name}="*) return 0 ;;
        esac
    done
    return 1
}
given ip "$@" || defaults+=(--ServerApp.ip=0.0.0.0)
given port "$@" || defaults+=(--ServerApp.port="${JUPYTER_PORT:-8888}")
exec jupyter lab --no-browser ${defaults[@]+"${defaults[@]}"} "$@"
