"""JupyterHub on one machine, every user with the napari desktop.

Users log in with their Unix account (PAM, the default) and get their own single-user
Jupyter server, started as them (LocalProcessSpawner), with their own desktop and napari.
See docs/jupyterhub.md. Run as root:

    jupyterhub -f deploy/jupyterhub/jupyterhub_config.py

Needs, on the hub's side: ``pip install jupyterhub jupyterhub-idle-culler`` and
configurable-http-proxy (``npm install -g configurable-http-proxy``). On the users' side:
the system packages of binder/apt.txt and one Python environment every user can run with
``jupyterhub-singleuser``, JupyterLab and this package with napari (``pip install jupyterhub
jupyterlab ".[napari]"`` in /opt/napari-desktop, found below). docs/jupyterhub.md has the
commands (tests/fresh/test_jupyterhub_doc.py runs them on a bare Debian machine). The tests
in tests/hub/ load this file and override only ports, paths, the login method and the test
users.
"""

import os
import sys
from pathlib import Path

from jupyterhub.proxy import ConfigurableHTTPProxy

c = get_config()  # noqa: F821 - defined by JupyterHub when it loads this file

# The users' Python environment (docs/jupyterhub.md): /opt/napari-desktop, or the folder in
# NAPARI_DESKTOP_ENV when the hub starts. Without one, jupyterhub-singleuser is looked up on
# the users' PATH.
USERS_ENV = Path(os.environ.get("NAPARI_DESKTOP_ENV", "/opt/napari-desktop"))
if (USERS_ENV / "bin" / "jupyterhub-singleuser").exists():
    c.Spawner.cmd = [str(USERS_ENV / "bin" / "jupyterhub-singleuser")]

# Who may log in: every Unix user with a password on this machine (PAM). To restrict it,
# name them (c.Authenticator.allowed_users = {"ada", "ben"}) or a group
# (c.PAMAuthenticator.allowed_groups = {"workshop"}) and set allow_all to False.
c.Authenticator.allow_all = True


class InputActivityProxy(ConfigurableHTTPProxy):
    """configurable-http-proxy, without its byte counting as user activity.

    CHP marks a route active whenever the browser sends bytes, and an open noVNC tab
    answers every screen update (update requests, fence replies): a tab showing a ticking
    clock would never be idle. The single-user servers report their own activity to the
    hub instead (jupyterhub-singleuser, every JUPYTERHUB_ACTIVITY_INTERVAL seconds), and
    the napari desktop reports only keyboard and pointer input there. Routes are still
    checked and repaired as before; only their ``last_activity`` is not used.
    """

    async def get_all_routes(self):
        routes = await super().get_all_routes()
        for route in routes.values():
            if "user" in route["data"]:
                route["data"].pop("last_activity", None)
        return routes


c.JupyterHub.proxy_class = InputActivityProxy

# Open the napari desktop (napari in it) after login; JupyterLab stays at /user/NAME/lab.
c.Spawner.default_url = "/napari-desktop/?app=napari"
# How often each single-user server tells the hub its last activity (default 300 s).
c.Spawner.environment = {"JUPYTERHUB_ACTIVITY_INTERVAL": "60"}
if USERS_ENV.is_dir():
    c.Spawner.environment["PATH"] = f"{USERS_ENV / 'bin'}:/usr/local/bin:/usr/bin:/bin"
# A desktop and napari take a while on a busy machine.
c.Spawner.start_timeout = 120
c.Spawner.http_timeout = 120

# Stop servers without keyboard or pointer input (and without notebook activity) for 1 h.
c.JupyterHub.services = [
    {
        "name": "idle-culler",
        "command": [sys.executable, "-m", "jupyterhub_idle_culler", "--timeout=3600"],
    }
]
c.JupyterHub.load_roles = [
    {
        "name": "idle-culler",
        "scopes": ["list:users", "read:users:activity", "read:servers", "delete:servers"],
        "services": ["idle-culler"],
    }
]
