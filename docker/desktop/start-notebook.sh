#!/usr/bin/env bash
# Start the Jupyter server of this image (docker-stacks' start-notebook.py, same name).
#
#   start-notebook.py [OPTION ...]   e.g. --NapariDesktop.session=minimal --ServerApp.token=...
#
# Under JupyterHub (JUPYTERHUB_API_TOKEN is set by the spawner) it runs jupyterhub-singleuser;
# otherwise JupyterLab on 0.0.0.0, port $JUPYTER_PORT (8888), and prints the token URL.
# Options are passed on; later ones win, so --ServerApp.ip=... overrides the default.
set -euo pipefail

defaults=()
if [[ "$(id -u)" == 0 ]]; then
    defaults+=(--allow-root)
fi
if [[ -n "${JUPYTERHUB_API_TOKEN:-}" ]]; then
    exec jupyterhub-singleuser ${defaults[@]+"${defaults[@]}"} "$@"
fi
exec jupyter lab --no-browser --ServerApp.ip=0.0.0.0 --ServerApp.port="${JUPYTER_PORT:-8888}" \
    ${defaults[@]+"${defaults[@]}"} "$@"
