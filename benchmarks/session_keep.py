"""napari's kept session (napari_side/session_keep.py): what a save of a 50x512x512 uint32
labels layer costs napari's Qt thread and the disk, and how long napari takes to bring back
five such layers. A real server, Xvnc and napari; writes benchmarks/results/session_keep.md.

    .venv/bin/python -m benchmarks.session_keep [--edits 5]
"""

from __future__ import annotations

import argparse
import os
import signal
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np

from benchmarks.recording import commit, table
from tests.support import procs
from tests.support.jupyter import JupyterServer
from tests.support.paths import ROOT
from tests.support.waiting import wait_for

SHAPE = (50, 512, 512)


def session(server: JupyterServer) -> dict:
    return server.request("GET", "napari-desktop/api/session")[1]


def last_save_after(server: JupyterServer, moment: float, layers: int) -> dict:
    def done():
        last = (session(server)["napari"] or {}).get("last_save") or {}
        return last if last.get("at", 0) > moment and last.get("layers") == layers else None

    return wait_for(done, 120, "a save", 0.1)


def folder_bytes(folder: Path) -> int:
    """Disk blocks used by a folder (hard links to another session count here too)."""
    return sum(p.stat().st_blocks * 512 for p in folder.iterdir() if p.is_file())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--edits", type=int, default=5)
    args = parser.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="session-keep-"))
    server = JupyterServer(
        tmp, {"session": "minimal", "autostart_napari": False, "save_delay": 0.5}
    )
    server.start()
    os.environ["JUPYTER_RUNTIME_DIR"] = str(tmp / "runtime")
    os.environ["JUPYTER_NAPARI_DESKTOP_SERVER_PID"] = str(server.proc.pid)
    from jupyter_napari_desktop.kernel.viewer import desktop_viewer

    try:
        viewer = desktop_viewer(timeout=120)
        labels = np.zeros(SHAPE, np.uint32)
        viewer.add_labels(labels, name="mask")
        last_save_after(server, 0, 1)
        saves = []
        for edit in range(args.edits):
            labels[edit, :100, :100] = edit + 1
            moment = time.time()
            viewer.layers["mask"].data = labels
            saves.append(last_save_after(server, moment, 1))
        root = tmp / "home" / "napari-sessions"
        one_layer = folder_bytes(sorted(root.iterdir())[-1])

        for index in range(4):
            viewer.add_labels(np.full(SHAPE, index, np.uint32), name=f"more{index}")
        last_save_after(server, time.time() - 1, 5)
        five_layers = folder_bytes(sorted(root.iterdir())[-1])
        pid = next(
            p for p in server.desktop_pids() if "napari_helper.py" in " ".join(procs.cmdline(p))
        )
        os.kill(pid, signal.SIGKILL)
        wait_for(lambda: not procs.alive(pid), 10, "napari to end")
        started = time.monotonic()
        desktop_viewer(timeout=120)

        def restored():
            kept = session(server)["napari"] or {}
            return kept.get("restored") if not kept.get("restoring") else None

        back = wait_for(restored, 120, "the restore", 0.1)
        wall = time.monotonic() - started
        assert len(back["layers"]) == 5, back
    finally:
        server.stop_all()

    qt = [s["qt_s"] * 1000 for s in saves]
    print("Qt thread per save, ms:", [round(v) for v in qt])
    write = [s["write_s"] * 1000 for s in saves]
    rows = [
        ["Qt thread blocked per save (copy), ms", f"{statistics.median(qt):.0f}", f"{max(qt):.0f}"],
        ["write + fsync in the worker, ms", f"{statistics.median(write):.0f}", f"{max(write):.0f}"],
        ["bytes written per save", f"{saves[-1]['written_bytes']:,}", ""],
    ]
    lines = [
        "# napari's kept session",
        "",
        f"Commit {commit()}; 2-core machine, {args.edits} edits of one 50x512x512 uint32 labels "
        "layer through desktop_viewer() (each a whole new array), save_delay 0.5 s.",
        "",
        *table(["per save", "median", "max"], rows),
        "",
        *table(
            ["disk", "MB"],
            [
                ["session of 1 such layer", f"{one_layer / 1e6:.1f}"],
                ["session of 5 such layers", f"{five_layers / 1e6:.1f}"],
            ],
        ),
        "",
        *table(
            ["restore of 5 layers of 50x512x512 uint32 after napari was SIGKILLed", "s"],
            [
                [
                    "napari's own restore (read .npy in a worker, layers made on the Qt thread)",
                    f"{back['seconds']:.2f}",
                ],
                [
                    "from the start request to the layers back (napari's start included)",
                    f"{wall:.1f}",
                ],
            ],
        ),
        "",
    ]
    out = ROOT / "benchmarks" / "results" / "session_keep.md"
    out.write_text("\n".join(lines))
    print("\n".join(lines))


if __name__ == "__main__":
    main()
