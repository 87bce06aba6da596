"""JupyterLab in a real process, driven by Firefox ESR and WebKit (tests/engines/drivers.py).

One Lab server and desktop for the module; each engine logs in with the token URL and
clicks the napari card once (``napari_tab``), then its tests act on that tab."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from tests.engines import drivers
from tests.support.jupyter import JupyterServer
from tests.support.pages import SCREEN_SIZE, wait_napari_settled
from tests.support.paths import ARTIFACTS
from tests.support.pattern import write_pattern
from tests.support.playwright import jp_asyncio_loop, jp_server_cleanup  # noqa: F401
from tests.support.waiting import wait_for

WIDTH, HEIGHT = 1280, 800  # the viewport each engine starts with, CSS pixels


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    if not shutil.which("Xvnc"):
        pytest.skip("needs Xvnc: run scripts/setup.sh --test")
    tmp = tmp_path_factory.mktemp("engines")
    pattern = write_pattern(tmp / "pattern.png")
    server = JupyterServer(
        tmp,
        {"session": "minimal", "napari_args": [str(pattern)], "geometry": f"{WIDTH}x{HEIGHT}"},
        app="lab",
    )
    server.start(timeout=120)
    yield server
    server.stop_all()


@pytest.fixture(scope="module")
def engine_artifacts() -> Path:
    """artifacts/engines/: each engine's screenshots and driver log."""
    folder = ARTIFACTS / "engines"
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def running_engine(name: str, artifacts: Path, scale: int = 1):
    """The engine ``name`` at devicePixelRatio ``scale`` (skipped where it is missing), its
    driver's log in ``artifacts``; closed at the end."""
    reason = drivers.missing(name)
    if reason:
        pytest.skip(reason)
    log = artifacts / (f"{name}-driver.log" if scale == 1 else f"{name}-x{scale}-driver.log")
    log.write_bytes(b"")
    browser = drivers.start(name, WIDTH, HEIGHT, log, scale)
    print(f"{name}: {browser.version}")
    yield browser
    browser.close()


@pytest.fixture(scope="module", params=["firefox", "webkit"])
def engine(request, engine_artifacts):
    yield from running_engine(request.param, engine_artifacts)


@pytest.fixture(scope="module")
def napari_tab(engine, lab):
    """What a person does first: Lab with the token URL, a click on the napari card, and the
    new tab once it is connected."""
    engine.goto(f"{lab.url}lab?reset&token={lab.token}")
    engine.wait_for("!!document.querySelector('.jp-LauncherCard')", 90, "Lab's launcher")
    url = engine.click_for_new_tab(".jp-LauncherCard[title*='napari in a browser desktop']")
    assert "napari-desktop/?app=napari" in url, url
    engine.wait_for(
        "window.napariDesktop && window.napariDesktop.state === 'connected'",
        90,
        "the desktop page connected",
    )
    wait_for(lambda: "pattern" in lab.layer_names(), 90, "napari with the test pattern")
    wait_napari_settled(lab, lambda: engine.evaluate(SCREEN_SIZE))
    return engine
