"""Real Jupyter server (pytest-jupyter) with the extension and a real Xvnc desktop."""

from __future__ import annotations

import shutil

import pytest
from traitlets.config import Config

needs_xvnc = pytest.mark.skipif(
    shutil.which("Xvnc") is None,
    reason="Xvnc missing: run scripts/install-system-deps.sh (CI installs it)",
)


@pytest.fixture
def desktop_options():
    """c.NapariDesktop options for the server under test (tests override this)."""
    return {"session": "minimal", "autostart_napari": False, "first_display": 20}


@pytest.fixture
def jp_server_config(desktop_options, tmp_path, monkeypatch):
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.delenv("XDG_RUNTIME_DIR", raising=False)
    return Config(
        {
            "ServerApp": {"jpserver_extensions": {"jupyter_napari_desktop": True}},
            "NapariDesktop": desktop_options,
        }
    )


@pytest.fixture
def manager(jp_serverapp):
    return jp_serverapp.web_app.settings["napari_desktop_manager"]
