"""JupyterHub on one (GPU) server, every user in their own napari container.

    jupyterhub -f deploy/jupyterhub/jupyterhub_config_docker.py

The base config (login, idle culling that counts input, not screen updates) plus the
DockerSpawner settings of docker_spawner.py. See docs/jupyterhub.md.
"""

import os

here = os.path.dirname(os.path.abspath(__file__))
load_subconfig(os.path.join(here, "jupyterhub_config.py"))  # noqa: F821 - JupyterHub's
load_subconfig(os.path.join(here, "docker_spawner.py"))  # noqa: F821
