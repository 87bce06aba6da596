"""Fixtures shared by every test layer, and the rule that CI never passes on skipped layers."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.support.paths import ARTIFACTS

pytest_plugins = ["pytest_jupyter.jupyter_server", "tests.support.layers"]

# Layers whose tests need Xvnc, napari, Chromium, JupyterHub or a container engine (see
# tests/support/layers.py). With CI=true a skip in them is a failure: a CI run missing a
# program must go red, not green.
NEEDS_DESKTOP = ("integration", "browser", "engines", "hub", "images", "fresh")

# The opt-out list: node ids (or a prefix of them) that may skip in CI, each with its reason.
# Review an entry like code: it is a part of the product that CI no longer checks.
ALLOWED_SKIPS: dict[str, str] = {
    "tests/images/test_docker_doc.py::test_a_gpu_run_command_as_written": (
        "docs/docker.md's napari-gpu commands need an NVIDIA GPU (--gpus all) or a /dev/dri "
        "render device, and the napari-gpu image (built and removed again by its own test); "
        "the CI machine has no GPU. They run where both are there."
    ),
}


def in_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() in ("1", "true", "yes")


def allowed_skip(nodeid: str) -> bool:
    """``nodeid`` is a key, in a key's module or class, or a parameter of a key's test."""
    return any(nodeid == key or nodeid.startswith((key + "::", key + "[")) for key in ALLOWED_SKIPS)


def skip_reason(longrepr: Any) -> str:
    if isinstance(longrepr, tuple) and len(longrepr) == 3:
        return str(longrepr[2]).removeprefix("Skipped: ")
    return str(longrepr)


def ci_failure(nodeid: str, reason: str) -> str:
    return (
        f"{nodeid} was skipped with CI=true: {reason}\n"
        "Tests that need Xvnc, napari, Chromium or JupyterHub must run in CI: install them "
        "(scripts/setup.sh --test), or add the test to ALLOWED_SKIPS in tests/conftest.py "
        "with the reason."
    )


def needs_desktop(item: pytest.Item) -> bool:
    return any(item.get_closest_marker(name) for name in NEEDS_DESKTOP)


def layer_of(path: Path, rootdir: Path) -> str:
    """``integration`` for ``<rootdir>/tests/integration/test_x.py``, else ""."""
    try:
        parts = path.resolve().relative_to(rootdir.resolve() / "tests").parts
    except ValueError:
        return ""
    return parts[0] if len(parts) > 1 else ""


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Any:
    outcome = yield
    report = outcome.get_result()
    if (
        in_ci()
        and report.skipped
        and not hasattr(report, "wasxfail")
        and needs_desktop(item)
        and not allowed_skip(item.nodeid)
    ):
        report.outcome = "failed"
        report.longrepr = ci_failure(item.nodeid, skip_reason(report.longrepr))


@pytest.hookimpl(hookwrapper=True)
def pytest_make_collect_report(collector: pytest.Collector) -> Any:
    """A whole module skipped at import (``pytest.importorskip("napari")``)."""
    outcome = yield
    report = outcome.get_result()
    if (
        in_ci()
        and report.skipped
        and isinstance(collector, pytest.Module)
        and layer_of(Path(collector.path), collector.config.rootpath) in NEEDS_DESKTOP
        and not allowed_skip(collector.nodeid)
    ):
        report.outcome = "failed"
        report.longrepr = ci_failure(collector.nodeid, skip_reason(report.longrepr))


@pytest.fixture
def artifacts() -> Path:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    return ARTIFACTS


@pytest.fixture(scope="session")
def container_engine() -> Iterator[str]:
    """podman (or docker) for the layers that run containers (images, fresh)."""
    from tests.images.containers import engine, prune_images

    tool = engine()
    if tool is None:
        message = "needs podman or docker: run scripts/setup.sh --test (installs podman)"
        if in_ci():
            pytest.fail(message)
        pytest.skip(message)
    # Earlier runs' replaced builds (gigabytes each) go before this run builds, and this
    # run's own before it ends: a machine that runs the tests again and again stays clean.
    prune_images(tool)
    yield tool
    prune_images(tool)


@pytest.fixture(scope="module")
def browser():
    """Debian's Chromium through Playwright (browser tests, and the images' pages)."""
    from playwright.sync_api import sync_playwright

    from tests.support.pattern import CHROMIUM, CHROMIUM_ARGS

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()
