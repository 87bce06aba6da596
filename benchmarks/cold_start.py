"""Nine o'clock, one user: cold start -> napari drawn, against napari's own bare start.

Three things, interleaved so that they see the same load on the machine:

- ``ours``: a fresh Jupyter server of this checkout (``tests.support.jupyter``); the
  napari card's request (``POST napari-desktop/api/start {"app": "napari"}``) until
  napari's four-colour test image (``c.NapariDesktop.napari_args``) is on the X screen,
- ``baseline`` (with ``--baseline DIR``): the same with the package of another checkout,
  e.g. an export of the commit before a change (``git archive C | tar -x -C DIR``),
- ``floor``: napari (the same helper and image) started on a bare Xvnc, until the image
  is on the screen.

The screen is read with a Raw VNC client on the desktop's unix socket, every 50 ms. Besides
the time, the CPU-seconds that the desktop's processes used until napari was drawn (robust
to other load, unlike the times).

    .venv/bin/python -m benchmarks.cold_start [--session xfce] [--repeats 3] [--baseline DIR]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Optional

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks import images
from benchmarks.recording import commit
from benchmarks.servers import BareXvnc
from tests.support import procs
from tests.support.jupyter import JupyterServer
from tests.support.paths import ROOT
from tests.support.rfb import RFBClient

RESULTS = Path(__file__).resolve().parent / "results"
HELPER = ROOT / "jupyter_napari_desktop" / "napari_side" / "napari_helper.py"


def parse_args(argv: Optional[list[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.cold_start", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument("--session", choices=["xfce", "minimal"], default="xfce")
    parser.add_argument("--repeats", type=int, default=3, help="samples of each (3)")
    parser.add_argument("--baseline", type=Path, help="another checkout to measure beside")
    parser.add_argument("--out", type=Path, default=RESULTS / "cold-start.json")
    return parser.parse_args(argv)


def cpu_of(pids: list[int]) -> float:
    return sum(procs.cpu_seconds(pid) for pid in pids)


async def until_drawn(socket_path: str, pids: Any, timeout: float = 120) -> tuple[float, float]:
    """(seconds until the pattern is on the screen from now, CPU-seconds of ``pids()``
    then). The screen follows through incremental Raw updates."""
    start = time.perf_counter()
    client = await RFBClient.connect_unix(socket_path, raw=True)
    try:
        while time.perf_counter() - start < timeout:
            assert client.fb is not None
            if images.shows_pattern(client.fb[:, :, :3]):
                return time.perf_counter() - start, cpu_of(pids())
            await asyncio.sleep(0.05)
    finally:
        await client.close()
    raise TimeoutError(f"napari's pattern not on the screen after {timeout:g} s")


async def ours(work: Path, pattern: Path, session: str, root: Path) -> dict[str, float]:
    """A fresh server of the checkout at ``root``: the napari card's request -> drawn."""
    server = JupyterServer(work, {"session": session, "napari_args": [str(pattern)]}, app="server")
    env = server.env
    server.env = lambda: {**env(), "PYTHONPATH": str(root)}  # type: ignore[method-assign]
    try:
        server.start(timeout=120)
        assert server.proc is not None
        base = procs.cpu_seconds(server.proc.pid)
        t0 = time.perf_counter()
        status, answer = await asyncio.to_thread(
            server.request, "POST", "napari-desktop/api/start", {"app": "napari"}
        )
        if status != 200:
            raise RuntimeError(f"api/start answered {status}: {answer}")
        answered = time.perf_counter() - t0
        socket_path = server.vnc_socket()
        assert socket_path is not None
        pids = lambda: [server.proc.pid, *server.desktop_pids()]  # noqa: E731
        seconds, cpu = await until_drawn(socket_path, pids)
        return {
            "drawn_s": round(answered + seconds, 3),
            "start_answered_s": round(answered, 3),
            "cpu_s": round(cpu - base, 2),
        }
    finally:
        server.stop_all()


async def floor(work: Path, pattern: Path) -> dict[str, float]:
    """napari's own start on a bare Xvnc (no session): process start -> drawn."""
    xvnc = BareXvnc(work, "1920x1080").start()
    try:
        t0 = time.perf_counter()
        proc = procs.start_logged(
            [sys.executable, str(HELPER), str(pattern)],
            work / "napari.log",
            env=xvnc.env(),
        )
        try:
            _, cpu = await until_drawn(str(xvnc.socket), lambda: [proc.pid])
            return {"drawn_s": round(time.perf_counter() - t0, 3), "cpu_s": round(cpu, 2)}
        finally:
            procs.stop_tree(proc.pid, 5)
    finally:
        xvnc.stop()


def summary(samples: list[dict[str, float]]) -> dict[str, Any]:
    out: dict[str, Any] = {"n": len(samples)}
    for key in samples[0] if samples else []:
        values = [s[key] for s in samples]
        out[key] = {"median": round(statistics.median(values), 3), "values": values}
    return out


async def run(args: argparse.Namespace, tmp: Path) -> dict[str, Any]:
    pattern = images.write_pattern(tmp / "pattern.png")
    kinds: list[tuple[str, Any]] = [("floor", None), ("ours", ROOT)]
    if args.baseline:
        kinds.append(("baseline", args.baseline.resolve()))
    samples: dict[str, list[dict[str, float]]] = {name: [] for name, _ in kinds}
    for index in range(args.repeats):
        for name, root in kinds if index % 2 == 0 else kinds[::-1]:
            work = tmp / f"{name}-{index}"
            work.mkdir()
            try:
                if name == "floor":
                    sample = await floor(work, pattern)
                else:
                    sample = await ours(work, pattern, args.session, root)
            except (RuntimeError, TimeoutError, AssertionError) as err:
                print(f"{name} #{index + 1}: failed: {err}", flush=True)
                continue
            samples[name].append(sample)
            print(f"{name} #{index + 1}: {sample} (load {os.getloadavg()[0]:.1f})", flush=True)
    return {name: summary(values) for name, values in samples.items()}


def main(argv: Optional[list[str]] = None) -> int:
    args = parse_args(argv)
    report: dict[str, Any] = {
        "commit": commit(),
        "baseline_commit": commit(args.baseline) if args.baseline else None,
        "session": args.session,
        "when": time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime()),
        "load_average_start": os.getloadavg()[0],
    }
    with tempfile.TemporaryDirectory(prefix="napari-cold-start-") as tmp:
        report["results"] = asyncio.run(run(args, Path(tmp)))
    report["load_average_end"] = os.getloadavg()[0]
    results = report["results"]
    floor_s = results["floor"].get("drawn_s", {}).get("median")
    for name in ("ours", "baseline"):
        drawn = results.get(name, {}).get("drawn_s", {}).get("median")
        if drawn is not None and floor_s is not None:
            results[name]["over_floor_s"] = round(drawn - floor_s, 3)
            print(f"{name}: drawn {drawn:.2f} s = floor {floor_s:.2f} s + {drawn - floor_s:.2f} s")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=1))
    print(args.out)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
