"""The desktop's napari as a handle in a notebook: ``v = desktop_viewer()``.

Runs in the kernel, in any environment with numpy (napari is not needed here). It talks to
the server's ``napari-desktop/api/`` like ``open_in_napari()`` (same server, same token), so
it works from any kernel the server started, also under JupyterHub. Arrays go through .npy
files in the desktop's private directory that the server makes (see exchange.py): this
kernel writes or reads them on the same machine, never through JSON or the network.

    v = desktop_viewer()                 # starts the desktop's napari if needed
    v.layers                             # names, types, shapes, dtypes
    cells = v.layers["cells"].data       # a numpy array (or v.get("cells"))
    v.add_labels(mask, name="mask")      # a new layer in napari
    v.layers["mask"].data = mask2        # napari shows the new data
    v.screenshot()                       # the canvas as an array, shown as a PNG
    v.dims.current_step = (3, 0, 0); v.camera.zoom = 2; v.selected = ["mask"]
    v.open_session("latest")             # napari shows a saved session (docs/sessions.md)
"""

from __future__ import annotations

import os
import struct
import zlib
from collections.abc import Iterator, Mapping
from typing import Any, Optional

try:
    import numpy as np
except ImportError as err:  # the kernel's environment, which may not be napari's
    raise ImportError(
        "desktop_viewer() needs numpy in this kernel's environment: "
        "pip install numpy (or conda install numpy), then restart the kernel"
    ) from err

from .notebook import NapariDesktopError, call, server_info

START_TIMEOUT = 180.0
DIMS_SETTABLE = ("current_step", "ndisplay")
CAMERA_SETTABLE = ("center", "zoom", "angles")


def to_json(value: Any) -> Any:
    """Numbers, tuples and arrays as plain JSON values; a list stays a list item by item
    (numpy would refuse a ragged one), for the server to say what it takes."""
    if isinstance(value, (str, bool)) or value is None:
        return value
    if isinstance(value, (list, tuple)):
        return [to_json(item) for item in value]
    return np.asarray(value).tolist()


def as_array(data: Any, what: str, dtype: Any = None) -> np.ndarray:
    """``data`` as a numpy array; nested lists of different lengths are a ValueError that
    names ``what`` and the item that differs, not numpy's "inhomogeneous shape"."""
    try:
        return np.asarray(data, dtype=dtype)
    except ValueError as err:
        found = ragged(data)
        if found is None:
            raise ValueError(f"{what} cannot be an array of numbers: {err}") from None
        path, size, first = found
        raise ValueError(
            f"{what} must be a rectangular array, every item of the same length: "
            f"{where(path)} is {entries(size)}, {where((*path[:-1], 0))} is {entries(first)}"
        ) from None


Ragged = tuple[tuple[int, ...], Optional[int], Optional[int]]


def ragged(data: Any, path: tuple[int, ...] = ()) -> Optional[Ragged]:
    """(where, its length, the first sibling's length) of the first item of the nested
    lists ``data`` whose length differs from its first sibling's (None: a single value);
    None if none does."""
    lengths = [length(item) for item in data] if length(data) else []
    for index, size in enumerate(lengths):
        if size != lengths[0]:
            return (*path, index), size, lengths[0]
    for index, item in enumerate(data if lengths and lengths[0] else []):
        found = ragged(item, (*path, index))
        if found is not None:
            return found
    return None


def length(item: Any) -> Optional[int]:
    """``len(item)`` of a list or array; None for a number or a string."""
    if isinstance(item, (str, bytes)):
        return None
    try:
        return len(item)
    except TypeError:
        return None


def entries(size: Optional[int]) -> str:
    return "a single value" if size is None else f"{size} long"


def where(path: tuple[int, ...]) -> str:
    """An item of nested lists, as it is indexed: "item [1][0]"."""
    return "item " + "".join(f"[{index}]" for index in path)


