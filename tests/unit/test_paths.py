"""Which files the API may open: inside the server root only."""

from __future__ import annotations

import os

import pytest

from jupyter_napari_desktop.notebook import NapariDesktopError, api_path
from jupyter_napari_desktop.paths import PathRefused, resolve_in_root


@pytest.fixture
def root(tmp_path):
    root = tmp_path / "root"
    (root / "data" / "my images").mkdir(parents=True)
    (root / "data" / "cells.tif").write_bytes(b"x")
    (root / "data" / "my images" / "Zellkern ß 細胞.tif").write_bytes(b"x")
    (root / "plate.zarr").mkdir()
    (tmp_path / "secret.tif").write_bytes(b"x")
    return root


def refused(root, path):
    with pytest.raises(PathRefused) as info:
        resolve_in_root(root, path)
    return info.value


def test_plain_unicode_and_spaces(root):
    assert resolve_in_root(root, "data/cells.tif") == (root / "data" / "cells.tif").resolve()
    path = "data/my images/Zellkern ß 細胞.tif"
    assert resolve_in_root(root, path).name == "Zellkern ß 細胞.tif"
    assert resolve_in_root(root, "plate.zarr").is_dir()
    assert resolve_in_root(root, "./data/cells.tif").name == "cells.tif"


@pytest.mark.parametrize(
    "path",
    ["../secret.tif", "data/../../secret.tif", "/etc/passwd", "~/secret.tif", "..\\secret.tif"],
)
def test_traversal_and_absolute_are_forbidden(root, path):
    err = refused(root, path)
    assert err.status == 403
    assert path in err.message or repr(path) in err.message


def test_symlink_escaping_the_root_is_forbidden(root, tmp_path):
    os.symlink(tmp_path / "secret.tif", root / "data" / "link.tif")
    os.symlink(tmp_path, root / "outside")
    assert refused(root, "data/link.tif").status == 403
    assert refused(root, "outside/secret.tif").status == 403


def test_symlink_inside_the_root_is_fine(root):
    os.symlink(root / "data" / "cells.tif", root / "alias.tif")
    assert resolve_in_root(root, "alias.tif") == (root / "data" / "cells.tif").resolve()


def test_missing_and_broken(root):
    assert refused(root, "data/nope.tif").status == 404
    os.symlink(root / "gone.tif", root / "broken.tif")
    assert refused(root, "broken.tif").status == 404
    assert refused(root, "").status == 400
    assert refused(root, "a\0b").status == 400


def test_notebook_paths_are_made_root_relative(root, monkeypatch):
    monkeypatch.chdir(root / "data")
    assert api_path("cells.tif", root) == "data/cells.tif"
    assert api_path(root / "plate.zarr", root) == "plate.zarr"
    with pytest.raises(NapariDesktopError, match="outside the Jupyter root"):
        api_path(root.parent / "secret.tif", root)
