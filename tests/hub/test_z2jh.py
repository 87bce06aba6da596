"""deploy/z2jh/config.yaml against the Zero to JupyterHub chart's schema, without a cluster.

The chart's ``values.yaml`` and ``values.schema.yaml`` are read from ``../shared/z2jh/``
beside the checkout (or $NAPARI_DESKTOP_Z2JH_DIR), never copied. Like ``helm --values``,
the config is deep-merged over the chart's values (a null removes a key), then the whole
result is validated with jsonschema (draft 7), as helm does at install time.
"""

from __future__ import annotations

import asyncio
import copy
import os
import re
from pathlib import Path
from typing import Any

import pytest

yaml = pytest.importorskip("yaml", reason="PyYAML is needed to read the chart's values")
jsonschema = pytest.importorskip("jsonschema", reason="pip install jsonschema")

ROOT = Path(__file__).resolve().parents[2]
CONFIG = ROOT / "deploy" / "z2jh" / "config.yaml"
EXAMPLE_HUB_CONFIG = ROOT / "deploy" / "jupyterhub" / "jupyterhub_config.py"
CHART = Path(os.environ.get("NAPARI_DESKTOP_Z2JH_DIR", ROOT.parent / "shared" / "z2jh"))
IMAGE = "ghcr.io/OWNER/jupyter-napari-desktop"

# Measured (docs/jupyterhub.md, "Sizing"): XFCE desktop + napari + a 50x512x512 stack.
MEASURED_PEAK_PSS = 0.63 * 2**30
# Keys KubeSpawner reads in a profile, and the KubeSpawner traits our overrides may set.
PROFILE_KEYS = {"display_name", "slug", "description", "default", "kubespawner_override"}
OVERRIDE_TRAITS = {
    "image",
    "image_pull_policy",
    "mem_guarantee",
    "mem_limit",
    "cpu_guarantee",
    "cpu_limit",
    "extra_resource_guarantees",
    "extra_resource_limits",
    "environment",
    "node_selector",
    "tolerations",
    "default_url",
    "volumes",
    "volume_mounts",
}

pytestmark = pytest.mark.skipif(
    not (CHART / "values.schema.yaml").exists(),
    reason=f"the chart's values.yaml and values.schema.yaml are not in {CHART} "
    "(set NAPARI_DESKTOP_Z2JH_DIR)",
)


def load(path: Path) -> Any:
    return yaml.safe_load(path.read_text())


def merge(base: Any, override: Any) -> Any:
    """helm's merge of --values over the chart's values: maps merge, null deletes a key,
    everything else (lists too) replaces."""
    if not (isinstance(base, dict) and isinstance(override, dict)):
        return copy.deepcopy(override)
    merged = copy.deepcopy(base)
    for key, value in override.items():
        if value is None:
            merged.pop(key, None)
        elif key in merged:
            merged[key] = merge(merged[key], value)
        else:
            merged[key] = copy.deepcopy(value)
    return merged


def schema_errors(values: dict) -> list[str]:
    validator = jsonschema.Draft7Validator(load(CHART / "values.schema.yaml"))
    return [
        f"{'.'.join(map(str, error.absolute_path)) or '(top)'}: {error.message}"
        for error in validator.iter_errors(values)
    ]


def profile_errors(values: dict) -> list[str]:
    """What the chart's schema does not check: profileList is passed through to KubeSpawner."""
    errors = []
    for index, profile in enumerate(values["singleuser"].get("profileList") or []):
        for key in set(profile) - PROFILE_KEYS:
            errors.append(f"singleuser.profileList.{index}: unknown key {key!r}")
        for key in set(profile.get("kubespawner_override") or {}) - OVERRIDE_TRAITS:
            errors.append(
                f"singleuser.profileList.{index}.kubespawner_override: unknown trait {key!r}"
            )
    return errors


def quantity(value: str) -> float:
    """A Kubernetes memory quantity ("1G", "512Mi") in bytes."""
    match = re.fullmatch(r"(\d+(?:\.\d+)?)([KMGT]i?)?", str(value))
    assert match, f"not a memory quantity: {value!r}"
    number, unit = float(match.group(1)), match.group(2) or ""
    base = 1024 if unit.endswith("i") else 1000
    return number * base ** ("KMGT".index(unit[0]) + 1 if unit else 0)


@pytest.fixture(scope="module")
def values() -> dict:
    return merge(load(CHART / "values.yaml"), load(CONFIG))


def test_the_chart_defaults_validate_alone():
    """The reference itself: the chart's own values pass its schema."""
    assert schema_errors(load(CHART / "values.yaml")) == []


def test_config_validates_against_the_chart_schema(values):
    assert schema_errors(values) == []
    assert profile_errors(values) == []


