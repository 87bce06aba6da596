"""A bounded soak of the desktop websocket (a few minutes); benchmarks/soak.py runs longer.

Hundreds of websocket cycles with and without a completed RFB handshake, tabs closed
mid-frame, Xvnc killed several times while two tabs stream. Afterwards the server's memory
is within 10% of where it settled, its open file descriptors are back (within 10), nothing
is left outside its process tree, every reconnect took under 5 s and nobody was locked out.
"""

from __future__ import annotations

import json
import shutil
import tempfile
from pathlib import Path

import pytest

from tests.integration.conftest import needs_xvnc
from tests.support.jupyter import JupyterServer
from tests.support.soak import soak

pytestmark = [pytest.mark.integration, needs_xvnc, pytest.mark.timeout(600)]


@pytest.fixture
def server(tmp_path):
    runtime = Path(tempfile.mkdtemp(prefix="soak-", dir="/tmp"))  # unix socket paths are short
    options = {"session": "minimal", "autostart_napari": False, "runtime_dir": str(runtime)}
    proc = JupyterServer(tmp_path, options)
    yield proc.start()
    proc.stop_all()
    shutil.rmtree(runtime, ignore_errors=True)


async def test_soak_websocket_cycles_and_xvnc_kills(server, artifacts):
    result = await soak(server, cycles=1000, kills=5, streamers=2)
    figures = result.figures()
    (artifacts / "soak-ci.json").write_text(json.dumps(figures, indent=2))
    print("\nsoak:", json.dumps(figures))
    assert not result.failed_cycles, result.failed_cycles[:5]
    assert result.kills == 5 and len(result.reconnects) == 5 * 2, figures
    assert result.lockouts == 0
    assert max(result.reconnects) < 5, f"reconnects: {result.reconnects}"
    assert result.rss_after_mib <= 1.10 * result.rss_settled_mib, figures
    assert abs(result.fds_after - result.fds_settled) <= 10, figures
    assert not result.orphans and result.xvnc_after == 1, figures
