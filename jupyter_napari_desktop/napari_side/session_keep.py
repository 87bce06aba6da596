"""napari's session kept as it happens, and brought back when napari starts again.

Runs in napari's Python beside napari_helper.py (its folder is ``sys.path[0]`` there), and
imports nothing of this package. The top half is pure (stdlib and numpy: the session's files,
their names, rotation, reading one back with what was skipped), unit-tested without napari;
``Keeper`` (the bottom half) watches napari's layers on the Qt thread and writes from a
worker thread.

On disk, one folder per napari run under the sessions folder (``napari-sessions`` in the
Jupyter root or the home, unless ``c.NapariDesktop.session_dir`` says otherwise)::

    sessions/2026-12-04T04-50-00Z-4242/
        session.json          the viewer's state (below), written last, atomically
        L1-3.npy              layer L1's data at its 3rd saved version (numpy .npy)
        L2-1.vertices.npy     a shapes layer: every vertex, one shape after the other

``session.json`` lists the layers bottom to top: ``name``, ``type``, ``props`` (visible,
opacity, blending, scale, translate, colormap, contrast limits, ...), and either ``files``
(data kept here: {"data": "L1-3.npy"}) or ``source`` (opened from a file, not edited since:
{"path", "plugin"}), plus ``dims``, ``camera``, ``selected`` and ``active``. A data file is
never rewritten: a new version gets a new name, ``session.json`` is replaced in one
``os.replace``, and only then are the files it no longer names removed. A kill at any moment
leaves the previous ``session.json`` with every file it names.
"""

from __future__ import annotations

import json
import math
import os
import re
import secrets
import shutil
import stat
import sys
import threading
import time
from pathlib import Path
from typing import Any, Callable, Optional

import numpy as np

FORMAT = 1
STATE_FILE = "session.json"
SESSION_RE = re.compile(r"^\d{4}-\d\d-\d\dT\d\d-\d\d-\d\dZ-\d+$")
KEPT_TYPES = ("image", "labels", "points", "shapes", "surface", "tracks", "vectors")
COMMON_PROPS = ("visible", "opacity", "blending", "scale", "translate", "rotate")
TYPE_PROPS: dict[str, tuple[str, ...]] = {
    "image": ("colormap", "contrast_limits", "gamma", "interpolation2d", "rendering"),
    "labels": ("selected_label", "contour"),
    "points": ("symbol",),
    "shapes": ("edge_width",),
    "surface": ("colormap", "contrast_limits", "gamma"),
    "tracks": ("tail_width", "tail_length", "head_length", "color_by", "colormap"),
    "vectors": ("edge_width", "length", "vector_style"),
}
# Per-element arrays kept beside the data (as .npy, like the data).
ARRAY_PROPS: dict[str, tuple[str, ...]] = {
    "points": ("size", "face_color", "border_color"),
    "shapes": ("edge_color", "face_color"),
    "vectors": ("edge_color",),
}
# Events that change a layer's data, and those that change only what session.json holds.
DATA_EVENTS = ("data", "paint", "labels_update")
STATE_EVENTS = (
    "name",
    "visible",
    "opacity",
    "blending",
    "scale",
    "translate",
    "rotate",
    "colormap",
    "contrast_limits",
    "gamma",
    "interpolation2d",
    "rendering",
    "selected_label",
    "contour",
    "symbol",
    "size",
    "face_color",
    "border_color",
    "edge_color",
    "edge_width",
    "tail_width",
    "tail_length",
    "head_length",
    "color_by",
    "length",
    "vector_style",
)


# -- pure: names, files, rotation, reading back --------------------------------------
def session_name(now: float, pid: int) -> str:
    """A session folder's name: the UTC time it began, then napari's pid (unique, sortable)."""
    return time.strftime("%Y-%m-%dT%H-%M-%SZ", time.gmtime(now)) + f"-{pid}"


def list_sessions(root: Path) -> list[Path]:
    """The session folders under ``root``, newest first (other files and folders ignored)."""
    try:
        found = [p for p in root.iterdir() if p.is_dir() and SESSION_RE.match(p.name)]
    except OSError:
        return []
    return sorted(found, key=lambda p: p.name, reverse=True)


def prune(root: Path, keep: int, protect: tuple[Path, ...] = (), now: float = 0.0) -> list[Path]:
    """Remove the session folders older than the ``keep`` newest that have a session.json
    (never one in ``protect``); a folder without one (its napari was stopped before its
    first save ended) goes once it is an hour old. Return those removed."""
    removed, good = [], 0
    now = now or time.time()
    for folder in list_sessions(root):
        if folder in protect:
            continue
        if (folder / STATE_FILE).exists():
            good += 1
            if good <= max(keep, 1):
                continue
        else:
            try:
                if now - folder.stat().st_mtime < 3600:
                    continue
            except OSError:
                continue
        shutil.rmtree(folder, ignore_errors=True)
        removed.append(folder)
    return removed


