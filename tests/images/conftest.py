"""The images are built once per test run by scripts/build-images.sh, exactly as a user builds
them (same Dockerfiles, same default build arguments), with podman here."""

from __future__ import annotations

import json
import time

import pytest

from tests.images.containers import build_images, terminal_env
from tests.support.paths import ARTIFACTS
from tests.support.playwright import jp_asyncio_loop, jp_server_cleanup  # noqa: F401

BUILD_TIMEOUT = 45 * 60


@pytest.fixture(scope="session")
def images_dir():
    path = ARTIFACTS / "images"
    path.mkdir(parents=True, exist_ok=True)
    return path


@pytest.fixture(scope="session")
def figures(images_dir):
    """What the image tests measured (times, sizes, memory), kept in artifacts/images."""
    found: dict = {}
    yield found
    (images_dir / "figures.json").write_text(json.dumps(found, indent=2))


@pytest.fixture(scope="session")
def built(container_engine, images_dir, figures):
    """desktop and napari (and napari-gpu unless IMAGES_GPU=0), with times and sizes."""
    started = time.monotonic()
    build = build_images(
        container_engine, ["desktop", "napari"], images_dir / "build.log", BUILD_TIMEOUT
    )
    assert set(build.seconds) == {"desktop", "napari"}, build.output[-3000:]
    report = {
        "engine": container_engine,
        "seconds": build.seconds,
        "gigabytes": build.gigabytes,
        "total_s": round(time.monotonic() - started),
    }
    figures["build"] = report
    print(f"images built: {report}")
    return build


@pytest.fixture(scope="session")
def terminal(container_engine, tmp_path_factory):
    """The environment of a terminal where `docker` works (containers.terminal_env)."""
    return terminal_env(container_engine, tmp_path_factory.mktemp("docker-shim"))
