"""Benchmark jupyter-napari-desktop against jupyter-remote-desktop-proxy, side by side.

    .venv/bin/python benchmarks/run.py [--quick] [--out benchmarks/results]

Writes OUT/MODE.json (every sample, summaries, targets), OUT/MODE.md (the report) and
OUT/MODE-*.png (plots), MODE being "quick" or "full". The reference tool runs from its own
virtual environment (created on first use, see --reference-venv). See benchmarks/README.md.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import json
import os
import platform
import re
import shlex
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterable
from pathlib import Path
from typing import Optional

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks import bandwidth, measure, report
from benchmarks.browser import Browser

HERE = Path(__file__).resolve().parent
REFERENCE_PACKAGES = ["jupyterlab", "jupyter-remote-desktop-proxy==3.0.1"]
MEMORY_VARIANTS = ("ours-xfce", "ours-minimal", "reference")


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description="Time to napari, streaming, input latency and memory of "
        "jupyter-napari-desktop against jupyter-remote-desktop-proxy."
    )
    parser.add_argument(
        "--quick", action="store_true", help="fewer repeats, one screen size (about 10 minutes)"
    )
    parser.add_argument(
        "--out", type=Path, default=HERE / "results", help="folder for MODE.json/.md/.png"
    )
    parser.add_argument(
        "--reference-venv",
        type=Path,
        default=HERE / ".venv-reference",
        help="virtual environment with jupyterlab and jupyter-remote-desktop-proxy==3.0.1 "
        "(created with python3 -m venv and pip if missing)",
    )
    parser.add_argument(
        "--budget-minutes",
        type=float,
        default=None,
        help="stop starting new measurements after this long (default 25 quick, 60 full)",
    )
    parser.add_argument(
        "--only",
        choices=["memory", "clicks", "streaming", "bandwidth"],
        action="append",
        help="run only these parts (repeatable; default all)",
    )
    parser.add_argument(
        "--contents",
        help="bandwidth: only these contents, comma-separated (default "
        + ",".join(bandwidth.CONTENTS)
        + ")",
    )
    parser.add_argument(
        "--variants",
        help="bandwidth: only these variants, comma-separated (default "
        + ",".join(bandwidth.VARIANTS)
        + ")",
    )
    parser.add_argument(
        "--geometry",
        metavar="WxH",
        help="measure this one screen size instead of the plan's (e.g. 3840x2160: the pixels "
        "of a 1920x1080 screen at device pixel ratio 2)",
    )
    parser.add_argument("--keep-work", action="store_true", help="keep logs and screenshots")
    parser.add_argument(
        "--render",
        type=Path,
        metavar="MODE.json",
        help="measure nothing: write the report and plots again from a run's JSON into --out",
    )
    return parser.parse_args(argv)


def ensure_reference_venv(venv: Path) -> Path:
    python = venv / "bin" / "python"
    if python.exists():
        return python
    print(f"[bench] creating {venv} with {' '.join(REFERENCE_PACKAGES)}", flush=True)
    subprocess.run(["python3", "-m", "venv", str(venv)], check=True)
    subprocess.run(
        [str(python), "-m", "pip", "install", "--quiet", *REFERENCE_PACKAGES], check=True
    )
    return python


def version_in(python: Path, package: str) -> str:
    done = subprocess.run(
        [str(python), "-c", f"import importlib.metadata as m; print(m.version({package!r}))"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    return done.stdout.strip() or "?"


def versions(reference_python: Path) -> dict[str, str]:
    ours = Path(sys.executable)
    xvnc = subprocess.run(["Xvnc", "-version"], capture_output=True, text=True, timeout=10)
    tiger = next((w for w in (xvnc.stderr + xvnc.stdout).split("\n") if "TigerVNC" in w), "?")
    tiger = tiger.split(" - ")[0].replace("Xvnc ", "", 1).strip()
    return {
        "jupyter-napari-desktop": version_in(ours, "jupyter-napari-desktop"),
        "jupyter-remote-desktop-proxy": version_in(
            reference_python, "jupyter-remote-desktop-proxy"
        ),
        "jupyterlab (ours)": version_in(ours, "jupyterlab"),
        "jupyterlab (reference)": version_in(reference_python, "jupyterlab"),
        "jupyter-server-proxy (ours)": version_in(ours, "jupyter-server-proxy"),
        "jupyter-server-proxy (reference)": version_in(reference_python, "jupyter-server-proxy"),
        "napari": version_in(ours, "napari"),
        "Xvnc": tiger,
    }


def measured_commit() -> str:
    """The checkout's commit, with "+ local changes" when the tree differs from it."""

    def git(*args: str) -> str:
        done = subprocess.run(["git", *args], cwd=HERE.parent, capture_output=True, text=True)
        return done.stdout.strip() if done.returncode == 0 else ""

    commit = git("rev-parse", "--short", "HEAD") or "unknown"
    changed = git("status", "--porcelain", "--untracked-files=no", "--", "jupyter_napari_desktop")
    return commit + (" + local changes to the package" if changed else "")


def machine() -> str:
    model = "?"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    return f"{os.cpu_count()} CPUs ({model}), {mem:.0f} GiB, {platform.platform()}"


def chosen(text: Optional[str], known: Iterable[str], what: str) -> Optional[list[str]]:
    """The comma-separated names of --contents / --variants, checked (None: all)."""
    if not text:
        return None
    names = [name.strip() for name in text.split(",") if name.strip()]
    unknown = sorted(set(names) - set(known))
    if unknown:
        raise SystemExit(f"run.py: unknown {what} {', '.join(unknown)}; known: {', '.join(known)}")
    return names


