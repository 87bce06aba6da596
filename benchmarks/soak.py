"""A long soak of the desktop websocket: the CI soak (tests/integration/test_soak.py), longer.

Starts a real ``jupyter server`` with this checkout's extension (minimal session) and runs
tests/support/soak.py against it: websocket cycles of five kinds (open and close at once, the
RFB greeting only, a full RFB handshake, a tab closed mid-frame, its TCP link dropped
mid-frame), ``--streamers`` tabs streaming the screen, Xvnc killed ``--kills`` times while
they do. It reports the cycles, failures, reconnect times (p50/p95/max, from the lost
connection to a new RFB handshake), lockouts, the server's RSS and open file descriptors
after a warm-up and at the end, and processes left outside the server's tree.

    .venv/bin/python -m benchmarks.soak [--cycles 20000] [--kills 40] [--streamers 4]

Results: printed, and as JSON in benchmarks/results/soak-<time>.json with the commit measured.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import shutil
import sys
import tempfile
import time
from pathlib import Path

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.recording import commit
from tests.support.jupyter import JupyterServer
from tests.support.paths import ROOT
from tests.support.soak import soak

RESULTS = ROOT / "benchmarks" / "results"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cycles", type=int, default=20000, help="websocket cycles")
    parser.add_argument("--kills", type=int, default=40, help="times Xvnc is killed")
    parser.add_argument("--streamers", type=int, default=4, help="tabs streaming meanwhile")
    parser.add_argument("--parallel", type=int, default=4, help="cycles at the same time")
    parser.add_argument("--out", type=Path, default=None, help="JSON file for the figures")
    args = parser.parse_args(argv)

    tmp = Path(tempfile.mkdtemp(prefix="soak-bench-", dir="/tmp"))
    options = {"session": "minimal", "autostart_napari": False, "runtime_dir": str(tmp / "rt")}
    server = JupyterServer(tmp / "server", options)
    try:
        server.start()
        result = asyncio.run(
            soak(
                server,
                cycles=args.cycles,
                kills=args.kills,
                streamers=args.streamers,
                parallel=args.parallel,
            )
        )
    finally:
        server.stop_all()
        shutil.rmtree(tmp, ignore_errors=True)
    figures = {"commit": commit(), "date": time.strftime("%Y-%m-%d %H:%M"), **result.figures()}
    figures["failures"] = result.failed_cycles[:20]
    out = args.out or RESULTS / f"soak-{time.strftime('%Y%m%d-%H%M%S')}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(figures, indent=2) + "\n")
    print(json.dumps(figures, indent=2))
    print(f"written to {out}")
    ok = (
        not result.failed_cycles
        and not result.lockouts
        and not result.orphans
        and (not result.reconnects or max(result.reconnects) < 5)
        and result.rss_after_mib <= 1.10 * result.rss_settled_mib
        and abs(result.fds_after - result.fds_settled) <= 10
    )
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
