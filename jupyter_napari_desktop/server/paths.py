"""Where a requested file may come from: only inside the Jupyter server's root directory."""

from __future__ import annotations

import os
import stat
from pathlib import Path, PurePosixPath

from .errors import Refused

KINDS = {
    stat.S_IFIFO: "a named pipe",
    stat.S_IFCHR: "a character device",
    stat.S_IFBLK: "a block device",
    stat.S_IFSOCK: "a socket",
}


def resolve_in_root(root: Path, requested: str, allow_hidden: bool = True) -> Path:
    """Turn a root-relative API path (as in JupyterLab's file browser) into a real path.

    Refused with 400: empty paths and NUL bytes. 403: absolute paths, ``..`` segments
    (outside the root), symlinks whose target is outside the root, and hidden names
    (``.x``) unless ``allow_hidden``. 404: a path that does not exist. 422: anything that
    is not a regular file or a folder (a named pipe, device or socket would block the
    reader that opens it), checked on the real target before napari sees it.
    """
    root = root.resolve()
    if not requested or "\0" in requested:
        raise Refused(400, f"invalid path {requested!r}", "give a file path like 'data/cells.tif'")
    pure = PurePosixPath(requested.replace("\\", "/"))
    if pure.is_absolute() or requested.startswith("~"):
        raise Refused(
            403,
            f"{requested!r} is an absolute path",
            "give the path relative to the Jupyter root directory, as the file browser shows it",
        )
    if ".." in pure.parts:
        raise Refused(
            403,
            f"{requested!r} is outside the Jupyter root directory ('..')",
            "remove '..' from the path: only files under the root directory are served",
        )
    if not allow_hidden and any(part.startswith(".") for part in pure.parts if part != "."):
        raise Refused(
            403,
            f"{requested!r} is hidden",
            "hidden files are not served (ContentsManager.allow_hidden)",
        )
    candidate = root.joinpath(*pure.parts)
    if not os.path.lexists(candidate):
        raise Refused(404, f"{requested!r} does not exist", "check the file name")
    real = candidate.resolve()
    if real != root and root not in real.parents:
        raise Refused(
            403,
            f"{requested!r} points outside the Jupyter root directory",
            "copy the file into the Jupyter root directory",
        )
    try:
        mode = real.stat().st_mode
    except OSError:
        raise Refused(404, f"{requested!r} is a broken link", "check the link's target") from None
    if not (stat.S_ISREG(mode) or stat.S_ISDIR(mode)):
        kind = KINDS.get(stat.S_IFMT(mode), "not a regular file")
        raise Refused(
            422,
            f"{requested!r} is {kind}, not a file or folder napari can read",
            "copy the data into a regular file and open that",
        )
    return real
