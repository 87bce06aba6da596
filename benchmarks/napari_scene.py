"""napari for the streaming and latency benchmarks; runs in napari's own Python.

    python napari_scene.py STACK.npy --control CONTROL --status STATUS.json

Opens the stack maximized and steps the first axis (the dims slider) while the control
file says ``play``; ``stop`` (or anything else) stops and shows the middle plane, so that
both Left and Right step to another plane. It writes
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
    args = parser.parse_args()
    os.environ["QT_QPA_PLATFORM"] = "xcb"

    import napari
    import numpy as np
    from qtpy.QtCore import QTimer

    stack = np.load(args.stack)
    viewer = napari.Viewer(title="napari benchmark")
    viewer.window._qt_window.showMaximized()
    viewer.add_image(stack, name="stack", contrast_limits=(0, 255))
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

    def step() -> None:
        current = viewer.dims.current_step[0]
        viewer.dims.set_current_step(0, (current + 1) % planes)
        counts["steps"] += 1

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