def jsonable(value: Any) -> Any:
    """``value`` with numpy arrays, scalars and tuples made plain JSON."""
    if isinstance(value, np.ndarray):
        return jsonable(value.tolist())
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, (list, tuple)):
        return [jsonable(v) for v in value]
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, float) and not np.isfinite(value):
        return None
    return value


def write_atomic(path: Path, write: Callable[[Any], None]) -> None:
    """Write ``path`` through a temporary file in its folder, flushed to disk, then put in
    place with one ``os.replace``: a reader (or a kill) sees the old file or the new one."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{threading.get_ident()}.tmp")
    try:
        with open(tmp, "wb") as handle:
            write(handle)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def write_array(path: Path, array: Any) -> None:
    write_atomic(path, lambda handle: np.lib.format.write_array(handle, array, allow_pickle=False))


def write_state(folder: Path, state: dict[str, Any]) -> None:
    text = json.dumps(jsonable(state), indent=1).encode()
    write_atomic(folder / STATE_FILE, lambda handle: handle.write(text))


def link_or_copy(source: Path, target: Path) -> None:
    """``target`` with ``source``'s content: a hard link (no disk used) or, across file
    systems, a copy written atomically."""
    if target.exists():
        return
    try:
        os.link(source, target)
    except OSError:
        write_atomic(target, lambda handle: handle.write(source.read_bytes()))


def files_named(state: dict[str, Any]) -> set[str]:
    """Every data file ``state`` names."""
    names: set[str] = set()
    for entry in state.get("layers", []):
        if isinstance(entry, dict) and isinstance(entry.get("files"), dict):
            names.update(str(v) for v in entry["files"].values())
    return names


def remove_unnamed(folder: Path, state: dict[str, Any]) -> None:
    """Remove the data files of ``folder`` that ``state`` (just written) no longer names,
    and temporary files left by a save that was killed."""
    keep = files_named(state) | {STATE_FILE}
    for path in folder.iterdir():
        if path.name not in keep and (path.suffix == ".npy" or path.name.endswith(".tmp")):
            path.unlink(missing_ok=True)


class BadSession(Exception):
    """A session folder whose session.json cannot be read."""


def read_state(folder: Path) -> dict[str, Any]:
    """``folder``'s session.json; BadSession saying why it cannot be used."""
    try:
        state = json.loads((folder / STATE_FILE).read_text())
    except FileNotFoundError as err:
        raise BadSession(
            f"{folder.name}: no {STATE_FILE} (napari stopped before its first save)"
        ) from err
    except (OSError, ValueError) as err:
        raise BadSession(f"{folder.name}/{STATE_FILE} cannot be read: {err}") from err
    if not isinstance(state, dict) or not isinstance(state.get("layers"), list):
        raise BadSession(f"{folder.name}/{STATE_FILE} is not a napari-desktop session")
    if state.get("format", 0) > FORMAT:
        raise BadSession(
            f"{folder.name} was saved in format {state.get('format')} by a newer "
            f"jupyter-napari-desktop (this one reads format {FORMAT})"
        )
    return state


def pick_latest(
    root: Path, skip: Optional[Path] = None
) -> tuple[Optional[Path], dict[str, Any], list[str]]:
    """The newest session under ``root`` that can be read, ``skip`` aside: (folder, state, why
    newer ones were passed over). Folders without session.json (nothing was saved) are
    passed over silently. (None, {}, reasons) when there is none."""
    passed: list[str] = []
    for folder in list_sessions(root):
        if folder == skip:
            continue
        try:
            return folder, read_state(folder), passed
        except BadSession as err:
            if (folder / STATE_FILE).exists():
                passed.append(str(err))
    return None, {}, passed


def check_entry(entry: Any) -> Optional[str]:
    """Why a layer entry of session.json cannot be rebuilt (None when it may be)."""
    if not isinstance(entry, dict) or not isinstance(entry.get("name"), str):
        return "not a layer entry"
    if entry.get("type") not in KEPT_TYPES:
        return f"unknown layer type {entry.get('type')!r}"
    files, source = entry.get("files"), entry.get("source")
    if isinstance(files, dict) and files:
        if not all(
            isinstance(v, str) and "/" not in v and v.endswith(".npy") for v in files.values()
        ):
            return "bad data file names"
        return None
    if isinstance(source, dict) and isinstance(source.get("path"), str):
        return None
    return "neither data files nor a source file"


def load_arrays(folder: Path, files: dict[str, str]) -> dict[str, Any]:
    """The arrays of one layer entry (worker thread); OSError/ValueError name the file."""
    arrays = {}
    for key, name in files.items():
        try:
            with open(folder / name, "rb") as handle:
                arrays[key] = np.load(handle, allow_pickle=False)
        except MemoryError as err:  # a header that claims more than the machine holds
            raise ValueError(f"{name}: too large to load here ({err})") from err
        except (OSError, ValueError, EOFError) as err:
            raise ValueError(f"{name}: {err}") from err
    return arrays