def png_bytes(image: np.ndarray) -> bytes:
    """A PNG of an (H, W, 3 or 4) uint8 image, with zlib only (no imaging library here)."""
    height, width, channels = image.shape
    rows = np.ascontiguousarray(image, dtype=np.uint8).reshape(height, width * channels)
    raw = np.hstack([np.zeros((height, 1), np.uint8), rows]).tobytes()  # filter 0 per row

    def chunk(tag: bytes, data: bytes) -> bytes:
        body = tag + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    header = struct.pack(">IIBBBBB", width, height, 8, 6 if channels == 4 else 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(raw, 6))
        + chunk(b"IEND", b"")
    )


class Screenshot(np.ndarray):
    """napari's canvas as an (H, W, 4) RGBA array that a notebook shows as a PNG."""

    def _repr_png_(self) -> Optional[bytes]:
        if self.ndim != 3 or self.shape[2] not in (3, 4) or self.dtype != np.uint8:
            return None
        return png_bytes(np.asarray(self))


class Layer:
    """One layer of the desktop's napari, by name. ``data`` fetches or replaces its data;
    ``name``, ``visible``, ``opacity`` and ``colormap`` can be set; ``update(**settings)``
    sets several at once (see docs/napari-api.md for the settings of each type)."""

    def __init__(self, viewer: DesktopViewer, info: dict[str, Any]) -> None:
        self._viewer = viewer
        self._info = dict(info)
        # Of a layer just added: seconds napari spent reading the file (in a worker
        # thread) and adding the layer (on its Qt thread).
        self.timing: dict[str, float] = {}

    def _get(self, key: str) -> Any:
        return self._info.get(key)

    name = property(lambda self: self._get("name"), lambda self, v: self.update(name=v))
    visible = property(lambda self: self._get("visible"), lambda self, v: self.update(visible=v))
    opacity = property(lambda self: self._get("opacity"), lambda self, v: self.update(opacity=v))
    colormap = property(lambda self: self._get("colormap"), lambda self, v: self.update(colormap=v))
    type = property(lambda self: self._get("type"))
    dtype = property(lambda self: self._get("dtype"))
    multiscale = property(lambda self: self._get("multiscale"))
    lazy = property(lambda self: self._get("lazy"))  # dask or zarr data, computed when fetched
    levels = property(lambda self: [tuple(level) for level in self._get("levels") or []])

    @property
    def shape(self) -> tuple[int, ...]:
        return tuple(self._get("shape") or ())

    @property
    def data(self) -> Any:
        """The layer's data, fetched now: a numpy array (the highest resolution level of a
        multiscale layer; a lazy (dask, zarr) layer computed in napari); a list of (N, D)
        arrays for shapes."""
        return self._viewer.get(self.name)

    @data.setter
    def data(self, value: Any) -> None:
        self._info = self._viewer._update(self.name, value, {})

    def update(self, **settings: Any) -> Layer:
        """Set layer settings in napari, e.g. ``update(opacity=0.5, colormap="magma")``."""
        self._info = self._viewer._update(self.name, None, settings)
        return self

    def __repr__(self) -> str:
        shape = "x".join(str(n) for n in self.shape)
        more = ", multiscale" if self.multiscale else ""
        return f"<{self.type} layer {self.name!r} {shape} {self.dtype}{more}>"


class Layers(Mapping[str, Layer]):
    """The layers of the desktop's napari, by name, as they are at each access."""

    def __init__(self, viewer: DesktopViewer) -> None:
        self._viewer = viewer

    def _list(self) -> list[dict[str, Any]]:
        return list(self._viewer._call("GET", "layers")["layers"])

    def __getitem__(self, name: str) -> Layer:
        listed = self._list()
        for info in listed:
            if info["name"] == name:
                return Layer(self._viewer, info)
        names = ", ".join(repr(info["name"]) for info in listed) or "none"
        raise KeyError(f"napari has no layer {name!r} (layers now: {names})")

    def __iter__(self) -> Iterator[str]:
        return iter([info["name"] for info in self._list()])

    def __len__(self) -> int:
        return len(self._list())

    def __delitem__(self, name: str) -> None:
        self._viewer.remove(name)

    def __repr__(self) -> str:
        layers = [Layer(self._viewer, info) for info in self._list()]
        if not layers:
            return "<no layers in the desktop's napari>"
        return "\n".join(repr(layer) for layer in layers)


