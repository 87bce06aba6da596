"""Start napari inside the desktop and serve it to the Jupyter server: the only code that
imports napari and Qt.

It runs in napari's own Python, which may be another environment than the Jupyter
server's, so it is run as a script and imports nothing from this package::

    /path/to/napari-env/bin/python napari_helper.py [PATH ...]

It opens a maximized viewer, opens the given paths, writes its pid to
``$NAPARI_DESKTOP_RUNTIME_DIR/napari.pid`` and listens on ``napari.sock`` in that private
directory (owner-only) for one JSON request per connection, answered with one JSON line:

    {"cmd": "open", "paths": ["/abs/a.tif"], "plugin": null, "layer_type": null}
        -> {"ok": true, "layers": ["a"]}  or  {"ok": false, "error": "napari's reason"}
        -> {"ok": false, "busy": "a.tif", "error": "napari is busy reading a.tif"} at once
           while another open is still reading
    {"cmd": "state"}  -> {"ok": true, "version": "0.9.2", "layers": [...], "dims": {...},
                          "reading": {"paths": ["a.tif"], "for_s": 12.5} or null}
    {"cmd": "raise"}  -> {"ok": true}

The verbs of the notebook's ``desktop_viewer()`` (see exchange.py on the server). Arrays never
travel through this socket: they are .npy files in ``$NAPARI_DESKTOP_RUNTIME_DIR/transfers``
(0700, files 0600) whose paths the server made; the helper reads them (``allow_pickle=False``)
and writes them in a worker thread, so napari's window keeps drawing during a transfer. A
layer's ``data`` is taken on the Qt thread and written from the worker: a stroke painted while
a large layer is being written may be in the file or not.

    {"cmd": "layers"} -> {"ok": true, "layers": [{"name", "type", "shape", "dtype",
                          "multiscale", "levels", "lazy", "visible", "opacity", "colormap"}]}
    {"cmd": "get", "name": "cells", "file": "/run/.../t.npy", "level": 0, "limit": bytes}
        -> {"ok": true, "layer": {...}, "dtype", "shape", "nbytes", "level",
            "lengths"/"shape_type" (shapes: the vertices of all shapes, one after the other)}
        -> {"ok": false, "missing": "cells", "names": [...], "error": ...}
        -> {"ok": false, "too_large": nbytes, "error": ...}
        -> {"ok": false, "no_room": [nbytes, free bytes], "error": ...}
    {"cmd": "add", "type": "image", "file": "/run/.../t.npy", "props": {"name": "cells"}}
        -> {"ok": true, "layer": {...}, "timing": {"read_s": worker, "add_s": Qt thread}}
           (shapes: props "lengths", "shape_type"; a list of
           files: a multiscale image or labels layer, highest resolution first)
    {"cmd": "update", "name": "cells", "file": null or path, "props": {"opacity": 0.5}}
        -> {"ok": true, "layer": {...}}
    {"cmd": "remove", "name": "cells"} -> {"ok": true}
    {"cmd": "screenshot", "file": "/run/.../t.npy", "format": "npy" or "png"}
        -> {"ok": true, "shape": [h, w, 4]}
    {"cmd": "viewer"} -> {"ok": true, "dims": {"ndim", "ndisplay", "current_step", "range",
                          "axis_labels"}, "camera": {"center", "zoom", "angles",
                          "perspective"}, "selected": [names], "active": name or null}
    {"cmd": "set_viewer", "dims": {...}, "camera": {...}, "selected": [names], "reset_view": true}
        -> the same as "viewer", after the change

Requests arrive on the Qt thread (QLocalServer), so napari is only touched from there. Files
are read by the reader plugins in a worker thread (one read at a time) and become layers on
the Qt thread, so a slow or never-ending read leaves the window and ``state`` responsive.
"""

from __future__ import annotations

import argparse
import contextlib
import faulthandler
import json
import math
import os
import shutil
import signal
import stat
import sys
import threading
import time
from pathlib import Path
from typing import Any, Callable, Optional

MAX_REQUEST = 1 << 20
LAYER_TYPES = ("image", "labels", "points", "shapes", "surface", "tracks", "vectors")
Reply = Callable[[dict[str, Any]], None]
# The layer types whose data can be sent and fetched, and the properties the API may set
# ("*": every type; "rgb" and "shape_type" only when the layer is added).
DATA_TYPES = ("image", "labels", "points", "shapes")
PROPERTIES: dict[str, tuple[str, ...]] = {
    "*": ("name", "visible", "opacity", "blending", "scale", "translate"),
    "image": ("colormap", "contrast_limits", "gamma", "rgb"),
    "labels": ("mode", "selected_label", "brush_size"),
    "points": ("size", "face_color", "border_color", "symbol", "mode"),
    "shapes": ("edge_color", "face_color", "edge_width", "mode"),
}
ADD_ONLY = ("rgb",)
SHAPE_TYPES = ("rectangle", "ellipse", "line", "path", "polygon")
# napari's blending modes (multiplicative since napari 0.5: an older one refuses it itself).
BLENDINGS = (
    "translucent",
    "translucent_no_depth",
    "additive",
    "minimum",
    "opaque",
    "multiplicative",
)
MAX_LEVELS = 16  # of a multiscale layer sent as a list of arrays
# The range of a layer's scale and translate, and of the camera's center and zoom.
LARGEST, SMALLEST = 1e12, 1e-12
# A layer's dimensions at most: napari 0.9 took 20 GB and a minute for a 4-pixel image of
# 24 (each axis a slider, each slider a set of widgets); 20 were fine.
MAX_DIMS = 16
# A layer's name at most (characters): the API reaches a layer by its name in a URL.
MAX_NAME = 1000
# What each type's data must be: numpy dtype kinds, and a rule on the shape.
DATA_KINDS = {"image": "biuf", "labels": "biu", "points": "iuf", "shapes": "iuf"}
DATA_RULES = {
    "image": "an array of 2 or more dimensions",
    "labels": "an integer array of 2 or more dimensions",
    "points": "an (N, D) array of coordinates, D >= 2",
    "shapes": "the vertices of all shapes as one (N, D) array, D >= 2",
}


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="napari_helper.py", description="Start napari maximized in the desktop."
    )
    parser.add_argument("paths", nargs="*", help="images to open at start")
    parser.add_argument("--plugin", default=None, help="napari reader plugin for the paths")
    parser.add_argument("--no-maximize", action="store_true", help="keep the default size")
    return parser.parse_args(argv)


