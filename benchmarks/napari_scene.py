"""napari for the streaming and latency benchmarks; runs in napari's own Python.

    python napari_scene.py STACK.npy --control CONTROL --status STATUS.json
        [--colormap NAME] [--labels LABELS.npy] [--rotate]

Opens the stack maximized and steps the first axis (the dims slider) while the control
file says ``play``; ``stop`` (or anything else) stops and shows the middle plane, so that
both Left and Right step to another plane. ``--labels`` paints a labels layer over the
image; ``--rotate`` renders the stack as a 3D volume and turns the camera instead (Left
and Right turn it by 10 degrees). It writes
STATUS.json four times a second: canvas draws and steps so far, so the benchmark can tell
napari's own frame rate from what reaches a VNC client. Imports nothing from the package.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("stack", help=".npy stack, first axis animated")
    parser.add_argument("--control", required=True, help="file with 'play' or 'stop'")
    parser.add_argument("--status", required=True, help="JSON status file written here")
    parser.add_argument("--fps", type=float, default=60.0, help="steps per second when playing")
    parser.add_argument("--colormap", default="gray", help="napari colormap of the image")
    parser.add_argument("--labels", help=".npy labels of the stack's shape, painted over it")
    parser.add_argument("--rotate", action="store_true", help="3D volume, the camera turns")
    args = parser.parse_args()
    os.environ["QT_QPA_PLATFORM"] = "xcb"

    import napari
    import numpy as np
    from qtpy.QtCore import QTimer

    stack = np.load(args.stack)
    viewer = napari.Viewer(title="napari benchmark")
    viewer.window._qt_window.showMaximized()
    viewer.add_image(stack, name="stack", contrast_limits=(0, 255), colormap=args.colormap)
    if args.labels:
        viewer.add_labels(np.load(args.labels), name="labels", opacity=0.5)
    if args.rotate:
        viewer.dims.ndisplay = 3
        viewer.camera.angles = (0.0, 30.0, 60.0)
    else:
        viewer.dims.set_current_step(0, stack.shape[0] // 2)
    # Fit the image to the maximized canvas (the window manager maximizes it later).
    QTimer.singleShot(1500, viewer.reset_view)
    counts = {"draws": 0, "steps": 0, "playing": False}

    canvas = viewer.window._qt_viewer.canvas
    try:
        canvas._scene_canvas.events.draw.connect(
            lambda event: counts.__setitem__("draws", counts["draws"] + 1)
        )
    except AttributeError:
        print("napari_scene: cannot count canvas draws in this napari", file=sys.stderr)

    planes = stack.shape[0]

    def turn(degrees: float) -> None:
        a, b, c = viewer.camera.angles
        viewer.camera.angles = (a, b, (c + degrees) % 360)

    def step() -> None:
        if args.rotate:
            turn(3.0)
        else:
            current = viewer.dims.current_step[0]
            viewer.dims.set_current_step(0, (current + 1) % planes)
        counts["steps"] += 1

    if args.rotate:
        viewer.bind_key("Right", lambda v: turn(10.0), overwrite=True)
        viewer.bind_key("Left", lambda v: turn(-10.0), overwrite=True)

    player = QTimer()
    player.setInterval(max(1, int(1000 / args.fps)))
    player.timeout.connect(step)

    control = Path(args.control)
    status = Path(args.status)

    def poll() -> None:
        try:
            wanted = control.read_text().strip()
        except OSError:
            wanted = "stop"
        if wanted == "play" and not player.isActive():
            player.start()
        elif wanted != "play" and player.isActive():
            player.stop()
            if args.rotate:
                turn(15.0)
            else:
                viewer.dims.set_current_step(0, planes // 2)
        counts["playing"] = player.isActive()
        tmp = status.with_suffix(".tmp")
        tmp.write_text(json.dumps({**counts, "time": time.time(), "pid": os.getpid()}))
        tmp.replace(status)

    poller = QTimer()
    poller.setInterval(250)
    poller.timeout.connect(poll)
    poller.start()
    # Keys go to the canvas (Left/Right step the slider in napari's default bindings).
    QTimer.singleShot(500, lambda: canvas.native.setFocus())
    napari.run()
    return 0


if __name__ == "__main__":
    sys.exit(main())
