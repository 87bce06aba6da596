"""Which files the API may open: inside the server root only."""

from __future__ import annotations

import os

import pytest

from jupyter_napari_desktop.kernel.notebook import NapariDesktopError, api_path
from jupyter_napari_desktop.server.errors import Refused
from jupyter_napari_desktop.server.paths import resolve_in_root


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
    with pytest.raises(Refused) as info:
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


def test_dotdot_is_outside_the_root_not_hidden(root):
    for path in ("../secret.tif", "data/../../etc/passwd"):
        err = refused_hidden(root, path)
        assert err.status == 403
        assert "outside the Jupyter root" in err.message and "hidden" not in err.message


def refused_hidden(root, path):
    with pytest.raises(Refused) as info:
        resolve_in_root(root, path, allow_hidden=False)
    return info.value


def test_hidden_names_are_refused_unless_allowed(root):
    (root / ".secret.tif").write_bytes(b"x")
    err = refused_hidden(root, ".secret.tif")
    assert err.status == 403 and "hidden" in err.message
    assert resolve_in_root(root, ".secret.tif", allow_hidden=True).name == ".secret.tif"


def test_pipes_sockets_and_devices_are_refused_before_napari_sees_them(root):
    import socket
    import stat

    os.mkfifo(root / "pipe.tif")
    listener = socket.socket(socket.AF_UNIX)
    listener.bind(str(root / "socket.tif"))
    kinds = {"pipe.tif": "named pipe", "socket.tif": "socket"}
    try:
        os.mknod(root / "null.tif", 0o600 | stat.S_IFCHR, os.makedev(1, 3))
        kinds["null.tif"] = "character device"
    except PermissionError:
        pass  # not root: pipes and sockets still show the rule
    os.symlink(root / "pipe.tif", root / "link-to-pipe.tif")
    kinds["link-to-pipe.tif"] = "named pipe"
    try:
        for name, kind in kinds.items():
            err = refused(root, name)
            assert err.status == 422, name
            assert kind in err.message and name in err.message
    finally:
        listener.close()


def test_a_loop_of_links_is_refused_not_a_crash(root):
    os.symlink("loop.npy", root / "loop.npy")
    os.symlink("b", root / "a")
    os.symlink("a", root / "b")
    assert refused(root, "loop.npy").status == 404
    assert refused(root, "a").status == 404


def test_a_folder_with_a_link_to_outside_is_refused(root, tmp_path):
    """napari reads a folder's files (a stack, a zarr store) and follows their links."""
    os.symlink(tmp_path / "secret.tif", root / "data" / "my images" / "a.tif")
    for path in ("data", "data/my images"):
        err = refused(root, path)
        assert err.status == 403
        assert "a.tif" in err.message and "outside the Jupyter root" in err.message


def test_a_folder_linking_to_a_folder_with_an_outside_link_is_refused(root, tmp_path):
    elsewhere = root / "elsewhere"
    elsewhere.mkdir()
    os.symlink(tmp_path / "secret.tif", elsewhere / "b.tif")
    os.symlink(elsewhere, root / "plate.zarr" / "0")
    assert refused(root, "plate.zarr").status == 403


def test_a_folder_with_links_inside_the_root_loops_and_broken_links_opens(root):
    os.symlink(root / "data" / "cells.tif", root / "plate.zarr" / "alias.tif")
    os.symlink(root / "plate.zarr", root / "plate.zarr" / "self")  # a loop of folders
    os.symlink(root / "gone.tif", root / "plate.zarr" / "broken.tif")
    assert resolve_in_root(root, "plate.zarr") == (root / "plate.zarr").resolve()


def test_a_folder_too_large_to_check_is_refused(root, monkeypatch):
    from jupyter_napari_desktop.server import paths

    monkeypatch.setattr(paths, "MAX_FOLDER_ENTRIES", 3)
    for index in range(4):
        (root / "plate.zarr" / f"{index}.tif").write_bytes(b"x")
    err = refused(root, "plate.zarr")
    assert err.status == 422 and "more than 3 files" in err.message


def test_still_in_root_sees_a_folder_swapped_for_a_link(root, tmp_path):
    """What the API opened is opened again after a restart only if the same path still
    leads to it: a folder on the way replaced by a link to outside is not followed."""
    from jupyter_napari_desktop.server.paths import still_in_root

    opened = resolve_in_root(root, "data/cells.tif")
    assert still_in_root(root, opened)
    (root / "data").rename(root / "old")
    evil = tmp_path / "evil"
    evil.mkdir()
    (evil / "cells.tif").write_bytes(b"y")
    os.symlink(evil, root / "data")
    assert not still_in_root(root, opened)
    assert not still_in_root(root, tmp_path / "secret.tif")


def test_a_long_path_is_echoed_shortened(root):
    err = refused(root, "x" * 100_000)
    assert err.status == 404 and len(err.message) <= 1000