def runtime_dir() -> Path | None:
    runtime = os.environ.get("NAPARI_DESKTOP_RUNTIME_DIR")
    return Path(runtime) if runtime and Path(runtime).is_dir() else None


def layer_info(layer: Any) -> dict[str, Any]:
    data = getattr(layer, "data", None)
    shape = list(getattr(data, "shape", ()) or ())
    return {"name": layer.name, "type": type(layer).__name__.lower(), "shape": shape}


def layer_details(layer: Any) -> dict[str, Any]:
    """What the API lists of a layer: name, type, shape, dtype, multiscale levels."""
    import numpy as np

    info = layer_info(layer)
    data = layer.data
    kind = info["type"]
    multiscale = bool(getattr(layer, "multiscale", False))
    levels: list[list[int]] = []
    dtype = getattr(data, "dtype", None)
    if multiscale:
        levels = [list(level.shape) for level in data]
        dtype = data[0].dtype
    if kind == "shapes":
        info["shape"] = [len(data)]
        dtype = np.asarray(data[0]).dtype if len(data) else np.dtype("float64")
    base = data[0] if multiscale else data
    info.update(
        {
            "dtype": str(dtype) if dtype is not None else None,
            "multiscale": multiscale,
            "levels": levels,
            "lazy": kind in ("image", "labels") and not isinstance(base, np.ndarray),
            "visible": bool(layer.visible),
            "opacity": float(layer.opacity),
            "colormap": getattr(getattr(layer, "colormap", None), "name", None),
        }
    )
    return info


def check_data(kind: str, array: Any, lengths: Any = None) -> Optional[str]:
    """Why ``array`` cannot be the data of a ``kind`` layer (None when it can)."""
    rule = DATA_RULES[kind]
    if array.dtype.kind not in DATA_KINDS[kind]:
        return f"{kind} data must be {rule} of {kinds_text(DATA_KINDS[kind])}, not {array.dtype}"
    if kind in ("image", "labels") and array.ndim < 2:
        return f"{kind} data must be {rule}, not of shape {tuple(array.shape)}"
    if kind in ("image", "labels", "points") and array.ndim > MAX_DIMS:
        return f"{kind} data may have at most {MAX_DIMS} dimensions, not {array.ndim}"
    if kind in ("image", "labels") and 0 in array.shape:
        return f"{kind} data must not be empty, not of shape {tuple(array.shape)}"
    if kind in ("points", "shapes") and (array.ndim != 2 or array.shape[1] < 2):
        return f"{kind} data must be {rule}, not of shape {tuple(array.shape)}"
    if kind in ("points", "shapes") and array.shape[1] > MAX_DIMS:
        return f"{kind} may have at most {MAX_DIMS} coordinates, not {array.shape[1]}"
    if kind == "shapes":
        if not isinstance(lengths, list) or not all(isinstance(n, int) and n >= 1 for n in lengths):
            return "shapes need 'lengths': the number of vertices of each shape (1 or more)"
        if sum(lengths) != array.shape[0]:
            return f"shapes' lengths add up to {sum(lengths)}, but {array.shape[0]} vertices came"
    return None


def kinds_text(kinds: str) -> str:
    names = {"b": "bool", "i": "signed int", "u": "unsigned int", "f": "float"}
    return "/".join(names[k] for k in kinds)


def load_array(path: str) -> Any:
    """An array from a .npy file (worker thread); never unpickles."""
    import numpy as np

    with open(path, "rb") as handle:
        return np.load(handle, allow_pickle=False)


def save_array(path: str, data: Any) -> None:
    """Write ``data`` (numpy, dask or zarr: computed here) into the .npy file the server
    made (worker thread); never follows a link or creates a file."""
    import numpy as np

    array = np.asarray(data)
    fd = os.open(path, os.O_WRONLY | os.O_TRUNC | os.O_NOFOLLOW)
    with os.fdopen(fd, "wb") as handle:
        np.lib.format.write_array(handle, array, allow_pickle=False)


def save_png(path: str, array: Any) -> None:
    import imageio.v3 as iio

    fd = os.open(path, os.O_WRONLY | os.O_TRUNC | os.O_NOFOLLOW)
    with os.fdopen(fd, "wb") as handle:
        handle.write(iio.imwrite("<bytes>", array, extension=".png"))


def numbers(value: Any, count: Optional[int] = None) -> bool:
    """A list (of ``count``) finite numbers, none larger than LARGEST in size (napari's
    transforms overflow on 1e308 and then every view of the canvas fails)."""
    return (
        isinstance(value, list)
        and (count is None or len(value) == count)
        and all(
            isinstance(v, (int, float))
            and not isinstance(v, bool)
            and math.isfinite(v)
            and abs(v) <= LARGEST
            for v in value
        )
    )


def transform_problem(key: str, value: Any) -> Optional[str]:
    """Why ``value`` cannot be a layer's ``scale`` or ``translate`` (one number per axis)."""
    if not numbers(value) or not value:
        return f"{key} must be a list of numbers, one per axis (at most {LARGEST:g} in size)"
    if key == "scale" and any(abs(v) < SMALLEST for v in value):
        return f"scale must not be 0 or smaller than {SMALLEST:g} in size"
    return None


def number_in(value: Any, low: float, high: float = LARGEST, whole: bool = False) -> bool:
    """A number (not a boolean) from ``low`` to ``high``; with ``whole`` a whole number."""
    return (
        numbers([value])
        and low <= value <= high
        and (not whole or isinstance(value, int) or float(value).is_integer())
    )


