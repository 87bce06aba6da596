"""Where a requested file may come from: only inside the Jupyter server's root directory."""

from __future__ import annotations

import os
import stat
from pathlib import Path, PurePosixPath

from .errors import Refused

# Entries of a folder that is opened checked at most (links to outside the root): a large
# OME-Zarr store holds ~100,000 chunk files; scandir reads about a million a second here.
MAX_FOLDER_ENTRIES = 1_000_000
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
    try:
        real = candidate.resolve()
    except (OSError, RuntimeError):  # RuntimeError: a loop of symlinks
        raise Refused(404, f"{requested!r} is a loop of links", "check the link's target") from None
    if not inside(root, real):
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
    if stat.S_ISDIR(mode):
        check_folder(root, real, requested)
    return real


def inside(root: Path, real: Path) -> bool:
    """Whether the resolved ``real`` is ``root`` (resolved) or under it."""
    return real == root or root in real.parents


def check_folder(root: Path, folder: Path, requested: str) -> None:
    """A folder napari reads (a stack of files, a zarr store) must hold nothing that leads
    outside the root: napari's readers follow links. Refused 403 if a link in it (at any
    depth, through links to folders elsewhere in the root) points outside; 422 beyond
    MAX_FOLDER_ENTRIES entries."""
    seen: set[Path] = set()
    todo, count = [folder], 0
    while todo:
        current = todo.pop()
        if current in seen:
            continue
        seen.add(current)
        try:
            entries = list(os.scandir(current))
        except OSError:
            continue  # unreadable: napari cannot read it either
        for entry in entries:
            count += 1
            if count > MAX_FOLDER_ENTRIES:
                raise Refused(
                    422,
                    f"{requested!r} holds more than {MAX_FOLDER_ENTRIES:,} files and folders, "
                    "too many to check for links that lead outside the Jupyter root",
                    "open a part of it (a zarr store's group, some of its files)",
                )
            try:
                if entry.is_symlink():
                    target = Path(entry.path).resolve()
                    if not inside(root, target):
                        raise Refused(
                            403,
                            f"{requested!r} holds a link to outside the Jupyter root "
                            f"directory: {Path(entry.path).relative_to(root)}",
                            "copy what it links to into the folder, or remove the link",
                        )
                    if target.is_dir():
                        todo.append(target)
                elif entry.is_dir(follow_symlinks=False):
                    todo.append(Path(entry.path))
            except (OSError, RuntimeError):
                continue  # a broken link or a loop: nothing a reader can open


def still_in_root(root: Path, path: Path) -> bool:
    """Whether ``path`` (once resolved by resolve_in_root) still is what that root-relative
    path resolves to: nothing on its way was replaced by a link to elsewhere since."""
    root = root.resolve()
    try:
        relative = path.relative_to(root)
        return resolve_in_root(root, relative.as_posix() or ".") == path
    except (ValueError, Refused):
        return False
