"""What an idle user costs: CPU-seconds and wakeups per process of one idle desktop.

A Jupyter server of ours (``tests.support.jupyter``) starts the desktop with napari
holding a 50x512x512 stack (``c.NapariDesktop.napari_args``), a client stays connected
through the server's websocket the way a noVNC tab is (Tight + JPEG, continuous updates,
the cursor as a pseudo-encoding), and, unless ``--no-status-poll``, the server is asked
for ``api/status`` every 10 s as JupyterLab's status bar does. Nobody touches the desktop.
After ``--settle`` seconds, for ``--seconds`` (60), every process's CPU time (psutil:
user + system) and context switches (voluntary + involuntary over all its threads: each
is a wakeup or a preemption) are read at the start and at the end.

Groups: ``Xvnc``, ``napari`` (the helper), ``session`` (openbox, or XFCE and its
helpers), ``supervisor`` and ``jupyter-server``. CPU-seconds do not depend much on other
load on the machine (unlike timings), so this can run beside other work.

    .venv/bin/python -m benchmarks.idle_cost [--session minimal --session xfce] [--seconds 60]

Prints a table per session and writes JSON to ``--out`` (default
benchmarks/results/idle-cost.json) with the commit measured.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Optional

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import psutil

from benchmarks import images
from benchmarks.recording import commit
from tests.support import procs
from tests.support.jupyter import JupyterServer
from tests.support.rfb import RFBClient
from tests.support.waiting import wait_for

RESULTS = Path(__file__).resolve().parent / "results"
SHAPE = [50, 512, 512]
STATUS_EVERY = 10.0  # seconds: JupyterLab's status bar (labextension/src/status.ts)
GROUPS = ("Xvnc", "napari", "session", "supervisor", "jupyter-server")


def parse_args(argv: Optional[list[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.idle_cost", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument(
        "--session",
        action="append",
        choices=["minimal", "xfce"],
        help="session(s) to measure (repeatable; default both)",
    )
    parser.add_argument("--seconds", type=float, default=60.0, help="measured window (60)")
    parser.add_argument("--settle", type=float, default=15.0, help="wait before it (15 s)")
    parser.add_argument("--geometry", default="1920x1080", help="remote screen (1920x1080)")
    parser.add_argument(
        "--no-status-poll", action="store_true", help="no api/status every 10 s (no JupyterLab)"
    )
    parser.add_argument(
        "--no-client", action="store_true", help="no VNC client connected (no open tab)"
    )
    parser.add_argument("--out", type=Path, default=RESULTS / "idle-cost.json")
    return parser.parse_args(argv)


def switches(pid: int) -> dict[int, int]:
    """Thread id -> context switches so far, for every thread of ``pid``."""
    found = {}
    try:
        tasks = os.listdir(f"/proc/{pid}/task")
    except OSError:
        return {}
    for task in tasks:
        try:
            text = Path(f"/proc/{pid}/task/{task}/status").read_text()
        except OSError:
            continue
        found[int(task)] = sum(
            int(line.split()[1])
            for line in text.splitlines()
            if line.startswith(("voluntary_ctxt_switches", "nonvoluntary_ctxt_switches"))
        )
    return found


def switched(before: dict[int, int], after: dict[int, int]) -> int:
    """Context switches between two readings (threads that ended in between not counted)."""
    return sum(count - before.get(tid, 0) for tid, count in after.items())


def group_of(pid: int, server_pid: int) -> str:
    if pid == server_pid:
        return "jupyter-server"
    if procs.comm(pid) in procs.XVNC_NAMES:
        return "Xvnc"
    argv = procs.cmdline(pid)
    if any(word.endswith("napari_helper.py") for word in argv):
        return "napari"
    if "jupyter_napari_desktop.supervisor" in argv:
        return "supervisor"
    return "session"


def sample(pids: list[int]) -> dict[int, tuple[str, float, dict[int, int]]]:
    """pid -> (name, CPU seconds, context switches per thread)."""
    out = {}
    for pid in pids:
        try:
            proc = psutil.Process(pid)
            times = proc.cpu_times()
            out[pid] = (proc.name(), times.user + times.system, switches(pid))
        except psutil.Error:
            continue
    return out


async def measure_session(args: argparse.Namespace, session: str, work: Path) -> dict[str, Any]:
    stack = images.write_stack(work / "stack50.npy", SHAPE[0], seed=5)
    server = JupyterServer(
        work / session,
        {"session": session, "napari_args": [str(stack)], "geometry": args.geometry},
        app="server",
    )
    client: Optional[RFBClient] = None
    try:
        server.start(timeout=120)
        started = time.monotonic()
        status, answer = server.request("POST", "napari-desktop/api/start", {"app": "napari"})
        if status != 200:
            raise RuntimeError(f"api/start answered {status}: {answer}")

        def holds_stack() -> bool:
            _, model = server.request("GET", "napari-desktop/api/status")
            layers = (model or {}).get("napari", {}).get("layers", [])
            return any(layer.get("shape") == SHAPE for layer in layers)

        wait_for(holds_stack, 180, "napari holding the stack", 0.5)
        ready_s = time.monotonic() - started
        if not args.no_client:
            client = await RFBClient.connect_websocket(server.ws_url, server.token)
        await asyncio.sleep(args.settle)
        assert server.proc is not None
        pids = [server.proc.pid, *server.desktop_pids()]
        before = sample(pids)
        t0 = time.monotonic()
        polls = 0
        next_poll = t0
        while time.monotonic() - t0 < args.seconds:
            if not args.no_status_poll and time.monotonic() >= next_poll:
                await asyncio.to_thread(server.request, "GET", "napari-desktop/api/status")
                polls += 1
                next_poll += STATUS_EVERY
            await asyncio.sleep(0.25)
        elapsed = time.monotonic() - t0
        after = sample(sorted(set(pids) | set(server.desktop_pids())))
        per_minute = 60.0 / elapsed
        groups = {name: {"cpu_s_per_min": 0.0, "wakeups_per_s": 0.0} for name in GROUPS}
        processes = []
        for pid, (name, cpu, ctx) in after.items():
            _, cpu0, ctx0 = before.get(pid, (name, 0.0, {}))
            group = group_of(pid, server.proc.pid)
            cpu_min = (cpu - cpu0) * per_minute
            wake = switched(ctx0, ctx) / elapsed
            groups[group]["cpu_s_per_min"] += cpu_min
            groups[group]["wakeups_per_s"] += wake
            processes.append(
                {
                    "pid": pid,
                    "name": name,
                    "group": group,
                    "cpu_s_per_min": round(cpu_min, 3),
                    "wakeups_per_s": round(wake, 1),
                }
            )
        for values in groups.values():
            values["cpu_s_per_min"] = round(values["cpu_s_per_min"], 3)
            values["wakeups_per_s"] = round(values["wakeups_per_s"], 1)
        total = sum(values["cpu_s_per_min"] for values in groups.values())
        updates = len(client.stats.updates) if client is not None else None
        return {
            "session": session,
            "seconds": round(elapsed, 1),
            "start_to_napari_with_stack_s": round(ready_s, 2),
            "status_polls": polls,
            "client_connected": client is not None,
            "screen_updates_received": updates,
            "groups": groups,
            "total_cpu_s_per_min": round(total, 3),
            "total_percent_of_a_core": round(total / 60 * 100, 2),
            "processes": sorted(processes, key=lambda p: -p["cpu_s_per_min"]),
        }
    finally:
        if client is not None:
            await client.close()
        server.stop_all()


def print_result(result: dict[str, Any]) -> None:
    print(
        f"\n{result['session']}: {result['total_cpu_s_per_min']:.2f} CPU-s/min = "
        f"{result['total_percent_of_a_core']:.2f}% of a core over {result['seconds']} s "
        f"(updates received {result['screen_updates_received']}, status polls "
        f"{result['status_polls']})"
    )
    print(f"  {'group':16s} {'CPU-s/min':>10s} {'wakeups/s':>10s}")
    for name, values in result["groups"].items():
        print(f"  {name:16s} {values['cpu_s_per_min']:10.3f} {values['wakeups_per_s']:10.1f}")
    print("  busiest processes:")
    for proc in result["processes"][:8]:
        print(
            f"    {proc['name']:20s} {proc['group']:14s} {proc['cpu_s_per_min']:8.3f} CPU-s/min"
            f" {proc['wakeups_per_s']:7.1f} wakeups/s"
        )


def main(argv: Optional[list[str]] = None) -> int:
    args = parse_args(argv)
    sessions = args.session or ["minimal", "xfce"]
    report: dict[str, Any] = {
        "commit": commit(),
        "when": time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime()),
        "cpus": os.cpu_count(),
        "load_average_start": os.getloadavg()[0],
        "args": {k: str(v) for k, v in vars(args).items()},
        "sessions": [],
    }
    with tempfile.TemporaryDirectory(prefix="napari-idle-cost-") as tmp:
        for session in sessions:
            result = asyncio.run(measure_session(args, session, Path(tmp)))
            print_result(result)
            report["sessions"].append(result)
    report["load_average_end"] = os.getloadavg()[0]
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=1))
    print(f"\n{args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