class Section:
    """``dims`` or ``camera`` of the desktop's napari: read at each access, set by name."""

    def __init__(self, viewer: DesktopViewer, key: str, settable: tuple[str, ...]) -> None:
        object.__setattr__(self, "_viewer", viewer)
        object.__setattr__(self, "_key", key)
        object.__setattr__(self, "_settable", settable)

    def _state(self) -> dict[str, Any]:
        return dict(self._viewer._call("GET", "viewer")[self._key])

    def __getattr__(self, attr: str) -> Any:
        if attr.startswith("_"):
            raise AttributeError(attr)
        state = self._state()
        if attr not in state:
            raise AttributeError(f"{self._key} has no {attr!r} (it has {', '.join(state)})")
        value = state[attr]
        return tuple(value) if isinstance(value, list) else value

    def __setattr__(self, attr: str, value: Any) -> None:
        if attr not in self._settable:
            raise AttributeError(
                f"{self._key}.{attr} cannot be set from here ({', '.join(self._settable)} can)"
            )
        self._viewer._call("PUT", "viewer", {self._key: {attr: to_json(value)}})

    def __dir__(self) -> list[str]:
        return list(self._state())

    def __repr__(self) -> str:
        fields = ", ".join(f"{k}={v!r}" for k, v in self._state().items())
        return f"{self._key.capitalize()}({fields})"


