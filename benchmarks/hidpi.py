"""Bytes per redraw on HiDPI screens: the page at devicePixelRatio 1, 1.5 and 2 ("crisp":
a screen of device pixels, napari drawn at that scale) and at 2 "light" (CSS pixels that
the browser enlarges), in one run on one desktop.

One Jupyter server of ours (``tests.support.jupyter``) runs the desktop (minimal session)
with napari showing a fluorescence-like stack (``images.write_fluorescence``). For each
variant Debian's Chromium opens the desktop page in a 1280x800 window at that ratio; once
napari draws at the page's scale, the benchmark steps napari through the stack's planes
through the REST API (``PUT viewer``: what a person scrolling through z sees) and counts
the bytes of every websocket frame the page receives (Chrome DevTools Protocol), from the
step until the picture has been still for ``QUIET`` seconds (the lossless refresh after
motion included). Bytes depend on the picture, not on the machine's speed.

    .venv/bin/python -m benchmarks.hidpi [--steps 12]

Prints a table and writes ``--out`` (default benchmarks/results/hidpi.{json,md}).
"""

from __future__ import annotations

import argparse
import base64
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Optional

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from playwright.sync_api import sync_playwright

from benchmarks import images
from benchmarks.recording import table, write_rows
from tests.support.jupyter import JupyterServer
from tests.support.pattern import CHROMIUM
from tests.support.waiting import wait_for

RESULTS = Path(__file__).resolve().parent / "results"
WINDOW = {"width": 1280, "height": 800}
VARIANTS = (("1", 1.0, "crisp"), ("1.5", 1.5, "crisp"), ("2", 2.0, "crisp"), ("2", 2.0, "light"))
PLANES = 20
QUIET = 1.2  # seconds without a frame: the redraw (and its lossless refresh) is over


def parse_args(argv: Optional[list[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--steps", type=int, default=12, help="redraws per variant (12)")
    parser.add_argument("--out", type=Path, default=RESULTS, help="folder for hidpi.json/.md")
    return parser.parse_args(argv)


class FrameBytes:
    """Bytes of the websocket frames a page receives, with the time of the last one.
    Playwright's sync API delivers the events while it is called: ``quiet`` waits in it."""

    def __init__(self, context: Any, page: Any) -> None:
        self.page = page
        self.total = 0
        self.last = time.monotonic()
        session = context.new_cdp_session(page)
        session.on("Network.webSocketFrameReceived", self._frame)
        session.send("Network.enable")

    def _frame(self, params: dict[str, Any]) -> None:
        response = params["response"]
        payload = response.get("payloadData", "")
        binary = response.get("opcode") == 2
        self.total += len(base64.b64decode(payload)) if binary else len(payload.encode())
        self.last = time.monotonic()

    def quiet(self, seconds: float) -> bool:
        self.page.wait_for_timeout(50)
        return time.monotonic() - self.last > seconds


def napari_scale(server: JupyterServer) -> Optional[float]:
    code, status = server.request("GET", "napari-desktop/api/status")
    return status["napari"]["scale"] if code == 200 else None


def measure(server: JupyterServer, browser: Any, ratio: float, mode: str, steps: int) -> dict:
    context = browser.new_context(viewport=WINDOW, device_scale_factor=ratio)
    try:
        page = context.new_page()
        page.add_init_script(f"localStorage.setItem('jp-NapariDesktop-hidpi', '{mode}')")
        frames = FrameBytes(context, page)
        opened = time.monotonic()
        page.goto(f"{server.url}napari-desktop/?app=napari&token={server.token}")
        page.wait_for_function("() => window.napariDesktop?.state === 'connected'", timeout=90_000)
        scale = ratio if mode == "crisp" else 1.0
        wait_for(lambda: napari_scale(server) == scale, 30, f"napari at scale {scale}")
        wait_for(lambda: frames.quiet(QUIET), 60, "the first picture drawn")
        first = frames.total
        first_s = frames.last - opened
        sizes = []
        for step in range(steps):
            before = frames.total
            plane = (step * 7 + 3) % PLANES
            code, answer = server.request(
                "PUT", "napari-desktop/api/viewer", {"dims": {"current_step": [plane, 0, 0]}}
            )
            assert code == 200, answer
            wait_for(lambda: frames.quiet(QUIET), 30, "the redraw to end")
            sizes.append(frames.total - before)
        screen = page.evaluate(
            "() => { const c = document.querySelector('#jp-NapariDesktop-root canvas');"
            " return [c.width, c.height]; }"
        )
        return {
            "ratio": ratio,
            "mode": mode,
            "napari_scale": scale,
            "remote_screen": screen,
            "first_picture_kb": round(first / 1024, 1),
            "first_picture_s": round(first_s, 2),
            "redraw_kb_median": round(statistics.median(sizes) / 1024, 1),
            "redraw_kb_mean": round(statistics.mean(sizes) / 1024, 1),
            "redraws": len(sizes),
        }
    finally:
        context.close()


def report(rows: list[dict], measured: str) -> list[str]:
    base = next(r for r in rows if r["ratio"] == 1.0)["redraw_kb_median"]
    lines = [
        "# Bytes per redraw on HiDPI screens",
        "",
        f"Measured at {measured} by `python -m benchmarks.hidpi` (see its docstring): a",
        "1280x800 window, napari stepping through a fluorescence stack, bytes the page",
        "receives per step until the picture is still (lossless refresh included).",
        "",
    ]
    lines += table(
        [
            "ratio",
            "Screen",
            "X screen",
            "napari scale",
            "KB per redraw (median)",
            "vs ratio 1",
        ],
        [
            [
                str(r["ratio"]),
                r["mode"],
                "x".join(map(str, r["remote_screen"])),
                str(r["napari_scale"]),
                str(r["redraw_kb_median"]),
                f"{r['redraw_kb_median'] / base:.2f}",
            ]
            for r in rows
        ],
    )
    return lines


def main(argv: Optional[list[str]] = None) -> int:
    args = parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="hidpi-bench-") as work:
        tmp = Path(work)
        stack = images.write_fluorescence(tmp / "cells.npy", PLANES)
        server = JupyterServer(
            tmp,
            {"session": "minimal", "geometry": "1280x800", "napari_args": [str(stack)]},
        )
        server.start(timeout=120)
        rows = []
        try:
            code, status = server.request("POST", "napari-desktop/api/start", {"app": "napari"})
            assert code == 200, status
            with sync_playwright() as playwright:
                browser = playwright.chromium.launch(executable_path=CHROMIUM)
                for name, ratio, mode in VARIANTS:
                    row = measure(server, browser, ratio, mode, args.steps)
                    print(f"ratio {name} {mode}: {row}", flush=True)
                    rows.append(row)
                browser.close()
        finally:
            server.stop_all()
    write_rows(args.out, "hidpi", rows, report)
    return 0


if __name__ == "__main__":
    sys.exit(main())