def load_session(folder: Any = None, root: Any = None) -> dict[str, Any]:
    """A saved session read back without napari (e.g. in a notebook): {layer name: {"type",
    "props", "data" (array or None for a layer opened from a file), "source"}} in layer
    order; ``folder`` a session folder, else the newest one under ``root``."""
    path = Path(folder).expanduser() if folder else pick_latest(Path(root).expanduser())[0]
    if path is None:
        raise BadSession(f"no saved session under {root}")
    state = read_state(path)
    layers = {}
    for entry in state["layers"]:
        if check_entry(entry):
            continue
        arrays = load_arrays(path, entry.get("files") or {})
        layers[entry["name"]] = {
            "type": entry["type"],
            "props": entry.get("props", {}),
            "data": arrays.get("data"),
            "source": entry.get("source"),
            "arrays": arrays,
        }
    return layers


def describe(state: dict[str, Any]) -> dict[str, Any]:
    return {
        "saved_at": state.get("saved_at"),
        "layers": [e.get("name") for e in state.get("layers", []) if isinstance(e, dict)],
    }


# -- napari: what a layer is made of and how it is made again (Qt thread) ------------
def kind_of(layer: Any) -> str:
    return type(layer).__name__.lower()


def layer_arrays(layer: Any) -> Optional[dict[str, Any]]:
    """Copies of the arrays that make ``layer`` (Qt thread: fast copies, written later by
    the worker); None when its data is not in memory (lazy: dask, zarr)."""
    kind, data = kind_of(layer), layer.data
    arrays: dict[str, Any] = {}
    if kind in ("image", "labels"):
        if getattr(layer, "multiscale", False):
            if not all(isinstance(level, np.ndarray) for level in data):
                return None
            arrays.update({f"level{i}": np.array(level) for i, level in enumerate(data)})
        elif isinstance(data, np.ndarray):
            arrays["data"] = np.array(data)
        else:
            return None
    elif kind == "shapes":
        parts = [np.asarray(part) for part in data]
        arrays["vertices"] = np.concatenate(parts) if parts else np.zeros((0, layer.ndim))
        arrays["lengths"] = np.array([len(p) for p in parts], dtype=np.int64)
    elif kind == "surface":
        for name, part in zip(("vertices", "faces", "values"), data):
            arrays[name] = np.array(part)
    else:
        arrays["data"] = np.array(data)
    for prop in ARRAY_PROPS.get(kind, ()):
        value = getattr(layer, prop, None)
        if value is not None:
            arrays[prop] = np.array(value)
    return arrays


def layer_props(layer: Any) -> dict[str, Any]:
    """The settings session.json keeps of ``layer`` (plain JSON)."""
    kind = kind_of(layer)
    props: dict[str, Any] = {}
    for prop in COMMON_PROPS + TYPE_PROPS.get(kind, ()):
        value: Any = getattr(layer, prop, None)
        if prop == "colormap" and value is not None and hasattr(value, "name"):
            colors = getattr(value, "colors", None)
            value = {"name": value.name, "colors": colors.tolist() if colors is not None else None}
        elif hasattr(value, "value") and not isinstance(value, (np.ndarray, str)):
            value = value.value  # a napari StringEnum
        try:
            value = jsonable(value)
            json.dumps(value)
        except (TypeError, ValueError):
            continue
        props[prop] = value
    if kind == "image":
        props["rgb"] = bool(getattr(layer, "rgb", False))
    if kind == "shapes":
        props["shape_type"] = list(layer.shape_type)
    return props


def history_mark(layer: Any) -> tuple[int, int]:
    """Where a labels layer's undo history stands: it changes with each stroke, undo, redo."""
    return (len(getattr(layer, "_undo_history", ())), len(getattr(layer, "_redo_history", ())))


def make_layer(kind: str, name: str, arrays: dict[str, Any], props: dict[str, Any]) -> Any:
    """A napari layer from kept arrays (Qt thread); its props are applied by apply_props."""
    import napari.layers

    cls = getattr(napari.layers, kind.capitalize())
    if kind in ("image", "labels"):
        levels = [arrays[f"level{i}"] for i in range(len(arrays)) if f"level{i}" in arrays]
        extra = {"rgb": props.get("rgb", False)} if kind == "image" else {}
        if levels:
            return cls(levels, name=name, multiscale=True, **extra)
        return cls(arrays["data"], name=name, **extra)
    if kind == "shapes":
        vertices, lengths = arrays["vertices"], [int(n) for n in arrays["lengths"]]
        starts = np.cumsum([0, *lengths])[:-1]
        parts = [vertices[s : s + n] for s, n in zip(starts, lengths)]
        return cls(parts, shape_type=props.get("shape_type") or "polygon", name=name)
    if kind == "surface":
        surface = tuple(arrays[k] for k in ("vertices", "faces", "values") if k in arrays)
        return cls(surface, name=name)
    return cls(arrays["data"], name=name)


