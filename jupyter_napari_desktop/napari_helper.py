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
    {"cmd": "state"}  -> {"ok": true, "version": "0.9.2", "layers": [...], "dims": {...}}
    {"cmd": "raise"}  -> {"ok": true}

Requests are handled on the Qt thread (QLocalServer), so napari is only touched from there.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path
from typing import Any

MAX_REQUEST = 1 << 20
LAYER_TYPES = ("image", "labels", "points", "shapes", "surface", "tracks", "vectors")


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


class Service:
    """The JSON protocol; every method runs on the Qt thread."""

    def __init__(self, viewer: Any, napari_version: str) -> None:
        self.viewer = viewer
        self.version = napari_version

    def handle(self, request: dict[str, Any]) -> dict[str, Any]:
        cmd = request.get("cmd")
        if cmd == "open":
            return self.open(request)
        if cmd == "state":
            return self.state()
        if cmd == "raise":
            return self.raise_window()
        return {"ok": False, "error": f"unknown command {cmd!r}"}

    def open(self, request: dict[str, Any]) -> dict[str, Any]:
        paths = request.get("paths")
        plugin = request.get("plugin")
        layer_type = request.get("layer_type")
        if not isinstance(paths, list) or not all(isinstance(p, str) for p in paths):
            return {"ok": False, "error": "paths must be a list of strings"}
        if layer_type is not None and layer_type not in LAYER_TYPES:
            return {"ok": False, "error": f"layer_type must be one of {', '.join(LAYER_TYPES)}"}
        names: list[str] = []
        for path in paths:
            try:
                layers = self.viewer.open(path, plugin=plugin, layer_type=layer_type)
            except Exception as err:  # noqa: BLE001 - napari's reason goes back to the user
                reason = str(err).replace("Scroll up to see the full stack trace.", "").strip()
                return {"ok": False, "error": f"{Path(path).name}: {reason}", "opened": names}
            names.extend(layer.name for layer in layers)
        self.raise_window()
        return {"ok": True, "layers": names}

    def state(self) -> dict[str, Any]:
        dims = self.viewer.dims
        return {
            "ok": True,
            "version": self.version,
            "layers": [layer_info(layer) for layer in self.viewer.layers],
            "dims": {"ndim": dims.ndim, "current_step": list(dims.current_step)},
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
    from qtpy.QtNetwork import QLocalServer

    socket_path.unlink(missing_ok=True)
    server = QLocalServer()
    server.setSocketOptions(QLocalServer.SocketOption.UserAccessOption)
    if not server.listen(str(socket_path)):
        print(f"[napari-desktop] cannot listen on {socket_path}: {server.errorString()}")
        return None
    os.chmod(socket_path, 0o600)

    def on_connection() -> None:
        while server.hasPendingConnections():
            conn = server.nextPendingConnection()
            if conn is None:
                return
            buffer = bytearray()

            def on_ready(conn: Any = conn, buffer: bytearray = buffer) -> None:
                buffer.extend(bytes(conn.readAll()))
                if b"\n" not in buffer and len(buffer) < MAX_REQUEST:
                    return
                line = bytes(buffer).split(b"\n", 1)[0]
                try:
                    request = json.loads(line)
                    if not isinstance(request, dict):
                        raise ValueError("request must be a JSON object")
                    answer = service.handle(request)
                except ValueError as err:
                    answer = {"ok": False, "error": f"bad request: {err}"}
                conn.write(json.dumps(answer).encode() + b"\n")
                conn.flush()
                conn.disconnectFromServer()

            conn.readyRead.connect(on_ready)
            conn.disconnected.connect(conn.deleteLater)

    server.newConnection.connect(on_connection)
    return server


def main(argv: list[str] | None = None) -> int:
    args = parse_args(sys.argv[1:] if argv is None else argv)
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