class DesktopViewer:
    """A handle on the napari running in this server's desktop (see the module's doc)."""

    def __init__(self, info: dict[str, Any], timeout: float = START_TIMEOUT) -> None:
        self._info = info
        self.timeout = timeout
        self.layers = Layers(self)
        self.dims = Section(self, "dims", DIMS_SETTABLE)
        self.camera = Section(self, "camera", CAMERA_SETTABLE)

    def _call(
        self, method: str, endpoint: str, body: Optional[dict[str, Any]] = None, raw: bool = False
    ) -> Any:
        return call(self._info, endpoint, body, self.timeout, method=method, raw=raw)

    # -- arrays through the desktop's private directory -----------------------------
    def _send(self, data: Any) -> str:
        """Write ``data`` into a transfer file the server makes; its name."""
        array = as_array(data, "a layer's data")
        if array.dtype.hasobject:
            raise TypeError(f"napari layers need numbers, not {array.dtype} (object) arrays")
        made = self._call("POST", "transfers", {"nbytes": int(array.nbytes)})
        try:
            fd = os.open(made["path"], os.O_WRONLY | os.O_TRUNC | os.O_NOFOLLOW)
            with os.fdopen(fd, "wb") as handle:
                np.lib.format.write_array(handle, array, allow_pickle=False)
        except OSError as err:
            self._forget(made["transfer"])
            raise NapariDesktopError(
                f"this kernel cannot write the desktop's transfer file {made['path']}: {err}; "
                "desktop_viewer() needs a kernel on the machine of the Jupyter server"
            ) from err
        return str(made["transfer"])

    def _receive(self, answer: dict[str, Any]) -> np.ndarray:
        """The array in the transfer file ``answer`` names; the file is removed."""
        try:
            with open(answer["path"], "rb") as handle:
                return np.load(handle, allow_pickle=False)
        except OSError as err:
            raise NapariDesktopError(
                f"this kernel cannot read the desktop's transfer file {answer['path']}: {err}; "
                "desktop_viewer() needs a kernel on the machine of the Jupyter server"
            ) from err
        finally:
            self._forget(answer["transfer"])

    def _forget(self, transfer: str) -> None:
        try:
            self._call("DELETE", f"transfers/{transfer}")
        except NapariDesktopError:
            pass  # the server removes files nobody collected (exchange.TRANSFER_TTL)

    def _update(self, name: str, data: Any, settings: dict[str, Any]) -> dict[str, Any]:
        body: dict[str, Any] = {"props": {k: to_json(v) for k, v in settings.items()}}
        if data is not None:
            body["transfer"] = self._send(data)
        return dict(self._call("PUT", f"layers/{quote(name)}", body)["layer"])

    # -- layers ----------------------------------------------------------------------
    def get(self, name: str, level: int = 0) -> Any:
        """The data of layer ``name`` as a numpy array: for a multiscale layer level
        ``level`` (0, the default, is the highest resolution); a lazy (dask, zarr) layer is
        computed in napari; points as an (N, D) array; shapes as a list of (N, D) arrays.
        Larger than c.NapariDesktop.transfer_limit_mb: refused, fetch a lower level."""
        answer = self._call("GET", f"layers/{quote(name)}?level={int(level)}")
        array = self._receive(answer)
        if "lengths" in answer:
            ends = np.cumsum(answer["lengths"])[:-1]
            return list(np.split(array, ends)) if len(answer["lengths"]) else []
        return array

    def _add(self, kind: str, data: Any, settings: dict[str, Any]) -> Layer:
        props = {k: to_json(v) for k, v in settings.items() if v is not None}
        if (
            isinstance(data, (list, tuple))
            and kind in ("image", "labels")
            and any(hasattr(level, "shape") for level in data)
        ):
            # multiscale (a list with arrays): every level checked before the first is sent;
            # nested lists of numbers are one image
            levels = [as_array(level, f"level {i}") for i, level in enumerate(data)]
            sent: Any = [self._send(level) for level in levels]
        else:
            sent = self._send(data)
        body = {"type": kind, "transfer": sent, "props": props}
        answer = self._call("POST", "layers", body)
        layer = Layer(self, answer["layer"])
        layer.timing = dict(answer.get("timing") or {})
        return layer

    def add_image(self, data: Any, name: Optional[str] = None, **settings: Any) -> Layer:
        """A new image layer, e.g. ``add_image(img, name="cells", colormap="magma")``; a
        list of arrays (highest resolution first) makes a multiscale layer, nested lists of
        numbers one image."""
        return self._add("image", data, {"name": name, **settings})

    def add_labels(self, data: Any, name: Optional[str] = None, **settings: Any) -> Layer:
        """A new labels layer from an integer array (a list of them: multiscale)."""
        return self._add("labels", data, {"name": name, **settings})

    def add_points(self, data: Any, name: Optional[str] = None, **settings: Any) -> Layer:
        """A new points layer from an (N, D) array of coordinates (every point with the same
        number D of them)."""
        points = as_array(data, "points (one row of coordinates a point)", float)
        return self._add("points", points, {"name": name, **settings})

    def add_shapes(
        self,
        data: list[Any],
        shape_type: Any = "polygon",
        name: Optional[str] = None,
        **settings: Any,
    ) -> Layer:
        """A new shapes layer from a list of (N, D) vertex arrays, D the same for every
        shape (2-D and 3-D shapes cannot share a layer)."""
        parts = [as_array(part, f"shape {i}'s vertices", float) for i, part in enumerate(data)]
        if not parts:
            raise ValueError("give at least one shape")
        for index, part in enumerate(parts):
            if part.ndim != 2 or part.shape[0] < 1 or part.shape[1] < 2:
                raise ValueError(
                    f"shape {index}'s vertices must be an (N, D) array of N >= 1 vertices of "
                    f"D >= 2 coordinates, not of shape {part.shape}"
                )
            if part.shape[1] != parts[0].shape[1]:
                raise ValueError(
                    "every shape's vertices must have the same number of dimensions: shape "
                    f"{index} has {part.shape[1]}, shape 0 has {parts[0].shape[1]} "
                    "(add them as separate shapes layers)"
                )
        lengths = [len(part) for part in parts]
        props = {"name": name, "lengths": lengths, "shape_type": shape_type, **settings}
        return self._add("shapes", np.concatenate(parts), props)

    def remove(self, name: str) -> None:
        """Remove layer ``name`` from napari."""
        self._call("DELETE", f"layers/{quote(name)}")

    # -- the canvas and the view -----------------------------------------------------
    def screenshot(self) -> Screenshot:
        """napari's canvas now, as an (H, W, 4) uint8 RGBA array; the notebook shows it as a
        PNG when it is a cell's result."""
        answer = self._call("GET", "screenshot?format=npy")
        return self._receive(answer).view(Screenshot)

    def reset_view(self) -> None:
        """Fit napari's camera to all layers (napari's reset_view)."""
        self._call("PUT", "viewer", {"reset_view": True})

    @property
    def selected(self) -> list[str]:
        """Names of the selected layers (the active one first, if any)."""
        state = self._call("GET", "viewer")
        names = list(state["selected"])
        active = state.get("active")
        return ([active] + [n for n in names if n != active]) if active in names else names

    @selected.setter
    def selected(self, names: Any) -> None:
        self._call("PUT", "viewer", {"selected": [names] if isinstance(names, str) else names})

    def open_session(self, session: Any = "latest") -> dict[str, Any]:
        """Show a saved session in napari instead of its layers now, as napari brings one
        back when it starts (data, settings, dims, camera): ``session`` is "latest" (the
        newest saved session, not the one napari is writing now), a kept session's name
        (``GET napari-desktop/api/session`` lists them) or a session folder's path. The
        layers shown until now stay in their own session on disk. Returns what was
        restored: {"from", "saved_at", "layers", "skipped", ...}."""
        which = str(session)
        if os.sep in which or isinstance(session, os.PathLike):
            which = os.path.abspath(os.path.expanduser(which))
        answer = self._call("POST", "session", {"action": "open", "session": which})
        return dict((answer.get("napari") or {}).get("restored") or {})

    def sessions(self) -> list[dict[str, Any]]:
        """The kept sessions, newest first: {"name", "path", "saved_at", "layers"} each
        ("error" instead for one whose session.json cannot be read); napari's current
        session is among them once it saved. Their folder: ``GET napari-desktop/api/session``
        (``c.NapariDesktop.session_dir``)."""
        return list(self._call("GET", "session").get("sessions") or [])

    def open(self, *paths: Any, **options: Any) -> list[str]:
        """Open files as layers (``open_in_napari``); the names of the new layers."""
        from .notebook import open_in_napari

        return open_in_napari(*paths, timeout=self.timeout, **options)

    def __repr__(self) -> str:
        url = f"{self._info.get('url', '')}napari-desktop/"
        try:
            layers = f"{len(self.layers)} layers"
        except NapariDesktopError as err:
            layers = f"not reachable now: {err}"
        return f"<DesktopViewer of {url} ({layers})>"


def quote(name: str) -> str:
    """A layer's name in a URL path. napari takes any Python string as a name, a lone
    surrogate too (named in napari's window, or after a file whose name is not UTF-8): it
    travels as UTF-8 with "surrogatepass", which the server's LayerHandler decodes alike."""
    from urllib.parse import quote as url_quote

    return url_quote(name.encode("utf-8", "surrogatepass"), safe="")


def desktop_viewer(timeout: float = START_TIMEOUT, session: Any = None) -> DesktopViewer:
    """A handle on the desktop's napari, started (desktop and napari) if needed; with
    ``session`` ("latest", a kept session's name or a session folder's path) napari then
    shows that saved session (``DesktopViewer.open_session``)."""
    info = server_info()
    call(info, "start", {"app": "napari", "wait": True}, timeout)
    viewer = DesktopViewer(info, timeout)
    if session is not None:
        viewer.open_session(session)
    return viewer


__all__ = ["DesktopViewer", "Layer", "Screenshot", "desktop_viewer"]