def sane_view(value: Any) -> bool:
    """Whether a kept camera center or zoom can be shown: finite numbers, from 1e-12 (the
    zoom) to 1e12 in size (napari_helper's LARGEST and SMALLEST)."""
    values = value if isinstance(value, list) else [value]
    return all(
        isinstance(v, (int, float))
        and not isinstance(v, bool)
        and math.isfinite(v)
        and abs(v) <= 1e12
        for v in values
    ) and (isinstance(value, list) or abs(value) >= 1e-12)


def apply_props(layer: Any, props: dict[str, Any], arrays: dict[str, Any]) -> list[str]:
    """Set the kept settings on ``layer``; return what could not be set, with napari's reason
    (a session from another napari may name settings this one lacks)."""
    failed = []
    kind = kind_of(layer)
    for prop in ARRAY_PROPS.get(kind, ()):
        if prop in arrays and hasattr(layer, prop):
            try:
                setattr(layer, prop, arrays[prop])
            except Exception as err:  # noqa: BLE001 - one setting must not lose the layer
                failed.append(f"{prop}: {err}")
    for prop, value in props.items():
        if prop in ("rgb", "shape_type") or not hasattr(layer, prop):
            continue
        try:
            if prop == "colormap" and isinstance(value, dict):
                value = colormap_value(value)
            setattr(layer, prop, value)
        except Exception as err:  # noqa: BLE001 - one setting must not lose the layer
            failed.append(f"{prop}: {err}")
    return failed


def colormap_value(value: dict[str, Any]) -> Any:
    """A colormap by name if napari knows it, else made from its kept colors."""
    from napari.utils.colormaps import AVAILABLE_COLORMAPS, Colormap

    name = value.get("name")
    if name in AVAILABLE_COLORMAPS or not value.get("colors"):
        return name
    return Colormap(value["colors"], name=str(name))


def log(message: str) -> None:
    print(f"[napari-desktop] {message}", file=sys.stderr, flush=True)


