"""One version: labextension/package.json's, which the build writes to _version.py."""

from __future__ import annotations

import json
from pathlib import Path

from jupyter_napari_desktop import __version__

ROOT = Path(__file__).resolve().parents[2]


def test_python_version_is_the_npm_version():
    package = json.loads((ROOT / "labextension" / "package.json").read_text())
    assert __version__ == package["version"], "reinstall (pip install -e .) after a version bump"


def test_built_labextension_has_the_same_version():
    built = ROOT / "jupyter_napari_desktop" / "labextension" / "package.json"
    if built.exists():  # absent before the first build
        assert json.loads(built.read_text())["version"] == __version__
