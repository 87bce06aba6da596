#!/usr/bin/env bash
# Entry point of the jupyter-napari-desktop images, run by tini (PID 1).
#
#   docker run IMAGE                          -> start-notebook.py (JupyterLab on :8888)
#   docker run IMAGE --NapariDesktop.X=Y ...  -> start-notebook.py --NapariDesktop.X=Y ...
#   docker run IMAGE COMMAND [ARG ...]        -> COMMAND (e.g. jupyterhub-singleuser, bash)
set -euo pipefail

if [[ $# -eq 0 ]]; then
    set -- start-notebook.py
elif [[ "$1" == -* ]]; then
    set -- start-notebook.py "$@"
fi
exec "$@"