async def measure_all(
    run: measure.Run,
    parts: set[str],
    contents: Optional[list[str]] = None,
    variants: Optional[list[str]] = None,
) -> None:
    plan = run.plan
    if "memory" in parts:  # first, with no browser running
        for geometry in plan.geometries:
            for variant in MEMORY_VARIANTS:
                if run.over_budget():
                    run.log("time budget spent: skipping memory " + variant)
                    continue
                await measure.memory(run, geometry, variant)
    if parts & {"clicks", "streaming", "bandwidth"}:
        run.browser = await Browser().start()
    try:
        for geometry in plan.geometries:
            if run.over_budget():
                run.log(f"time budget spent: skipping {geometry}")
                continue
            if "clicks" in parts:
                await measure.napari_floor(run, geometry)
                await measure.clicks(run, geometry)
            if "streaming" in parts:
                await measure.streaming(run, geometry, ["ours", "reference"])
            if "bandwidth" in parts and geometry == plan.geometries[len(plan.geometries) // 2]:
                chosen_variants = {n: bandwidth.VARIANTS[n] for n in variants} if variants else None
                await bandwidth.bandwidth(
                    run, geometry, chosen_variants, tuple(contents or bandwidth.CONTENTS)
                )
    finally:
        if run.browser is not None:
            await run.browser.stop()


def write_outputs(out: Path, results: dict, errors: list[str], meta: dict) -> Path:
    out.mkdir(parents=True, exist_ok=True)
    mode = meta["mode"]
    summ = report.summarise(results)
    data = {
        "meta": meta,
        "summary": summ,
        "targets": report.targets(summ, report.main_geometry(summ)),
        "errors": errors,
        "results": results,
    }
    for old in out.glob(f"{mode}-*.png"):
        old.unlink()
    # The measurements first: a run of many minutes is not lost to a plotting error.
    (out / f"{mode}.json").write_text(compact_json(data) + "\n")
    made = report.plots(results, summ, out, mode)
    (out / f"{mode}.md").write_text(report.markdown(data, made))
    return out / f"{mode}.md"


def compact_json(value: object, indent: int = 0) -> str:
    """JSON with one key per line, but lists of numbers (samples) and small objects on one."""
    flat = json.dumps(value, ensure_ascii=False)
    if (
        not isinstance(value, (dict, list))
        or len(flat) <= 100
        or (isinstance(value, list) and all(not isinstance(v, (dict, list)) for v in value))
    ):
        return flat
    pad, inner = " " * indent, " " * (indent + 1)
    if isinstance(value, dict):
        items = [f"{inner}{json.dumps(k)}: {compact_json(v, indent + 1)}" for k, v in value.items()]
        return "{\n" + ",\n".join(items) + "\n" + pad + "}"
    items = [inner + compact_json(v, indent + 1) for v in value]
    return "[\n" + ",\n".join(items) + "\n" + pad + "]"


def render(source: Path, out: Path) -> int:
    data = json.loads(source.read_text())
    print(f"[bench] report: {write_outputs(out, data['results'], data['errors'], data['meta'])}")
    return 0


def main(argv: list[str] | None = None) -> int:
    args = parse_args(sys.argv[1:] if argv is None else argv)
    if args.render:
        return render(args.render, args.out)
    plan = measure.QUICK if args.quick else measure.FULL
    if args.geometry:
        if not re.fullmatch(r"[1-9][0-9]{2,4}x[1-9][0-9]{2,4}", args.geometry):
            raise SystemExit(
                f"run.py: --geometry {args.geometry!r}: give WIDTHxHEIGHT, e.g. 3840x2160"
            )
        plan = dataclasses.replace(plan, geometries=[args.geometry])
    budget = (args.budget_minutes or (25 if args.quick else 60)) * 60
    parts = set(args.only or ["memory", "clicks", "streaming", "bandwidth"])
    contents = chosen(args.contents, bandwidth.CONTENTS, "content")
    variants = chosen(args.variants, bandwidth.VARIANTS, "variant")
    for tool in ("Xvnc", "vncserver", "xwininfo"):
        if not shutil.which(tool):
            print(
                f"[bench] {tool} not found: install the packages of binder/apt.txt", file=sys.stderr
            )
            return 2
    reference_python = ensure_reference_venv(args.reference_venv.absolute())
    work = Path(tempfile.mkdtemp(prefix="napari-bench-"))
    run = measure.Run(plan, work, reference_python, budget)
    started = time.strftime("%Y-%m-%d %H:%M:%S %Z")
    meta = {
        "mode": plan.mode,
        "started": started,
        "command": shlex.join([".venv/bin/python", "benchmarks/run.py", *(argv or sys.argv[1:])]),
        "machine": machine(),
        "commit": measured_commit(),
        "versions": versions(reference_python),
        "plan": plan.__dict__,
        "duration_s": 0.0,
    }

    def on_term(signum: int, frame: object) -> None:
        raise KeyboardInterrupt(f"signal {signum}")

    signal.signal(signal.SIGTERM, on_term)
    run.log(f"{plan.mode} run; work files in {work}")
    try:
        asyncio.run(measure_all(run, parts, contents, variants))
    except KeyboardInterrupt:
        run.errors.append("interrupted: the report holds what was measured until then")
    finally:
        run.stop_all()
        meta["duration_s"] = round(time.monotonic() - run.started, 1)
        if run.loads:
            meta["load"] = (
                f"median {statistics.median(run.loads):.1f} "
                f"(min {min(run.loads):.1f}, max {max(run.loads):.1f})"
            )
        report_path = write_outputs(args.out, run.results, run.errors, meta)
        run.log(f"report: {report_path}")
        if args.keep_work:
            run.log(f"work files kept in {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)
    return 1 if run.errors else 0


if __name__ == "__main__":
    sys.exit(main())
