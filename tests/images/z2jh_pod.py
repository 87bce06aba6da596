"""The single-user pod that Zero to JupyterHub starts for deploy/z2jh/config.yaml, made by
KubeSpawner's own code (``KubeSpawner.get_pod_manifest``), as a plain Pod that ``podman kube
play`` runs.

The ``singleuser`` settings become KubeSpawner's traits as the chart's hub configuration
(``jupyterhub_config.py`` of the jupyterhub chart) maps them: image, cmd, uid, fsGid,
extraEnv, defaultUrl, memory and cpu, and dynamic storage as the PVC ``claim-{user_server}``
(KubeSpawner's default name, which the chart keeps) in the volume ``volume-{user_server}``
(the chart's ``volumeNameTemplate``) at ``homeMountPath``. podman stands in for the PVC with a
named volume of the claim's name. No hub runs here: the variables of the hub's API are left
out, so the image's start command runs JupyterLab with a token instead of
jupyterhub-singleuser (which would ask the hub to log the user in)."""

from __future__ import annotations

import asyncio
import types
from pathlib import Path
from typing import Any

import yaml

from tests.images.containers import REPO

CONFIG = REPO / "deploy" / "z2jh" / "config.yaml"
VOLUME_NAME = "volume-{user_server}"
PVC_NAME = "claim-{user_server}"
# What a hub gives the server, kept: the activity interval is config.yaml's own extraEnv.
HUB_ONLY_PREFIXES = ("JUPYTERHUB_", "JPY_")
KEPT = ("JUPYTERHUB_ACTIVITY_INTERVAL",)
# KubeSpawner reads a kube config when it starts; it never talks to this cluster here.
KUBECONFIG = """apiVersion: v1
kind: Config
clusters: [{name: none, cluster: {server: "https://127.0.0.1:9"}}]
users: [{name: none, user: {}}]
contexts: [{name: none, context: {cluster: none, user: none, namespace: default}}]
current-context: none
"""


def singleuser() -> dict[str, Any]:
    return yaml.safe_load(CONFIG.read_text())["singleuser"]


def kubespawner_config(image: str) -> Any:
    """deploy/z2jh/config.yaml's singleuser section as c.KubeSpawner (the image replaced by
    a local one, as config.yaml says: OWNER is the publisher's)."""
    from traitlets.config import Config

    values = singleuser()
    storage = values["storage"]
    assert storage["type"] == "dynamic", storage
    config = Config()
    spawner = config.KubeSpawner
    spawner.image = image
    spawner.cmd = values["cmd"]
    spawner.uid = values["uid"]
    spawner.fs_gid = values["fsGid"]
    spawner.environment = values["extraEnv"]
    spawner.default_url = values["defaultUrl"]
    spawner.mem_guarantee = values["memory"]["guarantee"]
    spawner.mem_limit = values["memory"]["limit"]
    spawner.cpu_guarantee = float(values["cpu"]["guarantee"])
    spawner.cpu_limit = float(values["cpu"]["limit"])
    spawner.pvc_name_template = PVC_NAME
    spawner.volumes = [{"name": VOLUME_NAME, "persistentVolumeClaim": {"claimName": "{pvc_name}"}}]
    spawner.volume_mounts = [{"mountPath": storage["homeMountPath"], "name": VOLUME_NAME}]
    return config


def pod_manifest(image: str, user: str, folder: Path) -> dict[str, Any]:
    """KubeSpawner's pod for ``user``, as the JSON-like dict kubectl would send. KubeSpawner
    loads a kube config when it starts: one that names no real cluster is written in
    ``folder`` and made kubernetes_asyncio's default (it read $KUBECONFIG once, at import)."""
    from kubernetes_asyncio.client import ApiClient
    from kubernetes_asyncio.config import kube_config
    from kubespawner import KubeSpawner

    kubeconfig = folder / "kubeconfig"
    kubeconfig.write_text(KUBECONFIG)
    kube_config.KUBE_CONFIG_DEFAULT_LOCATION = str(kubeconfig)

    async def make() -> dict[str, Any]:
        owner = types.SimpleNamespace(name=user, id=1, url=f"/user/{user}/")
        spawner = KubeSpawner(config=kubespawner_config(image), user=owner, _mock=True)
        pod = await spawner.get_pod_manifest()
        async with ApiClient() as client:
            return client.sanitize_for_serialization(pod)

    return asyncio.run(make())


def podman_pod(manifest: dict[str, Any], host_port: int) -> dict[str, Any]:
    """The manifest as a Pod for ``podman kube play``: apiVersion and kind, the notebook
    port published on 127.0.0.1:``host_port``, the hub's API variables left out."""
    pod = {"apiVersion": "v1", "kind": "Pod", **manifest}
    for container in pod["spec"]["containers"]:
        container["env"] = [
            item
            for item in container.get("env", [])
            if item["name"] in KEPT or not item["name"].startswith(HUB_ONLY_PREFIXES)
        ]
        for port in container.get("ports", []):
            port["hostPort"] = host_port
            port["hostIP"] = "127.0.0.1"
    return pod


def claim_names(pod: dict[str, Any]) -> list[str]:
    return [
        volume["persistentVolumeClaim"]["claimName"]
        for volume in pod["spec"].get("volumes", [])
        if "persistentVolumeClaim" in volume
    ]
