"""A room of thirty, in one command: bandwidth per content (beside noVNC's defaults and
Selkies), idle cost, the cold start and users per machine through a real JupyterHub.

    sudo .venv/bin/python -m benchmarks.room            # about 80 minutes on 2 cores

Each part is one of the benchmark modules, run one after the other (never two at once, so
that none measures beside another) with its own results file in ``--out``; the exit status
is 1 when any part failed, and the others still ran.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path
from typing import Callable, Optional

from . import cold_start, hub_scale, idle_cost
from . import run as bench_run

RESULTS = Path(__file__).resolve().parent / "results"


def parts(out: Path, hub: bool) -> list[tuple[str, Callable[[list[str]], int], list[str]]]:
    todo = [
        ("bandwidth", bench_run.main, ["--quick", "--only", "bandwidth", "--out", str(out)]),
        ("idle cost", idle_cost.main, ["--out", str(out / "idle-cost.json")]),
        (
            "cold start",
            cold_start.main,
            ["--session", "minimal", "--out", str(out / "cold-start-minimal.json")],
        ),
    ]
    if hub:
        for session, steps in (("minimal", "1,10,30"), ("xfce", "1,10")):
            report = str(out / f"hub-scale-{session}")
            hub_argv = ["--session", session, "--steps", steps, "--workshop", "10"]
            todo.append((f"hub scale ({session})", hub_scale.main, [*hub_argv, "--out", report]))
    return todo


def main(argv: Optional[list[str]] = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.room",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--out", type=Path, default=RESULTS, help="results folder")
    parser.add_argument(
        "--no-hub", action="store_true", help="skip the JupyterHub parts (they need root)"
    )
    args = parser.parse_args(argv)
    hub = not args.no_hub
    if hub and os.geteuid() != 0:
        print("[room] the hub parts make local users: run with sudo, or --no-hub", file=sys.stderr)
        return 2
    args.out.mkdir(parents=True, exist_ok=True)
    failed = []
    for name, entry, part_argv in parts(args.out, hub):
        started = time.monotonic()
        print(f"[room] {name}: {' '.join(part_argv)}", flush=True)
        try:
            code = entry(part_argv)
        except Exception as err:  # one broken part must not lose the others' figures
            print(f"[room] {name} failed: {err!r}", file=sys.stderr, flush=True)
            code = 1
        print(f"[room] {name}: exit {code} after {time.monotonic() - started:.0f} s", flush=True)
        if code:
            failed.append(name)
    if failed:
        print(f"[room] failed: {', '.join(failed)}", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