def is_color(value: Any) -> bool:
    """A color as JSON: a name or hex string ("red", "#ff8800"), or 3 or 4 numbers from 0
    to 1 (which names napari knows, napari says; a name may also be a feature's)."""
    if isinstance(value, str):
        return 0 < len(value) <= 100 and encodable(value)
    return (numbers(value, 3) or numbers(value, 4)) and all(0 <= v <= 1 for v in value)


# What each setting accepts, in words, for the refusals (setting_problem, refusal).
COLOR_FORMS = (
    "a color (a name such as 'red', a hex string such as '#ff8800', or [r, g, b] or "
    "[r, g, b, a] from 0 to 1) or a list of colors, one per {each}"
)
FORMS = {
    "visible": "true or false",
    "opacity": "a number from 0 to 1",
    "blending": "one of " + ", ".join(BLENDINGS),
    "colormap": (
        "a colormap's name (napari's, vispy's or matplotlib's: 'gray', 'viridis', 'magma', "
        "...), a color ('red', '#ff8800', [r, g, b] from 0 to 1) or a list of 2 or more colors"
    ),
    "contrast_limits": "two numbers [low, high], low below high",
    "gamma": f"a number above 0 (at most {LARGEST:g})",
    "selected_label": f"a whole number (at most {LARGEST:g} in size)",
    "brush_size": "a whole number of 1 or more",
    "size": "a number above 0, or a list of them, one per point",
    "face_color": COLOR_FORMS.format(each="point or shape"),
    "border_color": COLOR_FORMS.format(each="point"),
    "edge_color": COLOR_FORMS.format(each="shape"),
    "edge_width": "a number of 0 or more, or a list of them, one per shape",
    "symbol": "a symbol's name ('disc', 'square', 'cross', ...) or a list of them, one per point",
    "mode": "a mode's name (e.g. 'pan_zoom', 'paint' for labels, 'select' for points)",
    "rgb": "true or false",
}


def one_or_list(value: Any, test: Callable[[Any], bool]) -> bool:
    """``value`` passes ``test``, or is a non-empty list of values that do."""
    if isinstance(value, list) and value and not test(value):
        return all(test(v) for v in value)
    return test(value)


# Each setting's test of its value's form (FORMS says it in words).
SETTING_CHECKS: dict[str, Callable[[Any], bool]] = {
    "visible": lambda v: isinstance(v, bool),
    "rgb": lambda v: isinstance(v, bool),
    "opacity": lambda v: number_in(v, 0, 1),
    "blending": lambda v: v in BLENDINGS,
    "colormap": lambda v: (
        is_color(v) or (isinstance(v, list) and len(v) >= 2 and all(is_color(c) for c in v))
    ),
    "contrast_limits": lambda v: numbers(v, 2) and v[0] < v[1],
    "gamma": lambda v: number_in(v, SMALLEST),
    "selected_label": lambda v: number_in(v, -LARGEST, whole=True),
    "brush_size": lambda v: number_in(v, 1, whole=True),
    "size": lambda v: one_or_list(v, lambda n: number_in(n, SMALLEST)),
    "face_color": lambda v: one_or_list(v, is_color),
    "border_color": lambda v: one_or_list(v, is_color),
    "edge_color": lambda v: one_or_list(v, is_color),
    "edge_width": lambda v: one_or_list(v, lambda n: number_in(n, 0)),
    "symbol": lambda v: one_or_list(v, lambda s: isinstance(s, str) and 0 < len(s) <= 100),
    "mode": lambda v: isinstance(v, str) and 0 < len(v) <= 100,
}


def setting_problem(key: str, value: Any) -> Optional[str]:
    """Why ``value`` cannot be the setting ``key`` (None when it can, or when napari
    decides: a color's or colormap's name, a mode's): "<key> must be <forms>, not <value>".
    napari itself would take many of these silently: an empty list as colormap or color
    reverts to gray or white, a NaN contrast limit or a negative size is kept."""
    ok = SETTING_CHECKS.get(key)
    if ok is None or ok(value):
        return None
    return f"{key} must be {FORMS[key]}, not {shown(value)}"


def shown(value: Any) -> str:
    """A value in a message: its JSON, at most 200 characters."""
    text = json.dumps(value)
    return text if len(text) <= 200 else text[:200] + "..."


COLOR_SETTINGS = ("colormap", "face_color", "border_color", "edge_color")


def unreadable_color(key: str, value: Any, layer: Any = None) -> Optional[str]:
    """Why napari cannot read a color of the setting ``key`` (Qt thread; None: it can):
    napari warns and falls back to gray or white for a color name it does not know, so it
    is asked here first (``transform_color`` raises instead). A color setting's name may
    also be one of ``layer``'s features (napari colors by it); a colormap's own name napari
    refuses itself (KeyError)."""
    if key not in COLOR_SETTINGS or (key == "colormap" and not isinstance(value, list)):
        return None
    from napari.utils.colormaps.standardize_color import transform_color

    features = set(getattr(getattr(layer, "features", None), "columns", ()))
    items = value if isinstance(value, list) and value and not is_color(value) else [value]
    for item in items:
        if isinstance(item, str) and key != "colormap" and item in features:
            continue
        try:
            transform_color(item)
        except (ValueError, KeyError, TypeError) as err:
            return (
                f"{key} {shown(value)} refused: napari cannot read the color {shown(item)} "
                f"({napari_reason(err)}); {key} must be {FORMS[key]}"
            )
    return None


def color_problem(props: dict[str, Any], layer: Any = None) -> Optional[str]:
    """The first of ``props``' colors napari cannot read (unreadable_color), or None."""
    for key, value in props.items():
        problem = unreadable_color(key, value, layer)
        if problem:
            return problem
    return None


