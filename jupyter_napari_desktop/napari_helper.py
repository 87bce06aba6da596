"""Start napari inside the desktop: the only code that imports napari and Qt.

It runs in napari's own Python, which may be another environment than the Jupyter
server's, so it is run as a script and imports nothing from this package::

    /path/to/napari-env/bin/python napari_helper.py [PATH ...]

It opens a maximized viewer, opens the given paths in it and writes its pid to
``$NAPARI_DESKTOP_RUNTIME_DIR/napari.pid`` so the desktop knows napari is running.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="napari_helper.py", description="Start napari maximized in the desktop."
    )
    parser.add_argument("paths", nargs="*", help="images to open at start")
    parser.add_argument("--plugin", default=None, help="napari reader plugin for the paths")
    parser.add_argument("--no-maximize", action="store_true", help="keep the default size")
    return parser.parse_args(argv)


def write_pid() -> None:
    runtime = os.environ.get("NAPARI_DESKTOP_RUNTIME_DIR")
    if runtime and Path(runtime).is_dir():
        Path(runtime, "napari.pid").write_text(str(os.getpid()))


def main(argv: list[str] | None = None) -> int:
    args = parse_args(sys.argv[1:] if argv is None else argv)
    # Images that set QT_QPA_PLATFORM=offscreen for headless Qt would give an invisible window.
    os.environ["QT_QPA_PLATFORM"] = "xcb"
    write_pid()
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
    napari.run()
    return 0


if __name__ == "__main__":
    sys.exit(main())
