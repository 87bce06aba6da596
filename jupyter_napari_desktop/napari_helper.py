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

Requests arrive on the Qt thread (QLocalServer), so napari is only touched from there. Files
are read by the reader plugins in a worker thread (one read at a time) and become layers on
the Qt thread, so a slow or never-ending read leaves the window and ``state`` responsive.
"""

from __future__ import annotations

import argparse
import faulthandler
import json
import os
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


def not_readable(path: str) -> Optional[str]:
    """Why ``path`` must not be handed to a reader (a pipe or device would block it)."""
    try:
        mode = os.stat(path).st_mode
    except OSError as err:
        return f"{Path(path).name}: {err.strerror}"
    if stat.S_ISREG(mode) or stat.S_ISDIR(mode):
        return None
    return f"{Path(path).name} is not a regular file or folder"


def napari_reason(err: BaseException) -> str:
    return str(err).replace("Scroll up to see the full stack trace.", "").strip() or repr(err)


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
        layers.append(Layer.create(data, meta, layer_type or kind))
    return layers


class Service:
    """The JSON protocol; every method runs on the Qt thread."""

    def __init__(self, viewer: Any, napari_version: str) -> None:
        from qtpy.QtCore import QObject, Signal

        class Bridge(QObject):
            done = Signal(object)

        self.viewer = viewer
        self.version = napari_version
        self.reading: Optional[list[str]] = None
        self.reading_since = 0.0
        self.bridge = Bridge()  # lives on the Qt thread: emits from the worker are queued
        self.bridge.done.connect(self.finish_open)

    def handle(self, request: dict[str, Any], reply: Reply) -> None:
        cmd = request.get("cmd")
        if cmd == "open":
            self.open(request, reply)
        elif cmd == "state":
            reply(self.state())
        elif cmd == "raise":
            reply(self.raise_window())
        else:
            reply({"ok": False, "error": f"unknown command {cmd!r}"})

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
        }

    def raise_window(self) -> dict[str, Any]:
        window = self.viewer.window._qt_window
        if window.isMinimized():
            window.showMaximized()
        window.raise_()
        window.activateWindow()
        return {"ok": True}


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

    def sweep() -> None:
        for on_ready in list(waiting.values()):
            on_ready()

    server.newConnection.connect(on_connection)
    timer = QTimer(server)
    timer.timeout.connect(sweep)
    timer.start(200)
    return server


def main(argv: list[str] | None = None) -> int:
    args = parse_args(sys.argv[1:] if argv is None else argv)
    # `kill -USR2 <napari pid>` writes every thread's stack to the desktop log (a stuck read).
    faulthandler.register(signal.SIGUSR2, all_threads=True)
    # Images that set QT_QPA_PLATFORM=offscreen for headless Qt would give an invisible window.
    os.environ["QT_QPA_PLATFORM"] = "xcb"
    runtime = runtime_dir()
    if runtime is not None:
        (runtime / "napari.pid").write_text(str(os.getpid()))
    import napari

    viewer = napari.Viewer()
    window = viewer.window._qt_window
    if not args.no_maximize:
        window.showMaximized()
    for path in args.paths:
        try:
            viewer.open(path, plugin=args.plugin)
        except Exception as err:  # noqa: BLE001 - a bad file must not stop napari
            print(f"[napari-desktop] could not open {path}: {err}", file=sys.stderr)
    server = None
    if runtime is not None:
        server = serve(Service(viewer, napari.__version__), runtime / "napari.sock")
    napari.run()
    if server is not None:
        server.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
