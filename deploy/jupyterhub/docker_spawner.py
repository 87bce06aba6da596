"""DockerSpawner settings: every user gets their own container of the napari image.

The one-GPU-server lab deployment: JupyterHub on the host, each user's Jupyter server,
desktop and napari in a container of ``jupyter-napari-desktop:napari`` (or ``napari-gpu``),
home directories in named volumes. Use it with the base config, as
``deploy/jupyterhub/jupyterhub_config_docker.py`` does:

    pip install jupyterhub dockerspawner jupyterhub-idle-culler
    jupyterhub -f deploy/jupyterhub/jupyterhub_config_docker.py

podman works too: ``podman system service --time=0 unix:///run/podman/podman.sock``, the
hub started with ``DOCKER_HOST=unix:///run/podman/podman.sock`` and
``NAPARI_DESKTOP_HUB_CONNECT_IP`` set to the gateway of podman's network (docs/jupyterhub.md:
podman makes that bridge with its first container). tests/images/test_dockerspawner_doc.py
runs the two lines above with podman; tests/images/test_dockerspawner.py these settings.
"""

import os

c = get_config()  # noqa: F821 - defined by JupyterHub when it loads this file

c.JupyterHub.spawner_class = "docker"
c.DockerSpawner.image = os.environ.get("NAPARI_DESKTOP_IMAGE", "jupyter-napari-desktop:napari")
# The image's start command: jupyterhub-singleuser when the hub starts it (it runs under
# tini, which passes SIGTERM on, so stopping a server stops its desktop cleanly).
c.DockerSpawner.cmd = ["start-notebook.py"]
# The image has its own PATH: not the base config's for users' environments on the host.
if isinstance(c.Spawner.environment, dict):
    c.Spawner.environment.pop("PATH", None)
c.DockerSpawner.remove = True
# Seconds between SIGTERM and SIGKILL when a server stops (the desktop needs about one).
# Set it: containers made through podman's Docker API get 0, that is SIGKILL at once.
c.DockerSpawner.extra_create_kwargs = {"stop_timeout": 20}
c.DockerSpawner.name_template = "napari-desktop-{username}"
# Files and napari's settings survive culling and restarts.
c.DockerSpawner.volumes = {"napari-desktop-home-{username}": "/home/jovyan"}
c.DockerSpawner.notebook_dir = "/home/jovyan"
c.DockerSpawner.mem_limit = os.environ.get("NAPARI_DESKTOP_MEM_LIMIT", "4G")
# Published on the host's loopback only; the proxy on the host reaches it there.
c.DockerSpawner.host_ip = "127.0.0.1"
# The containers reach the hub's API on the host through Docker's bridge (docker0).
c.JupyterHub.hub_ip = "0.0.0.0"  # noqa: S104 - the containers must reach it; firewall it
c.JupyterHub.hub_connect_ip = os.environ.get("NAPARI_DESKTOP_HUB_CONNECT_IP", "172.17.0.1")

# One GPU for every container (NVIDIA Container Toolkit on the host, the napari-gpu image):
if os.environ.get("NAPARI_DESKTOP_GPUS"):
    import docker

    c.DockerSpawner.extra_host_config = {
        "device_requests": [docker.types.DeviceRequest(count=-1, capabilities=[["gpu"]])]
    }
