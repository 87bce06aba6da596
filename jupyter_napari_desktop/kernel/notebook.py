"""Use the desktop's napari from a notebook: ``open_in_napari("cells.tif")``.

Runs in the kernel. It finds the Jupyter server that started the kernel (its pid is in
``JUPYTER_NAPARI_DESKTOP_SERVER_PID``, set by the server extension) through the server's
runtime file, and calls the same API as the file browser's "Open in napari", so the desktop
and napari are started when needed and the same path rules apply.
"""

from __future__ import annotations

import json
import os
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any, Optional

from ..launch import SERVER_PID_ENV


class NapariDesktopError(RuntimeError):
    """The server refused or failed; the message says what to do. ``status``: the HTTP
    status the server answered (None when it was not reached)."""

    def __init__(self, message: str, status: Optional[int] = None) -> None:
        super().__init__(message)
        self.status = status


def server_info(pid: Optional[int] = None) -> dict[str, Any]:
    """The runtime file (url, token, root_dir) of the Jupyter server running this kernel."""
    from jupyter_core.paths import jupyter_runtime_dir

    if pid is None:
        pid = int(os.environ.get(SERVER_PID_ENV) or os.getppid())
    info_file = Path(jupyter_runtime_dir()) / f"jpserver-{pid}.json"
    try:
        return dict(json.loads(info_file.read_text()))
    except (OSError, ValueError) as err:
        raise NapariDesktopError(
            f"cannot find the Jupyter server of this kernel ({info_file}): {err}; "
            "use this helper in a kernel started by a Jupyter server with jupyter-napari-desktop"
        ) from err


def api_path(path: str | os.PathLike[str], root: Path) -> str:
    """The root-relative path the API wants, from a path relative to the kernel's cwd."""
    real = Path(path).expanduser().resolve()
    try:
        return real.relative_to(root.resolve()).as_posix()
    except ValueError:
        raise NapariDesktopError(
            f"{path} is outside the Jupyter root directory {root}; copy it in first"
        ) from None


def call(
    info: dict[str, Any],
    endpoint: str,
    body: Optional[dict[str, Any]],
    timeout: float,
    method: str = "POST",
    raw: bool = False,
) -> Any:
    """One authenticated request to the server's napari-desktop API: its JSON answer (None
    for an empty one), or with ``raw`` its bytes; NapariDesktopError with the fix."""
    token = info.get("token") or os.environ.get("JUPYTERHUB_API_TOKEN", "")
    url = info["url"].rstrip("/") + "/napari-desktop/api/" + endpoint
    if not url.startswith(("http://", "https://")):
        raise NapariDesktopError(f"the Jupyter server's URL {url!r} is not http(s)")
    request = urllib.request.Request(  # noqa: S310 - scheme checked above
        url,
        data=None if body is None else json.dumps(body).encode(),
        method=method,
        headers={"Content-Type": "application/json", "Authorization": f"token {token}"},
    )
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310
            content = response.read()
    except urllib.error.HTTPError as err:
        try:
            error = json.loads(err.read())["error"]
            detail = f"{error['message']} (fix: {error['fix']})"
        except (ValueError, KeyError, TypeError):
            detail = str(err)
        raise NapariDesktopError(
            f"napari desktop answered {err.code}: {detail}", err.code
        ) from None
    except OSError as err:
        raise NapariDesktopError(f"cannot reach the Jupyter server at {url}: {err}") from err
    if raw:
        return content
    return json.loads(content) if content else None


def open_in_napari(
    *paths: str | os.PathLike[str],
    plugin: Optional[str] = None,
    layer_type: Optional[str] = None,
    timeout: float = 180,
) -> list[str]:
    """Open files as layers in the desktop's napari (starting it if needed).

    Returns the names of the new layers. Paths are relative to the kernel's working
    directory (or absolute) and must be inside the Jupyter root directory.
    """
    if not paths:
        raise ValueError("give at least one path, e.g. open_in_napari('cells.tif')")
    info = server_info()
    root = Path(info.get("root_dir") or info.get("notebook_dir") or os.getcwd())
    body = {
        "paths": [api_path(p, root) for p in paths],
        "plugin": plugin,
        "layer_type": layer_type,
    }
    answer = call(info, "open", body, timeout)
    return list(answer.get("opened", []))