def not_readable(path: str) -> Optional[str]:
    """Why ``path`` must not be handed to a reader (a pipe or device would block it)."""
    try:
        mode = os.stat(path).st_mode
    except OSError as err:
        return f"{Path(path).name}: {err.strerror}"
    if stat.S_ISREG(mode) or stat.S_ISDIR(mode):
        return None
    return f"{Path(path).name} is not a regular file or folder"


def encodable(text: str) -> bool:
    """Whether ``text`` is UTF-8 text without control characters (a lone surrogate, a NUL,
    an escape sequence): what can travel in a URL and be shown in a terminal."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return not any(ord(c) < 32 or 127 <= ord(c) < 160 for c in text)


def check_props(kind: str, props: Any, adding: bool) -> Optional[str]:
    """Why ``props`` cannot be set on a ``kind`` layer (None when they can); ``adding``: the
    layer is being made (ADD_ONLY settings allowed)."""
    if not isinstance(props, dict):
        return "props must be a JSON object"
    allowed = PROPERTIES["*"] + PROPERTIES.get(kind, ())
    if not adding:
        allowed = tuple(p for p in allowed if p not in ADD_ONLY)
    unknown = sorted(set(props) - set(allowed))
    if unknown:
        return f"{kind} layers have no settable {', '.join(unknown)} (known: {', '.join(allowed)})"
    name = props.get("name")
    if "name" in props and (not isinstance(name, str) or not name.strip()):
        return "name must be a non-empty string"
    if isinstance(name, str) and (len(name) > MAX_NAME or not encodable(name)):
        return f"name must be at most {MAX_NAME} characters of text (no control characters)"
    for key in ("scale", "translate"):
        problem = transform_problem(key, props[key]) if key in props else None
        if problem:
            return problem
    for key, value in props.items():
        problem = setting_problem(key, value)
        if problem:
            return problem
    return None


def check_viewer(dims: Any, camera: Any, ndim: int) -> Optional[str]:
    """Why ``dims`` and ``camera`` cannot be set on a viewer of ``ndim`` axes (None when
    they can)."""
    if not isinstance(dims, dict) or not isinstance(camera, dict):
        return "dims and camera must be JSON objects"
    unknown = sorted(set(dims) - {"current_step", "ndisplay"}) + sorted(
        set(camera) - {"center", "zoom", "angles"}
    )
    if unknown:
        return (
            f"cannot set {', '.join(unknown)} "
            "(dims: current_step, ndisplay; camera: center, zoom, angles)"
        )
    step: Any = dims.get("current_step")
    if "current_step" in dims and not (
        numbers(step, ndim) and all(isinstance(v, int) and v >= 0 for v in step)
    ):
        return f"dims.current_step must be {ndim} whole numbers >= 0 (one per axis), not {step!r}"
    if "ndisplay" in dims and dims["ndisplay"] not in (2, 3):
        return f"dims.ndisplay must be 2 or 3, not {dims['ndisplay']!r}"
    center = camera.get("center")
    if "center" in camera and not (numbers(center, 2) or numbers(center, 3)):
        return f"camera.center must be 2 or 3 numbers, not {center!r}"
    zoom: Any = camera.get("zoom")
    if "zoom" in camera and not (numbers([zoom]) and zoom >= SMALLEST):
        return f"camera.zoom must be a number from {SMALLEST:g} to {LARGEST:g}, not {zoom!r}"
    if "angles" in camera and not numbers(camera["angles"], 3):
        return f"camera.angles must be 3 numbers (degrees), not {camera['angles']!r}"
    return None


def napari_reason(err: BaseException) -> str:
    return str(err).replace("Scroll up to see the full stack trace.", "").strip() or repr(err)


def refusal(key: str, value: Any, err: BaseException) -> str:
    """napari refused ``value`` as the setting ``key``: what, why (the first sentence of
    napari's reason: for an unknown colormap it goes on to list every matplotlib name) and
    what the setting takes."""
    text = str(err.args[0]) if isinstance(err, KeyError) and err.args else napari_reason(err)
    reason = text.split(". ", 1)[0].rstrip(".")
    reason = reason[:200] + "..." if len(reason) > 200 else reason
    forms = FORMS.get(key)
    return f"{key} {shown(value)} refused by napari: {reason}" + (
        f"; {key} must be {forms}" if forms else ""
    )


def read_paths(paths: list[str], plugin: Optional[str]) -> list[tuple[str, Any]]:
    """Run the reader plugins (worker thread): [(path, layer data list or exception)]."""
    from napari.plugins.io import read_data_with_plugins

    results: list[tuple[str, Any]] = []
    for path in paths:
        try:
            data, _reader = read_data_with_plugins([path], plugin=plugin, stack=False)
        except Exception as err:  # noqa: BLE001 - napari's reason goes back to the user
            results.append((path, err))
            break
        results.append((path, list(data or [])))
    return results


def make_layers(path: str, items: list[Any], layer_type: Optional[str]) -> list[Any]:
    """Layers from a reader's layer data tuples (Qt thread), named after the file by default."""
    from napari.layers import Layer
    from napari.layers._source import layer_source

    if not items:
        raise ValueError("no reader plugin could read it")
    layers = []
    for item in items:
        if isinstance(item, Layer):
            layers.append(item)
            continue
        data, meta, kind = (*tuple(item), None, None)[:3]
        meta = dict(meta or {})
        meta.setdefault("name", os.path.splitext(os.path.basename(path))[0])
        with layer_source(path=path):  # the session keeps it by its path (session_keep.py)
            layers.append(Layer.create(data, meta, layer_type or kind))
    return layers


class Service:
    """The JSON protocol; every method runs on the Qt thread."""

    def __init__(self, viewer: Any, napari_version: str) -> None:
        from qtpy.QtCore import QObject, Signal

        class Bridge(QObject):
            done = Signal(object)
            call = Signal(object)  # a function to run on the Qt thread

        self.viewer = viewer
        self.version = napari_version
        self.reading: Optional[list[str]] = None
        self.reading_since = 0.0
        self.session_report: Optional[Callable[[], dict[str, Any]]] = None  # session_keep
        self.bridge = Bridge()  # lives on the Qt thread: emits from the worker are queued
        self.bridge.done.connect(self.finish_open)
        self.bridge.call.connect(lambda function: function())
        # Every command of the protocol, in one place: its name -> what answers it.
        self.commands: dict[str, Callable[[dict[str, Any], Reply], None]] = {
            "open": self.open,
            "state": lambda request, reply: reply(self.state()),
            "raise": lambda request, reply: reply(self.raise_window()),
            "layers": self.do_layers,
            "get": self.do_get,
            "add": self.do_add,
            "update": self.do_update,
            "remove": self.do_remove,
            "screenshot": self.do_screenshot,
            "viewer": self.do_viewer,
            "set_viewer": self.do_set_viewer,
        }

    def handle(self, request: dict[str, Any], reply: Reply) -> None:
        cmd = request.get("cmd")
        command = self.commands.get(cmd) if isinstance(cmd, str) else None
        if command is None:
            reply({"ok": False, "error": f"unknown command {cmd!r}"})
            return
        try:
            command(request, reply)
        except Exception as err:  # noqa: BLE001 - napari's reason goes back to the user
            reply({"ok": False, "error": napari_reason(err)})

    def open(self, request: dict[str, Any], reply: Reply) -> None:
        paths = request.get("paths")
        plugin = request.get("plugin")
        layer_type = request.get("layer_type")
        if not isinstance(paths, list) or not all(isinstance(p, str) for p in paths):
            reply({"ok": False, "error": "paths must be a list of strings"})
            return
        if layer_type is not None and layer_type not in LAYER_TYPES:
            reply({"ok": False, "error": f"layer_type must be one of {', '.join(LAYER_TYPES)}"})
            return
        if self.reading is not None:
            busy = ", ".join(Path(p).name for p in self.reading)
            reply({"ok": False, "busy": busy, "error": f"napari is busy reading {busy}"})
            return
        for path in paths:
            reason = not_readable(path)
            if reason:
                reply({"ok": False, "error": reason, "opened": []})
                return
        self.reading, self.reading_since = list(paths), time.monotonic()

        def work() -> None:
            results = read_paths(paths, plugin)
            self.bridge.done.emit((results, layer_type, reply))

        threading.Thread(target=work, name="napari-desktop-read", daemon=True).start()

    def finish_open(self, done: tuple[list[tuple[str, Any]], Optional[str], Reply]) -> None:
        results, layer_type, reply = done
        self.reading = None
        names: list[str] = []
        for path, items in results:
            try:
                if isinstance(items, BaseException):
                    raise items
                layers = make_layers(path, items, layer_type)
                for layer in layers:
                    self.viewer.add_layer(layer)
            except Exception as err:  # noqa: BLE001 - napari's reason goes back to the user
                reply(
                    {
                        "ok": False,
                        "error": f"{Path(path).name}: {napari_reason(err)}",
                        "opened": names,
                    }
                )
                return
            names.extend(layer.name for layer in layers)
        self.raise_window()
        reply({"ok": True, "layers": names})

    # -- the notebook's verbs (Qt thread; transfers in worker threads) ---------------
    def in_worker(self, work: Callable[[], Any], done: Callable[[Any], None], reply: Reply) -> None:
        """Run ``work`` in a worker thread, then ``done(result)`` on the Qt thread; an
        exception in either goes back to the client as the error."""

        def finish(result: Any) -> None:
            if isinstance(result, BaseException):
                reply({"ok": False, "error": napari_reason(result)})
                return
            try:
                done(result)
            except Exception as err:  # noqa: BLE001 - napari's reason goes back to the user
                reply({"ok": False, "error": napari_reason(err)})

        def run() -> None:
            try:
                result = work()
            except Exception as err:  # noqa: BLE001 - goes back to the user
                result = err
            self.bridge.call.emit(lambda: finish(result))

        threading.Thread(target=run, name="napari-desktop-transfer", daemon=True).start()

    def find(self, name: Any, reply: Reply) -> Any:
        """The layer called ``name``, or None after answering that it does not exist."""
        names = [layer.name for layer in self.viewer.layers]
        if isinstance(name, str) and name in names:
            return self.viewer.layers[name]
        listed = ", ".join(repr(n) for n in names) or "none"
        reply(
            {
                "ok": False,
                "missing": name,
                "names": names,
                "error": f"napari has no layer {name!r} (layers now: {listed})",
            }
        )
        return None

    def do_layers(self, request: dict[str, Any], reply: Reply) -> None:
        reply({"ok": True, "layers": [layer_details(layer) for layer in self.viewer.layers]})

    def do_get(self, request: dict[str, Any], reply: Reply) -> None:
        import numpy as np

        layer = self.find(request.get("name"), reply)
        if layer is None:
            return
        info = layer_details(layer)
        kind, level, limit = info["type"], request.get("level", 0), request.get("limit")
        if kind not in DATA_TYPES:
            reply(
                {
                    "ok": False,
                    "error": f"{kind} layers cannot be fetched (only {', '.join(DATA_TYPES)})",
                }
            )
            return
        if not isinstance(level, int) or isinstance(level, bool) or level < 0:
            reply({"ok": False, "error": "level must be a whole number, 0 = highest resolution"})
            return
        extra: dict[str, Any] = {}
        data = layer.data
        if info["multiscale"]:
            if level >= len(data):
                reply({"ok": False, "error": f"{layer.name!r} has levels 0 to {len(data) - 1}"})
                return
            data = data[level]
        elif level:
            reply({"ok": False, "error": f"{layer.name!r} is not multiscale: use level 0"})
            return
        if kind == "points":
            data = np.array(data)  # a copy: napari may replace it while it is written
        elif kind == "shapes":
            parts = [np.asarray(part) for part in data]
            data = np.concatenate(parts) if parts else np.zeros((0, layer.ndim))
            extra = {"lengths": [len(part) for part in parts], "shape_type": list(layer.shape_type)}
        nbytes = int(np.prod(data.shape)) * np.dtype(data.dtype).itemsize
        if isinstance(limit, int) and nbytes > limit:
            reply({"ok": False, "too_large": nbytes, "error": f"{layer.name!r} is {nbytes} bytes"})
            return
        free = shutil.disk_usage(os.path.dirname(str(request["file"]))).free
        if nbytes + (1 << 16) > free:
            reply({"ok": False, "no_room": [nbytes, free], "error": "no room for the file"})
            return
        answer = {
            "ok": True,
            "layer": info,
            "dtype": str(data.dtype),
            "shape": list(data.shape),
            "nbytes": nbytes,
            "level": level,
            **extra,
        }
        self.in_worker(
            lambda: save_array(str(request["file"]), data), lambda _: reply(answer), reply
        )

    def do_add(self, request: dict[str, Any], reply: Reply) -> None:
        kind, props = request.get("type"), request.get("props") or {}
        if kind not in DATA_TYPES:
            reply({"ok": False, "error": f"type must be one of {', '.join(DATA_TYPES)}"})
            return
        props = dict(props) if isinstance(props, dict) else props
        lengths: Any = props.pop("lengths", None) if isinstance(props, dict) else None
        shape_type: Any = props.pop("shape_type", "polygon") if isinstance(props, dict) else None
        # Before any file is read: napari's colors are checked on this (Qt's) thread.
        problem = check_props(kind, props, adding=True) or color_problem(props)
        if problem:
            reply({"ok": False, "error": problem})
            return
        if kind == "shapes":
            types = [shape_type] * len(lengths or []) if isinstance(shape_type, str) else shape_type
            if (
                not isinstance(types, list)
                or not all(t in SHAPE_TYPES for t in types)
                or (isinstance(lengths, list) and len(types) != len(lengths))
            ):
                reply(
                    {
                        "ok": False,
                        "error": f"shape_type must be one of {', '.join(SHAPE_TYPES)} "
                        "or a list of them, one per shape",
                    }
                )
                return

        files: Any = request.get("file")
        multiscale = isinstance(files, list)
        if multiscale and (kind not in ("image", "labels") or not 1 <= len(files) <= MAX_LEVELS):
            reply(
                {
                    "ok": False,
                    "error": f"only image and labels layers can be multiscale "
                    f"(a list of 1 to {MAX_LEVELS} levels, highest resolution first)",
                }
            )
            return

        timing = {"read_s": 0.0, "add_s": 0.0}

        def load() -> Any:
            started = time.perf_counter()
            levels = []
            for index, path in enumerate(files if multiscale else [files]):
                array = load_array(str(path))
                problem = check_data(kind, array, lengths)
                if problem:
                    raise ValueError(f"level {index}: {problem}" if multiscale else problem)
                levels.append(array)
            timing["read_s"] = round(time.perf_counter() - started, 3)
            return levels if multiscale else levels[0]

        def done(array: Any) -> None:
            started = time.perf_counter()
            before = list(self.viewer.layers)
            try:
                if multiscale:
                    layer = getattr(self.viewer, f"add_{kind}")(array, multiscale=True, **props)
                elif kind == "shapes":
                    starts = [sum(lengths[:i]) for i in range(len(lengths))]
                    parts = [array[start : start + n] for start, n in zip(starts, lengths)]
                    layer = self.viewer.add_shapes(parts, shape_type=types, **props)
                else:
                    layer = getattr(self.viewer, f"add_{kind}")(array, **props)
            except Exception:
                # napari may have added the layer before a setting failed: an answer that
                # says "refused" leaves nothing behind.
                for added in [each for each in self.viewer.layers if each not in before]:
                    self.viewer.layers.remove(added)
                raise
            timing["add_s"] = round(time.perf_counter() - started, 3)
            reply({"ok": True, "layer": layer_details(layer), "timing": timing})

        self.in_worker(load, done, reply)

    def do_update(self, request: dict[str, Any], reply: Reply) -> None:
        layer = self.find(request.get("name"), reply)
        if layer is None:
            return
        kind = type(layer).__name__.lower()
        props = request.get("props") or {}
        problem = check_props(kind, props, adding=False) or color_problem(props, layer)
        if problem:
            reply({"ok": False, "error": problem})
            return
        path = request.get("file")
        replaceable = kind == "points" or (
            kind in ("image", "labels") and not getattr(layer, "multiscale", False)
        )
        if path is not None and not replaceable:
            reply(
                {
                    "ok": False,
                    "error": f"the data of {kind} layer {layer.name!r} cannot be replaced "
                    "(that of image, labels and points layers, not multiscale, can)",
                }
            )
            return
        name = layer.name

        def apply(array: Any) -> None:
            if name not in [each.name for each in self.viewer.layers]:
                self.find(name, reply)  # removed in napari while the file was read
                return
            target = self.viewer.layers[name]
            old = {key: getattr(target, key) for key in props}
            try:
                for key, value in props.items():
                    try:
                        setattr(target, key, value)
                    except Exception as err:
                        raise ValueError(refusal(key, value, err)) from err
                if array is not None:
                    target.data = array
            except Exception:
                for key, value in old.items():  # refused: the layer as it was
                    with contextlib.suppress(Exception):
                        setattr(target, key, value)
                raise
            reply({"ok": True, "layer": layer_details(target)})

        if path is None:
            apply(None)
            return

        def load() -> Any:
            array = load_array(str(path))
            problem = check_data(kind, array)
            if problem:
                raise ValueError(problem)
            return array

        self.in_worker(load, apply, reply)

    def do_remove(self, request: dict[str, Any], reply: Reply) -> None:
        layer = self.find(request.get("name"), reply)
        if layer is None:
            return
        self.viewer.layers.remove(layer)
        reply({"ok": True})

    def do_screenshot(self, request: dict[str, Any], reply: Reply) -> None:
        image = self.viewer.screenshot(canvas_only=True, flash=False)
        path, png = str(request["file"]), request.get("format") == "png"
        save = (lambda: save_png(path, image)) if png else (lambda: save_array(path, image))
        self.in_worker(save, lambda _: reply({"ok": True, "shape": list(image.shape)}), reply)

    def viewer_state(self) -> dict[str, Any]:
        dims, camera = self.viewer.dims, self.camera()
        active = self.viewer.layers.selection.active
        return {
            "ok": True,
            "dims": {
                "ndim": dims.ndim,
                "ndisplay": dims.ndisplay,
                "current_step": [int(step) for step in dims.current_step],
                "range": [[float(v) for v in r] for r in dims.range],
                "axis_labels": list(dims.axis_labels),
            },
            "camera": {
                "center": [float(v) for v in camera.center],
                "zoom": float(camera.zoom),
                "angles": [float(v) for v in camera.angles],
                "perspective": float(camera.perspective),
            },
            "selected": [
                layer.name for layer in self.viewer.layers if layer in self.viewer.layers.selection
            ],
            "active": active.name if active is not None else None,
        }

    def camera(self) -> Any:
        scene = getattr(self.viewer, "scene", None)  # napari >= 0.9; viewer.camera before
        return scene.camera if scene is not None else self.viewer.camera

    def do_viewer(self, request: dict[str, Any], reply: Reply) -> None:
        reply(self.viewer_state())

    def do_set_viewer(self, request: dict[str, Any], reply: Reply) -> None:
        dims = request.get("dims") or {}
        camera = request.get("camera") or {}
        selected = request.get("selected")
        problem = check_viewer(dims, camera, self.viewer.dims.ndim)
        if "reset_view" in request and not isinstance(request["reset_view"], bool):
            problem = "reset_view must be true or false"
        if problem:
            reply({"ok": False, "error": problem})
            return
        layers = []
        if selected is not None:
            if isinstance(selected, str):
                selected = [selected]
            if not isinstance(selected, list):
                reply({"ok": False, "error": "selected must be a layer name or a list of them"})
                return
            for name in selected:
                layer = self.find(name, reply)
                if layer is None:
                    return
                layers.append(layer)
        if "ndisplay" in dims:
            self.viewer.dims.ndisplay = dims["ndisplay"]
        if "current_step" in dims:
            self.viewer.dims.current_step = tuple(dims["current_step"])
        for key in ("center", "zoom", "angles"):
            if key in camera:
                setattr(self.camera(), key, camera[key])
        if request.get("reset_view") is True:
            self.viewer.reset_view()
        if selected is not None:
            # napari's active layer is the one selected alone (None when several are).
            self.viewer.layers.selection.clear()
            self.viewer.layers.selection.active = layers[0] if layers else None
            self.viewer.layers.selection.update(layers)
        reply(self.viewer_state())

    def state(self) -> dict[str, Any]:
        dims = self.viewer.dims
        reading = None
        if self.reading is not None:
            reading = {
                "paths": [Path(p).name for p in self.reading],
                "for_s": round(time.monotonic() - self.reading_since, 1),
            }
        return {
            "ok": True,
            "version": self.version,
            "layers": [layer_info(layer) for layer in self.viewer.layers],
            "dims": {"ndim": dims.ndim, "current_step": list(dims.current_step)},
            "reading": reading,
            # Device pixels per Qt pixel: 2 when the page's Retina screen scaled the desktop.
            "scale": round(float(self.viewer.window._qt_window.devicePixelRatioF()), 2),
            "session": self.session_report() if self.session_report else None,
        }

    def raise_window(self) -> dict[str, Any]:
        window = self.viewer.window._qt_window
        if window.isMinimized():
            window.showMaximized()
        window.raise_()
        window.activateWindow()
        return {"ok": True}


# How far a maximized window's client area may be from the screen's free area: the window
# manager's borders and title bar (xfwm4: 5 px borders, a 29 px title).
FRAME_SLACK_X = 16
FRAME_SLACK_Y = 64


def window_fits(window: Any) -> bool:
    """False for a maximized window whose size is not its screen's."""
    if not window.isMaximized():
        return True
    free = window.screen().availableGeometry()
    size = window.size()
    return (
        abs(size.width() - free.width()) <= FRAME_SLACK_X
        and free.height() - FRAME_SLACK_Y <= size.height() <= free.height()
    )


def fill_free_area(window: Any) -> None:
    """Give the window its screen's free area. napari starts before the window manager (the
    session waits for it, supervisor/process.py), so for the first seconds nobody maximizes
    it: it would show at napari's own size in a corner of the page, then jump to full size
    when the window manager comes; and a screen resized meanwhile is not followed either."""
    window.setGeometry(window.screen().availableGeometry())


def size_hints_again(window: Any) -> None:
    """Qt keeps the window manager's size hints in the old scale's device pixels after the
    scale goes down (napari's minimum size at ratio 2 stays 674x1064 at ratio 1), and a
    window manager cannot fit a window taller than the screen into it: xfwm4 then leaves
    napari maximized at the old screen's size, twice the new one. Setting the minimum size
    anew makes Qt send the hints in the new scale."""
    from qtpy.QtCore import QSize

    handle = window.windowHandle()
    if handle is None:
        return
    minimum = handle.minimumSize()
    handle.setMinimumSize(QSize(0, 0))
    handle.setMinimumSize(minimum)


def follow_screen_scale(viewer: Any) -> None:
    """The desktop's scale changed (the page's XSETTINGS Xft/DPI: a Retina laptop, a window
    moved to another screen), and with it the screen's size. Qt lays napari's widgets out
    again by itself, but:

    - vispy keeps the canvas's old pixel size until its next resize, so the picture fills a
      corner of it: the size is redone as vispy does when a window moves to another screen;
    - Qt's size hints to the window manager stay in the old scale (``size_hints_again``):
      they are sent again, and a maximized window that did not get its screen's size
      meanwhile is maximized again.

    Done once things settle after the last change, and checked again a little later."""
    from qtpy.QtCore import Qt, QTimer

    window = viewer.window._qt_window
    native = viewer.window._qt_viewer.canvas._scene_canvas.native
    screen = native.screen() if hasattr(native, "screen") else None
    if screen is None:
        return

    def settle() -> None:
        try:
            size_hints_again(window)
            native.screen_changed(None)
            native.update()
            if not window_fits(window):
                print("[napari-desktop] napari's window is maximized again", file=sys.stderr)
                window.setWindowState(window.windowState() & ~Qt.WindowState.WindowMaximized)
                fill_free_area(window)  # what stays when no window manager runs yet
                QTimer.singleShot(100, window.showMaximized)
        except (AttributeError, RuntimeError) as err:  # another vispy, or napari closing
            print(f"[napari-desktop] napari not fitted to the new screen: {err}", file=sys.stderr)

    first = QTimer(window)
    first.setSingleShot(True)
    first.setInterval(300)
    first.timeout.connect(settle)
    again = QTimer(window)
    again.setSingleShot(True)
    again.setInterval(1500)
    again.timeout.connect(settle)

    def changed(*_: Any) -> None:
        first.start()
        again.start()

    screen.logicalDotsPerInchChanged.connect(changed)
    screen.geometryChanged.connect(changed)
    screen.availableGeometryChanged.connect(changed)


def serve(service: Service, socket_path: Path) -> Any:
    """Listen on ``socket_path`` (owner-only) with a QLocalServer on the Qt thread."""
    from qtpy.QtCore import QTimer
    from qtpy.QtNetwork import QLocalServer

    socket_path.unlink(missing_ok=True)
    server = QLocalServer()
    server.setSocketOptions(QLocalServer.SocketOption.UserAccessOption)
    if not server.listen(str(socket_path)):
        print(f"[napari-desktop] cannot listen on {socket_path}: {server.errorString()}")
        return None
    os.chmod(socket_path, 0o600)
    # Connections whose request is not read yet. Under load a readyRead can go missing
    # (seen with napari adding layers while requests arrive): a sweep reads what is there.
    waiting: dict[int, Callable[[], None]] = {}

    def on_connection() -> None:
        while server.hasPendingConnections():
            conn = server.nextPendingConnection()
            if conn is None:
                return
            key = id(conn)
            buffer = bytearray()

            def reply(answer: dict[str, Any], conn: Any = conn) -> None:
                # A client that gave up (the server's timeout) has gone: nothing to answer.
                try:
                    conn.write(json.dumps(answer).encode() + b"\n")
                    conn.flush()
                    conn.disconnectFromServer()
                except RuntimeError:
                    pass

            def on_ready(
                conn: Any = conn, buffer: bytearray = buffer, key: int = key, reply: Reply = reply
            ) -> None:
                if key not in waiting:
                    return
                try:
                    buffer.extend(bytes(conn.readAll()))
                except RuntimeError:  # deleted: the client went away
                    waiting.pop(key, None)
                    return
                if b"\n" not in buffer and len(buffer) < MAX_REQUEST:
                    return
                waiting.pop(key, None)
                line = bytes(buffer).split(b"\n", 1)[0]
                try:
                    request = json.loads(line)
                    if not isinstance(request, dict):
                        raise ValueError("request must be a JSON object")
                except ValueError as err:
                    reply({"ok": False, "error": f"bad request: {err}"})
                    return
                service.handle(request, reply)

            waiting[key] = on_ready
            conn.readyRead.connect(on_ready)
            conn.disconnected.connect(lambda key=key: waiting.pop(key, None))
            conn.disconnected.connect(conn.deleteLater)
            on_ready()  # the request may be there already
            if waiting and not timer.isActive():
                timer.start()

    def sweep() -> None:
        for on_ready in list(waiting.values()):
            on_ready()
        if not waiting:
            timer.stop()

    server.newConnection.connect(on_connection)
    # The sweep runs only while a request is unread: an idle napari is not woken 5 times a
    # second (what idle desktops cost on a shared machine, benchmarks/idle_cost.py).
    timer = QTimer(server)
    timer.setInterval(200)
    timer.timeout.connect(sweep)
    return server


def start_keeping(viewer: Any, service: Service, runtime: Path, version: str) -> None:
    """Keep napari's session in the user's home and bring the last one back
    (session_keep.py, beside this file), as the server asked in keep.json."""
    try:
        from . import session_keep  # imported as a package module (the tests)
    except ImportError:
        import session_keep  # type: ignore[no-redef]  # run as a script: sys.path[0]

    keeper = session_keep.start(viewer, service, runtime, version)
    if keeper is not None:
        service.session_report = keeper.report


def main(argv: list[str] | None = None) -> int:
    args = parse_args(sys.argv[1:] if argv is None else argv)
    # `kill -USR2 <napari pid>` writes every thread's stack to the desktop log (a stuck read).
    faulthandler.register(signal.SIGUSR2, all_threads=True)
    faulthandler.enable()  # and on a crash (SIGSEGV in Qt or OpenGL), with napari's stack
    # Images that set QT_QPA_PLATFORM=offscreen for headless Qt would give an invisible window.
    os.environ["QT_QPA_PLATFORM"] = "xcb"
    runtime = runtime_dir()
    if runtime is not None:
        (runtime / "napari.pid").write_text(str(os.getpid()))
    import napari

    viewer = napari.Viewer()
    window = viewer.window._qt_window
    follow_screen_scale(viewer)
    if not args.no_maximize:
        fill_free_area(window)
        window.showMaximized()
    for path in args.paths:
        try:
            viewer.open(path, plugin=args.plugin)
        except Exception as err:  # noqa: BLE001 - a bad file must not stop napari
            print(f"[napari-desktop] could not open {path}: {err}", file=sys.stderr)
    server = None
    if runtime is not None:
        service = Service(viewer, napari.__version__)
        server = serve(service, runtime / "napari.sock")
        start_keeping(viewer, service, runtime, napari.__version__)
    napari.run()
    if server is not None:
        server.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