def test_config_sets_profiles_image_storage_url_limits_and_culling(values):
    single = values["singleuser"]
    assert single["image"] == {**single["image"], "name": IMAGE, "tag": "napari-0.1.0"}
    assert single["defaultUrl"] == "/napari-desktop/?app=napari"
    # The image's own start command and user (docker/desktop/Dockerfile makes both).
    dockerfile = (ROOT / "docker" / "desktop" / "Dockerfile").read_text()
    assert single["cmd"] == "start-notebook.py" and "/usr/local/bin/start-notebook.py" in dockerfile
    assert (single["uid"], single["fsGid"]) == (1000, 100) and "ARG NB_UID=1000" in dockerfile
    assert single["storage"]["type"] == "dynamic"
    assert single["storage"]["homeMountPath"] == "/home/jovyan"
    assert single["extraEnv"]["JUPYTERHUB_ACTIVITY_INTERVAL"] == "60"
    assert quantity(single["memory"]["guarantee"]) >= MEASURED_PEAK_PSS
    assert quantity(single["memory"]["limit"]) >= 2 * quantity(single["memory"]["guarantee"])
    assert 0 < single["cpu"]["guarantee"] <= single["cpu"]["limit"]

    profiles = {p["slug"]: p for p in single["profileList"]}
    assert set(profiles) == {"napari", "napari-gpu"}
    assert profiles["napari"].get("default") is True
    gpu = profiles["napari-gpu"]["kubespawner_override"]
    assert gpu["image"] == f"{IMAGE}:napari-gpu-0.1.0"
    assert gpu["extra_resource_limits"] == {"nvidia.com/gpu": "1"}
    assert quantity(gpu["mem_guarantee"]) >= quantity(single["memory"]["guarantee"])

    cull = values["cull"]
    assert cull["enabled"] is True
    assert cull["timeout"] == 3600 and cull["every"] <= cull["timeout"]
    assert "napari-desktop-activity" in values["hub"]["extraConfig"]


@pytest.mark.parametrize(
    "broken, where",
    [
        # a typo in a key
        (
            {"singleuser": {"defaulUrl": "/x/"}},
            "singleuser: Additional properties are not allowed ('defaulUrl' was unexpected)",
        ),
        ({"culling": {"enabled": True}}, "(top): Additional properties are not allowed"),
        # wrong types: CPU is a number of cores here, not "500m"; timeouts are seconds
        ({"singleuser": {"cpu": {"guarantee": "500m"}}}, "singleuser.cpu.guarantee: '500m'"),
        ({"cull": {"timeout": "1h"}}, "cull.timeout: '1h' is not of type"),
        ({"singleuser": {"image": {"tag": 1}}}, "singleuser.image.tag: 1 is not of type"),
        # a required key removed
        (
            {"singleuser": {"storage": {"homeMountPath": None}}},
            "singleuser.storage: 'homeMountPath' is a required property",
        ),
    ],
)
def test_a_broken_config_fails_validation(values, broken, where):
    errors = schema_errors(merge(values, broken))
    assert errors, f"{broken} passed the chart's schema"
    assert any(error.startswith(where) for error in errors), errors


def test_a_typo_inside_a_profile_is_caught(values):
    """The chart passes profileList through unchecked, so our own check must catch it."""
    broken = copy.deepcopy(values)
    profile = broken["singleuser"]["profileList"][1]
    profile["kubespawner_overide"] = profile.pop("kubespawner_override")
    assert schema_errors(broken) == [], "the chart's schema does not look into profiles"
    assert profile_errors(broken) == ["singleuser.profileList.1: unknown key 'kubespawner_overide'"]
    broken = copy.deepcopy(values)
    override = broken["singleuser"]["profileList"][1]["kubespawner_override"]
    override["extra_resource_limit"] = override.pop("extra_resource_limits")
    assert profile_errors(broken) == [
        "singleuser.profileList.1.kubespawner_override: unknown trait 'extra_resource_limit'"
    ]


def proxy_classes(values: dict) -> dict[str, type]:
    """InputActivityProxy from the chart's hub.extraConfig and from the local example."""
    pytest.importorskip("jupyterhub", reason="pip install jupyterhub")
    from traitlets.config import Config

    found = {}
    snippets = {
        "z2jh": values["hub"]["extraConfig"]["napari-desktop-activity"],
        "local": EXAMPLE_HUB_CONFIG.read_text(),
    }
    for name, code in snippets.items():
        config = Config()
        namespace = {"c": config, "get_config": lambda config=config: config}
        exec(compile(code, f"<{name} hub config>", "exec"), namespace)
        found[name] = config.JupyterHub.proxy_class
    return found


@pytest.mark.parametrize("where", ["z2jh", "local"])
def test_the_hub_ignores_the_proxys_byte_activity_but_keeps_the_routes(values, monkeypatch, where):
    from jupyterhub.proxy import ConfigurableHTTPProxy

    cls = proxy_classes(values)[where]
    assert issubclass(cls, ConfigurableHTTPProxy)

    async def chp_routes(self):
        return {
            "/": {"routespec": "/", "target": "http://hub:8081", "data": {"hub": True}},
            "/user/ana/": {
                "routespec": "/user/ana/",
                "target": "http://10.0.0.7:8888",
                "data": {"user": "ana", "server_name": "", "last_activity": "2026-01-01T00:00Z"},
            },
        }

    monkeypatch.setattr(ConfigurableHTTPProxy, "get_all_routes", chp_routes)
    routes = asyncio.run(cls.get_all_routes(cls.__new__(cls)))
    assert routes["/user/ana/"]["data"] == {"user": "ana", "server_name": ""}
    assert routes["/user/ana/"]["target"] == "http://10.0.0.7:8888"
    assert routes["/"]["data"] == {"hub": True}