class Keeper:
    """Keeps napari's session in a folder as it happens; brings the latest back at start.

    Every method runs on the Qt thread except ``_write`` (a worker thread). Edits restart a
    single-shot QTimer (``delay_s``); when it fires during a brush stroke (labels'
    ``_block_history``) it waits again. A save copies only the layers whose data changed
    since their last save, then writes them and session.json from a worker thread.
    """

    def __init__(self, viewer: Any, options: dict[str, Any], napari_version: str) -> None:
        from qtpy.QtCore import QObject, QTimer, Signal

        class Bridge(QObject):
            call = Signal(object)

        self.viewer = viewer
        self.version = napari_version
        self.root = Path(options["dir"]).expanduser()
        self.keep = int(options.get("keep", 5))
        self.delay_ms = int(float(options.get("delay_s", 3.0)) * 1000)
        self.folder: Optional[Path] = None  # this run's session folder, made at its first save
        self.entries: dict[int, dict[str, Any]] = {}  # id(layer) -> what was saved of it
        self.next_uid = 1
        self.token = secrets.token_hex(3)
        self.saving = False
        self.again = False
        self.last_save: dict[str, Any] = {}
        self.error: Optional[str] = None
        self.restored: Optional[dict[str, Any]] = None
        self.restoring = False
        self.save_empty = False  # Start empty: save a session without layers
        self.bridge = Bridge()
        self.bridge.call.connect(lambda function: function())
        self.timer = QTimer()
        self.timer.setSingleShot(True)
        self.timer.timeout.connect(self.save)
        self.retry = QTimer()
        self.retry.setSingleShot(True)
        self.retry.setInterval(30_000)
        self.retry.timeout.connect(self.save)

    # -- watching napari ---------------------------------------------------------------
    def watch(self) -> None:
        layers = self.viewer.layers
        layers.events.inserted.connect(lambda event: self._watch_layer(event.value))
        layers.events.removed.connect(lambda event: self._forget(event.value))
        layers.events.moved.connect(self.changed)
        layers.selection.events.changed.connect(self.changed)
        dims = self.viewer.dims.events
        for name in ("current_step", "ndisplay", "order"):
            getattr(dims, name).connect(self.changed)
        camera = self.camera().events
        for name in ("center", "zoom", "angles"):
            getattr(camera, name).connect(self.changed)
        for layer in layers:
            self._watch_layer(layer)

    def camera(self) -> Any:
        scene = getattr(self.viewer, "scene", None)  # napari >= 0.9; viewer.camera before
        return scene.camera if scene is not None else self.viewer.camera

    def _watch_layer(self, layer: Any) -> None:
        entry = self.entries.setdefault(id(layer), self._new_entry(layer))
        entry["layer"] = layer
        for name in DATA_EVENTS:
            emitter = getattr(layer.events, name, None)
            if emitter is not None:
                emitter.connect(lambda event, entry=entry: self._data_changed(entry))
        for name in STATE_EVENTS:
            emitter = getattr(layer.events, name, None)
            if emitter is not None:
                emitter.connect(self.changed)
        if kind_of(layer) == "labels":
            # Undo and redo emit no data event, only a refresh (set_data): a save then
            # finds the undo history changed (history_mark).
            layer.events.set_data.connect(lambda event, entry=entry: self._maybe_undone(entry))
        self.changed()

    def _maybe_undone(self, entry: dict[str, Any]) -> None:
        layer = entry.get("layer")
        if layer is not None and entry.get("history") != history_mark(layer):
            self.changed()

    def _new_entry(self, layer: Any) -> dict[str, Any]:
        uid = f"L{self.next_uid}{self.token}"  # unique across runs: files are linked on
        self.next_uid += 1
        source = getattr(layer, "source", None)
        path = getattr(source, "path", None)
        kept_source = {"path": str(path), "plugin": getattr(source, "reader_plugin", None)}
        # edits: data changes so far; saved: the edits count the files hold; files: their
        # names (in ``where``, this run's folder or the one restored from)
        return {
            "uid": uid,
            "version": 0,
            "edits": 0,
            "saved": 0 if path else -1,
            "files": {},
            "where": None,
            "source": kept_source if path else None,
            "history": history_mark(layer),
        }

    def _forget(self, layer: Any) -> None:
        self.entries.pop(id(layer), None)
        self.changed()

    def _data_changed(self, entry: dict[str, Any]) -> None:
        entry["edits"] += 1
        self.changed()

    def changed(self, *_: Any) -> None:
        if not self.restoring:
            self.timer.start(self.delay_ms)

    # -- saving --------------------------------------------------------------------------
    def mid_stroke(self) -> bool:
        return any(getattr(layer, "_block_history", False) for layer in self.viewer.layers)

    def save(self) -> None:
        """Copy what changed (Qt thread), then write it from a worker thread."""
        if self.restoring:
            return
        if self.saving:
            self.again = True
            return
        if self.mid_stroke():
            self.timer.start(self.delay_ms)
            return
        started = time.perf_counter()
        now = time.time()
        if self.folder is None and not len(self.viewer.layers) and not self.save_empty:
            return  # no folder for a napari that never had a layer
        self.save_empty = False
        if self.folder is None:
            self.folder = self.new_folder(now)
        folder = self.folder
        writes: list[tuple[Path, Any]] = []
        links: list[tuple[Path, Path]] = []
        layers, skipped, done = [], [], []
        for layer in self.viewer.layers:
            entry = self.entries.get(id(layer))
            if entry is None:
                continue
            kind = kind_of(layer)
            if kind == "labels" and entry.get("history") != history_mark(layer):
                entry["history"] = history_mark(layer)  # a stroke, an undo or a redo
                entry["edits"] += 1
            item: dict[str, Any] = {"name": layer.name, "type": kind, "props": layer_props(layer)}
            if entry["saved"] == entry["edits"] and entry["source"] and not entry["files"]:
                item["source"] = entry["source"]  # an unchanged file: kept by its path
            elif entry["saved"] == entry["edits"] and entry["files"]:
                item["files"] = entry["files"]
                if entry["where"] != folder:
                    links.extend((entry["where"] / n, folder / n) for n in entry["files"].values())
            else:
                arrays = layer_arrays(layer) if kind in KEPT_TYPES else None
                if arrays is None:
                    if entry["source"]:
                        item["source"] = entry["source"]
                        skipped.append(f"{layer.name}: edits of lazy data are not kept")
                    else:
                        skipped.append(f"{layer.name}: {kind} data not in memory, not kept")
                        continue
                else:
                    version = entry["version"] + 1
                    files = {key: f"{entry['uid']}-{version}.{key}.npy" for key in arrays}
                    if "data" in files:
                        files["data"] = f"{entry['uid']}-{version}.npy"
                    writes.extend((folder / files[key], arrays[key]) for key in arrays)
                    item["files"] = files
                    done.append((entry, version, entry["edits"], files))
            layers.append(item)
        state = {
            "format": FORMAT,
            "saved_at": now,
            "napari": self.version,
            "layers": layers,
            "not_kept": skipped,
            **self.viewer_state(),
        }
        copy_s = time.perf_counter() - started
        self.saving = True

        def work() -> None:
            began = time.perf_counter()
            try:
                folder.mkdir(parents=True, exist_ok=True)
                for source, target in links:
                    link_or_copy(source, target)
                for path, array in writes:
                    write_array(path, array)
                write_state(folder, state)
                remove_unnamed(folder, state)
                prune(self.root, self.keep, protect=(folder,))
                result: Any = time.perf_counter() - began
            except OSError as err:
                result = err
            self.bridge.call.emit(lambda: self._saved(result, folder, state, done, copy_s, writes))

        threading.Thread(target=work, name="napari-desktop-keep", daemon=True).start()

    def _saved(
        self,
        result: Any,
        folder: Path,
        state: dict[str, Any],
        done: list[Any],
        copy_s: float,
        writes: list[Any],
    ) -> None:
        self.saving = False
        if isinstance(result, OSError):
            self.error = f"napari's session could not be saved in {folder}: {result}"
            log(self.error)
            self.retry.start()
        else:
            self.error = None
            for entry, version, edits, files in done:
                entry.update(version=version, saved=edits, files=files, where=folder)
            for entry in self.entries.values():
                if entry["files"]:
                    entry["where"] = folder
            self.last_save = {
                "at": state["saved_at"],
                "layers": len(state["layers"]),
                "written_bytes": int(sum(a.nbytes for _, a in writes)),
                "qt_s": round(copy_s, 4),
                "write_s": round(float(result), 4),
                "not_kept": state["not_kept"],
            }
        if self.again:
            self.again = False
            self.timer.start(self.delay_ms)

    def new_folder(self, now: float) -> Path:
        """A session folder's path no other session has (a second later if need be)."""
        stamp = now
        while (self.root / session_name(stamp, os.getpid())).exists():
            stamp += 1
        return self.root / session_name(stamp, os.getpid())

    def viewer_state(self) -> dict[str, Any]:
        dims, camera = self.viewer.dims, self.camera()
        selection = self.viewer.layers.selection
        active = selection.active
        return {
            "dims": {
                "ndisplay": dims.ndisplay,
                "current_step": [int(s) for s in dims.current_step],
                "order": [int(o) for o in dims.order],
            },
            "camera": {
                "center": [float(v) for v in camera.center],
                "zoom": float(camera.zoom),
                "angles": [float(v) for v in camera.angles],
            },
            "selected": [layer.name for layer in self.viewer.layers if layer in selection],
            "active": active.name if active is not None else None,
        }

    # -- bringing back -----------------------------------------------------------------
    def restore(self, done: Callable[[], None]) -> None:
        """Bring back the newest session that can be read: its files are read in a worker
        thread, its layers made on the Qt thread; ``done`` is called after (always)."""
        started = time.perf_counter()
        folder, state, passed = pick_latest(self.root)
        for reason in passed:
            log(f"session passed over: {reason}")
        if folder is None:
            if passed:
                self.restored = {"from": None, "layers": [], "skipped": passed, "seconds": 0.0}
            done()
            return
        self._restore_from(folder, state, passed, started, done)

    def open(self, which: str, done: Callable[[Optional[str]], None]) -> None:
        """Show a kept session in place of napari's layers (desktop_viewer's
        ``open_session``): ``which`` is "latest" (the newest session that can be read, other
        than the one napari writes now) or a session folder's path. The layers shown until
        now stay in their own session on disk; what is opened is saved in a new session.
        ``done`` gets None, or why nothing was opened."""
        if self.timer.isActive():  # edits not saved yet: saved first, in their session
            self.timer.stop()
            self.save()
        if self.saving or self.restoring or self.timer.isActive():
            from qtpy.QtCore import QTimer  # (a save in flight would name the old folder)

            QTimer.singleShot(50, lambda: self.open(which, done))
            return
        started = time.perf_counter()
        if which == "latest":
            folder, state, passed = pick_latest(self.root, skip=self.folder)
            if folder is None:
                done(
                    f"no kept session under {self.root} can be read"
                    + "".join(f"; {reason}" for reason in passed)
                )
                return
        else:
            folder, passed = Path(which), []
            try:
                state = read_state(folder)
            except BadSession as err:
                done(str(err))
                return
        self._begin_anew()

        def finished() -> None:
            self.changed()  # saved in a new session, the files linked from ``folder``
            done(None)

        self._restore_from(folder, state, passed, started, finished)

    def _restore_from(
        self,
        folder: Path,
        state: dict[str, Any],
        passed: list[str],
        started: float,
        done: Callable[[], None],
    ) -> None:
        """Read ``folder``'s files in a worker thread, make its layers on the Qt thread."""
        self.restoring = True
        entries = state["layers"]
        # A file napari opened at this start (NapariDesktop.napari_args) that the session
        # kept too is that layer: not read and added again (a copy more at every restart).
        opened = match_opened(entries, list(self.viewer.layers))

        def work() -> None:
            loaded: list[Any] = []
            try:
                for index, entry in enumerate(entries):
                    problem = check_entry(entry)
                    if index in opened:
                        loaded.append(opened[index])  # the open layer: nothing to read
                    elif problem:
                        loaded.append(ValueError(problem))
                    elif entry.get("files"):
                        try:
                            loaded.append(load_arrays(folder, entry["files"]))
                        except Exception as err:  # noqa: BLE001 - skipped, with its reason
                            loaded.append(err)
                    else:
                        loaded.append(read_source(entry["source"]))
            finally:
                # Whatever happened, the restore ends (a layer not read is skipped): a
                # restore that never ends keeps napari's layers away for good.
                loaded += [RuntimeError("not read")] * (len(entries) - len(loaded))
                self.bridge.call.emit(lambda: finish(loaded))

        def finish(loaded: list[Any]) -> None:
            try:
                self._rebuild(folder, state, entries, loaded, passed, started, opened)
            finally:
                self.restoring = False
                done()

        threading.Thread(target=work, name="napari-desktop-restore", daemon=True).start()

    def _rebuild(
        self,
        folder: Path,
        state: dict[str, Any],
        entries: list[Any],
        loaded: list[Any],
        passed: list[str],
        started: float,
        opened: dict[int, Any],
    ) -> None:
        names, skipped, sources = [], list(passed), []
        for index, (entry, result) in enumerate(zip(entries, loaded)):
            name = entry.get("name") if isinstance(entry, dict) else None
            try:
                if isinstance(result, BaseException):
                    raise result
                props = entry.get("props") or {}
                if index in opened:
                    layer = result
                    layer.name = str(name)  # as the session had it (renamed, perhaps)
                elif entry.get("files"):
                    layer = make_layer(entry["type"], str(name), result, props)
                else:
                    layer = pick_source_layer(result, entry)
                failed = apply_props(layer, props, result if entry.get("files") else {})
                if index not in opened:
                    self.viewer.add_layer(layer)
            except Exception as err:  # noqa: BLE001 - a bad layer must not stop the others
                skipped.append(f"{name or '?'}: {err}")
                log(f"could not restore layer {name!r} from {folder}: {err}")
                continue
            saved = self.entries.setdefault(id(layer), self._new_entry(layer))
            if entry.get("files"):
                saved.update(files=dict(entry["files"]), where=folder, source=None)
            saved["saved"] = saved["edits"] = 0
            saved["history"] = history_mark(layer)
            names.append(layer.name)
            if saved["source"]:
                sources.append(saved["source"]["path"])
            skipped.extend(f"{layer.name}: {reason}" for reason in failed)
        try:
            self._apply_viewer(state, skipped)
        except Exception as err:  # noqa: BLE001 - the layers are there; the view is not
            skipped.append(f"viewer: {err}")
        self.restored = {
            "from": folder.name,
            "saved_at": state.get("saved_at"),
            "napari": state.get("napari"),
            "layers": names,
            "sources": sources,
            "skipped": skipped,
            "seconds": round(time.perf_counter() - started, 2),
        }
        log(
            f"restored {len(names)} layers from {folder}"
            + (f"; skipped: {'; '.join(skipped)}" if skipped else "")
        )

    def _apply_viewer(self, state: dict[str, Any], skipped: list[str]) -> None:
        dims, camera = state.get("dims") or {}, state.get("camera") or {}
        for part, value in (("dims", dims), ("camera", camera)):
            if not isinstance(value, dict):
                skipped.append(f"viewer {part}: {str(value)[:80]!r} is not a JSON object")
        dims = dims if isinstance(dims, dict) else {}
        camera = camera if isinstance(camera, dict) else {}
        steps: list[tuple[Any, str, Any]] = [
            (self.viewer.dims, "ndisplay", dims.get("ndisplay")),
            (self.viewer.dims, "order", dims.get("order")),
            (self.viewer.dims, "current_step", dims.get("current_step")),
            (self.camera(), "center", camera.get("center")),
            (self.camera(), "zoom", camera.get("zoom")),
            (self.camera(), "angles", camera.get("angles")),
        ]
        for target, attr, value in steps:
            if value is None:
                continue
            if attr in ("center", "zoom") and not sane_view(value):
                # A view broken before it was kept (a layer at 1e308) stays behind.
                skipped.append(f"viewer {attr}: {value!r} is out of range")
                continue
            try:
                setattr(target, attr, tuple(value) if isinstance(value, list) else value)
            except Exception as err:  # noqa: BLE001 - the layers matter more than the view
                skipped.append(f"viewer {attr}: {err}")
        layers = self.viewer.layers
        names = state.get("selected") or []
        if not isinstance(names, list):
            skipped.append(f"viewer selected: {str(names)[:80]!r} is not a list of names")
            names = []
        selected = [layers[n] for n in names if isinstance(n, str) and n in layers]
        active = state.get("active") if isinstance(state.get("active"), str) else None
        if selected or active:
            layers.selection.clear()
            layers.selection.update(selected)
            if active in layers:
                layers.selection.active = layers[active]

    def _begin_anew(self) -> None:
        """Remove every layer (not a change to save) and begin a new session folder at the
        next save; the earlier sessions stay on disk."""
        self.restoring = True
        try:
            self.viewer.layers.clear()
        finally:
            self.restoring = False
        self.folder = None

    def start_empty(self) -> None:
        """Remove every layer and begin a new session (the earlier ones stay on disk)."""
        self._begin_anew()
        self.restored = None
        self.save_empty = True
        self.save()

    def report(self) -> dict[str, Any]:
        return {
            "dir": str(self.root),
            "folder": self.folder.name if self.folder else None,
            "restored": self.restored,
            "restoring": self.restoring,
            "last_save": self.last_save or None,
            "error": self.error,
        }


