"""Where a requested file may come from: only inside the Jupyter server's root directory."""

from __future__ import annotations

import os
from pathlib import Path, PurePosixPath


class PathRefused(Exception):
    """A path that is not served, with the HTTP status to answer."""

    def __init__(self, status: int, message: str, fix: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.fix = fix


def resolve_in_root(root: Path, requested: str) -> Path:
    """Turn a root-relative API path (as in JupyterLab's file browser) into a real path.

    Refused with 403: absolute paths, ``..`` segments, NUL bytes, and symlinks whose target
    is outside the root. A path that does not exist is refused with 404.
    """
    root = root.resolve()
    if not requested or "\0" in requested:
        raise PathRefused(
            400, f"invalid path {requested!r}", "give a file path like 'data/cells.tif'"
        )
    pure = PurePosixPath(requested.replace("\\", "/"))
    if pure.is_absolute() or requested.startswith("~"):
        raise PathRefused(
            403,
            f"{requested!r} is an absolute path",
            "give the path relative to the Jupyter root directory, as the file browser shows it",
        )
    if ".." in pure.parts:
        raise PathRefused(
            403, f"{requested!r} leaves the Jupyter root directory", "remove '..' from the path"
        )
    candidate = root.joinpath(*pure.parts)
    if not os.path.lexists(candidate):
        raise PathRefused(404, f"{requested!r} does not exist", "check the file name")
    real = candidate.resolve()
    if real != root and root not in real.parents:
        raise PathRefused(
            403,
            f"{requested!r} points outside the Jupyter root directory",
            "copy the file into the Jupyter root directory",
        )
    if not real.exists():
        raise PathRefused(404, f"{requested!r} is a broken link", "check the link's target")
    return real
