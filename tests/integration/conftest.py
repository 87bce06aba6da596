"""Real Jupyter server with the extension and a real Xvnc desktop, two ways:

- in the test's own process (pytest-jupyter's ``jp_serverapp``/``jp_fetch``, configured
  below): for the API and the websocket, where the test needs the manager's state
  (``manager`` fixture) or a short timeout set on it;
- as a child process (``tests.support.jupyter.JupyterServer``): where the test kills,
  signals or restarts the server, counts its processes, or runs a kernel or another
  extension beside it (lifecycle, recovery, soak, storm, notebooks, coexistence).
"""

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