def read_source(source: dict[str, Any]) -> Any:
    """A file's layer data, read by napari's readers (worker thread); the exception when not."""
    from napari.plugins.io import read_data_with_plugins

    path = source["path"]
    try:
        mode = os.stat(path).st_mode
    except (OSError, ValueError):
        return FileNotFoundError(f"{path} is gone")
    if not (stat.S_ISREG(mode) or stat.S_ISDIR(mode)):
        # A named pipe or a device would block the reader for good (as `open` refuses).
        return ValueError(f"{path} is not a regular file or folder")
    try:
        data, _reader = read_data_with_plugins([path], plugin=source.get("plugin"), stack=False)
    except Exception as err:  # noqa: BLE001 - the reader's reason goes to the user
        return err
    return list(data or [])


def match_opened(entries: list[Any], layers: list[Any]) -> dict[int, Any]:
    """The session's entries (by index) that are a layer already open: an unchanged file
    (kept by its path, no data files) of the same path and kind, the same name first; each
    layer stands for one entry at most."""

    free = []  # (real path, layer) of the open layers read from a file
    for layer in layers:
        path = getattr(getattr(layer, "source", None), "path", None)
        if path:
            free.append((os.path.realpath(str(path)), layer))
    wanted = {
        index: os.path.realpath(entry["source"]["path"])
        for index, entry in enumerate(entries)
        if free and not check_entry(entry) and not entry.get("files")
    }
    found: dict[int, Any] = {}
    for same_name in (True, False):
        for index, path in wanted.items():
            if index in found:
                continue
            entry = entries[index]
            for pair in free:
                open_path, layer = pair
                if (
                    open_path == path
                    and kind_of(layer) == entry["type"]
                    and (layer.name == entry["name"] or not same_name)
                ):
                    found[index] = layer
                    free.remove(pair)
                    break
    return found


def pick_source_layer(items: list[Any], entry: dict[str, Any]) -> Any:
    """The layer of a file's reader output that ``entry`` was (by name, else the first of
    its type), made with its path as source (Qt thread)."""
    from napari.layers import Layer
    from napari.layers._source import layer_source

    path, name, kind = entry["source"]["path"], entry["name"], entry["type"]
    made = []
    with layer_source(path=path, reader_plugin=entry["source"].get("plugin")):
        for item in items:
            if isinstance(item, Layer):
                made.append(item)
                continue
            data, meta, item_kind = (*tuple(item), None, None)[:3]
            meta = dict(meta or {})
            meta.setdefault("name", os.path.splitext(os.path.basename(path))[0])
            made.append(Layer.create(data, meta, kind if len(items) == 1 else item_kind))
    for layer in made:
        if layer.name == name:
            return layer
    for layer in made:
        if kind_of(layer) == kind:
            layer.name = name
            return layer
    raise ValueError(f"{Path(path).name} no longer gives a {kind} layer")


def read_options(runtime: Optional[Path]) -> Optional[dict[str, Any]]:
    """What the server asked for (keep.json in the private directory), None if nothing."""
    if runtime is None:
        return None
    try:
        options = json.loads((runtime / "keep.json").read_text())
    except (OSError, ValueError):
        return None
    return options if isinstance(options, dict) and options.get("dir") else None


def start(
    viewer: Any, service: Any, runtime: Optional[Path], napari_version: str
) -> Optional[Keeper]:
    """Keep napari's session as the server asked (keep.json), bring the newest one back when
    it asked for that, and answer the "session" command of the socket."""
    options = read_options(runtime)
    if options is None:
        return None
    keeper = Keeper(viewer, options, napari_version)

    def command(request: dict[str, Any], reply: Callable[[dict[str, Any]], None]) -> None:
        if request.get("action") == "open":
            keeper.open(
                str(request.get("folder") or "latest"),
                lambda error: reply(
                    {"ok": error is None, "error": error, "session": keeper.report()}
                ),
            )
            return
        if request.get("action") == "empty":
            keeper.start_empty()
        reply({"ok": True, "session": keeper.report()})

    service.commands["session"] = command
    if options.get("restore", True):
        keeper.restore(keeper.watch)
    else:
        keeper.watch()
    return keeper
