"""Summaries (median, min, max; p50/p95), ratios, targets, the Markdown report and plots."""

from __future__ import annotations

import operator
from pathlib import Path
from typing import Any, Optional

from tests.support.stats import percentile, summary

from . import bandwidth_report
from .recording import table

MAIN_GEOMETRY = "1920x1080"


# -- statistics (tests.support.stats: one percentile for every report) -----------------
def ratio(ours: Optional[float], reference: Optional[float]) -> Optional[float]:
    if ours is None or not reference:
        return None
    return round(ours / reference, 2)


def med(node: Any) -> Optional[float]:
    return node.get("median") if isinstance(node, dict) else None


# -- from raw results to summaries ------------------------------------------------------
TIME_ROWS = [
    ("ours", "cold", "ours: click napari card → napari drawn, cold (server just started)"),
    ("ours", "cold_desktop_drawn", "ours: click → desktop drawn, cold"),
    ("ours", "warm_napari_running", "ours: click → napari drawn, warm (napari running)"),
    ("ours", "warm_napari_closed", "ours: click → napari drawn, warm (napari closed)"),
    ("ours_prestart", "click", "ours, prestart=True: click → napari drawn"),
    ("floor_bare_xvnc", None, "floor: napari start → drawn on a bare Xvnc"),
    ("reference", "cold_desktop_drawn", "reference: click Desktop card → desktop drawn, cold"),
    ("reference", "napari_start_in_desktop", "reference: napari started in it → drawn"),
    ("reference", "cold", "reference: cold total (drawn + napari start)"),
    ("reference", "warm_napari_running", "reference: click → napari drawn (napari running)"),
    (
        "reference",
        "napari_restart_in_desktop",
        "reference: napari restarted in its desktop → drawn",
    ),
]


def summarise(results: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {"time_to_napari": {}, "streaming": {}, "latency": {}, "memory": {}}
    for geometry, tools in results.get("time_to_napari", {}).items():
        node = out["time_to_napari"].setdefault(geometry, {})
        for tool, key, _ in TIME_ROWS:
            values = tools.get(tool)
            if values is None:
                continue
            series = values if key is None else values.get(key)
            if series is not None:
                node[f"{tool}.{key}" if key else tool] = summary(series)
        g = node.get
        node["ratios"] = {
            "cold_ours_vs_reference": ratio(med(g("ours.cold")), med(g("reference.cold"))),
            "desktop_drawn_ours_vs_reference": ratio(
                med(g("ours.cold_desktop_drawn")), med(g("reference.cold_desktop_drawn"))
            ),
            "warm_running_ours_vs_reference": ratio(
                med(g("ours.warm_napari_running")), med(g("reference.warm_napari_running"))
            ),
            "warm_closed_ours_vs_reference_restart": ratio(
                med(g("ours.warm_napari_closed")), med(g("reference.napari_restart_in_desktop"))
            ),
        }
    for geometry, tools in results.get("streaming", {}).items():
        node = out["streaming"].setdefault(geometry, {})
        for tool, paths in tools.items():
            for path, windows in paths.items():
                node[f"{tool}.{path}"] = {
                    "fps": summary([w["fps"] for w in windows]),
                    "updates_per_s": summary([w["updates_per_s"] for w in windows]),
                    "delivered_share": summary([w["delivered_share"] for w in windows]),
                    "bytes_per_frame": summary([w["bytes_per_frame"] for w in windows]),
                    "mbit_per_s": summary([w["mbit_per_s"] for w in windows]),
                    "napari_draws_per_s": summary([w["napari_draws_per_s"] for w in windows]),
                    "cpu_percent": {
                        name: summary([w["cpu_percent"][name] for w in windows])
                        for name in (windows[0]["cpu_percent"] if windows else {})
                    },
                }
        fps = {key: med(value["fps"]) for key, value in node.items() if "fps" in value}
        delivered = {
            key: med(value["delivered_share"]) for key, value in node.items() if "fps" in value
        }
        node["ratios"] = {
            "ours_websocket_vs_direct": ratio(fps.get("ours.websocket"), fps.get("ours.direct")),
            "ours_websocket_vs_direct_per_napari_draw": ratio(
                delivered.get("ours.websocket"), delivered.get("ours.direct")
            ),
            "reference_websocket_vs_direct": ratio(
                fps.get("reference.websocket"), fps.get("reference.direct")
            ),
            "ours_vs_reference_websocket": ratio(
                fps.get("ours.websocket"), fps.get("reference.websocket")
            ),
        }
    for geometry, tools in results.get("latency", {}).items():
        node = out["latency"].setdefault(geometry, {})
        for tool, paths in tools.items():
            for path, kinds in paths.items():
                for kind, values in kinds.items():
                    node[f"{tool}.{path}.{kind}"] = {
                        "p50_ms": percentile(values, 50),
                        "p95_ms": percentile(values, 95),
                        "min_ms": percentile(values, 0),
                        "max_ms": percentile(values, 100),
                        "n": len([v for v in values if v is not None]),
                        "lost": len([v for v in values if v is None]),
                    }
    for geometry, variants in results.get("memory", {}).items():
        node = out["memory"].setdefault(geometry, {})
        for variant, data in variants.items():
            idle = data.get("idle", {})
            busy = data.get("napari_50x512x512", {})
            node[variant] = {
                "idle_pss_mib": idle.get("pss_mib"),
                "napari_pss_mib": busy.get("pss_mib"),
                "napari_alone_pss_mib": data.get("napari_alone", {}).get("pss_mib"),
                "idle_footprint_mib": idle.get("footprint_mib"),
                "napari_footprint_mib": busy.get("footprint_mib"),
                "idle_processes": idle.get("processes"),
                "other_desktops_on_machine": data.get("other_desktops_on_machine"),
            }
        ref = node.get("reference", {})
        node["ratios"] = {
            f"{variant}_idle_{metric}_vs_reference": ratio(
                node[variant][f"idle_{metric}_mib"], ref.get(f"idle_{metric}_mib")
            )
            for variant in variants
            if variant != "reference"
            for metric in ("pss", "footprint")
        }
    return out


def targets(summ: dict[str, Any], geometry: str) -> list[dict[str, Any]]:
    t = summ["time_to_napari"].get(geometry, {})
    s = summ["streaming"].get(geometry, {}).get("ratios", {})
    m = summ["memory"].get(geometry, {})
    floor = med(t.get("floor_bare_xvnc"))
    above_floor = round(floor + 1, 3) if floor is not None else None
    at_most, at_least, below = operator.le, operator.ge, operator.lt
    rows = [
        ("warm, napari closed: click → napari drawn ≤ napari bare start + 1 s",
         med(t.get("ours.warm_napari_closed")), above_floor, at_most, "s"),
        ("warm, napari running: click → napari drawn ≤ napari bare start + 1 s",
         med(t.get("ours.warm_napari_running")), above_floor, at_most, "s"),
        ("prestart: click → napari drawn < 1.5 s",
         med(t.get("ours_prestart.click")), 1.5, below, "s"),
        ("fps through the Jupyter websocket ≥ 95% of the direct socket",
         s.get("ours_websocket_vs_direct"), 0.95, at_least, "ratio"),
        ("the same, per frame napari drew (frames delivered / napari draws)",
         s.get("ours_websocket_vs_direct_per_napari_draw"), 0.95, at_least, "ratio"),
    ]  # fmt: skip
    # By PSS, and by footprint (pages counted once), which other desktops do not shift.
    for metric, (half_name, same_name) in {
        "pss": (
            "idle minimal session PSS ≤ half the reference's idle XFCE PSS",
            "our idle XFCE PSS ≤ the reference's idle XFCE PSS",
        ),
        "footprint": (
            "the same by footprint: idle minimal ≤ half the reference's idle XFCE",
            "the same by footprint: our idle XFCE ≤ the reference's idle XFCE",
        ),
    }.items():
        idle = {
            variant: v.get(f"idle_{metric}_mib") for variant, v in m.items() if variant != "ratios"
        }
        reference = idle.get("reference")
        half = round(reference / 2, 1) if reference else None
        rows += [
            (half_name, idle.get("ours-minimal"), half, at_most, "MiB"),
            (same_name, idle.get("ours-xfce"), reference, at_most, "MiB"),
        ]
    return [
        {
            "target": name,
            "measured": value,
            "limit": limit,
            "unit": unit,
            "met": None if value is None or limit is None else test(value, limit),
        }
        for name, value, limit, test, unit in rows
    ]


# -- plots -----------------------------------------------------------------------------
def plots(raw: dict[str, Any], summ: dict[str, Any], out: Path, prefix: str) -> list[str]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    made: list[str] = []
    geometry = main_geometry(summ)

    def save(fig, name: str) -> None:
        fig.tight_layout()
        path = out / f"{prefix}-{name}.png"
        fig.savefig(path, dpi=72)
        plt.close(fig)
        made.append(path.name)

    # 1. time to napari (median bars, min-max whiskers)
    t = summ["time_to_napari"].get(geometry, {})
    rows = [(label, t.get(f"{tool}.{key}" if key else tool)) for tool, key, label in TIME_ROWS]
    rows = [(label, s) for label, s in rows if s and s["median"] is not None]
    if rows:
        fig, ax = plt.subplots(figsize=(9, 0.45 * len(rows) + 1.2))
        labels = [label for label, _ in rows][::-1]
        meds = [s["median"] for _, s in rows][::-1]
        err = [
            [s["median"] - s["min"] for _, s in rows][::-1],
            [s["max"] - s["median"] for _, s in rows][::-1],
        ]
        colours = ["#d95f02" if label.startswith("reference") else "#1b9e77" for label in labels]
        colours = [
            "#7570b3" if label.startswith("floor") else c for label, c in zip(labels, colours)
        ]
        ax.barh(labels, meds, xerr=err, color=colours, capsize=3)
        ax.set_xlabel("seconds (median, whiskers min-max)")
        ax.set_title(f"Time to napari, {geometry}")
        ax.tick_params(axis="y", labelsize=8)
        save(fig, "time-to-napari")

    # 2. streaming: per desktop, websocket and direct side by side
    s = summ["streaming"].get(geometry, {})
    tools = sorted({k.split(".")[0] for k in s if k != "ratios"}, key=tool_order)
    if tools:
        fig, axes = plt.subplots(1, 2, figsize=(11, 3.4))
        for ax, metric, unit, scale in (
            (axes[0], "fps", "canvas frames/s", 1),
            (axes[1], "bytes_per_frame", "KiB per canvas frame", 1024),
        ):
            grouped(
                ax,
                tools,
                {path: [s.get(f"{t}.{path}", {}).get(metric) for t in tools] for path in PATHS},
                scale,
            )
            ax.set_ylabel(unit)
        draws = [med(s.get(f"{t}.direct", {}).get("napari_draws_per_s")) for t in tools]
        axes[0].scatter(
            [i + 0.2 for i in range(len(tools))],
            [d or 0 for d in draws],
            marker="_",
            s=200,
            color="black",
            label="napari draws/s",
            zorder=3,
        )
        axes[0].legend(fontsize=7)
        axes[0].set_title(f"napari playing the stack, {geometry}", fontsize=10)
        axes[1].set_title("Bytes per canvas frame", fontsize=10)
        save(fig, "streaming")

    # 3. latency: one panel per measure, websocket and direct side by side
    lat = summ["latency"].get(geometry, {})
    if lat:
        tools = sorted({k.split(".")[0] for k in lat}, key=tool_order)
        measures = [
            ("key_to_canvas", "key → napari canvas redrawn"),
            ("canvas_update_transfer", "canvas update, first → last byte"),
            ("pointer_to_cursor", "pointer move → cursor drawn"),
        ]
        fig, axes = plt.subplots(1, 3, figsize=(14, 3.4))
        for ax, (which, title) in zip(axes, measures):
            series = {
                path: [as_summary(lat.get(f"{t}.{path}.{which}")) for t in tools] for path in PATHS
            }
            grouped(ax, tools, series, 1)
            for offset, path in ((-0.2, "websocket"), (0.2, "direct")):
                p95 = [(lat.get(f"{t}.{path}.{which}") or {}).get("p95_ms") for t in tools]
                ax.scatter(
                    [i + offset for i in range(len(tools))],
                    [v or 0 for v in p95],
                    marker="_",
                    s=150,
                    color="black",
                    zorder=3,
                    label="p95" if path == "websocket" else None,
                )
            ax.set_title(title, fontsize=10)
            ax.set_ylabel("ms (bar p50, whiskers min-max)")
        axes[0].legend(fontsize=7)
        save(fig, "latency")

    # 4. memory
    mem = summ["memory"].get(geometry, {})
    variants = [v for v in mem if v != "ratios"]
    if variants:
        fig, ax = plt.subplots(figsize=(7, 3.2))
        x = range(len(variants))
        idle = [mem[v]["idle_pss_mib"] or 0 for v in variants]
        nap = [mem[v]["napari_pss_mib"] or 0 for v in variants]
        ax.bar([i - 0.2 for i in x], idle, width=0.4, label="idle", color="#1b9e77")
        ax.bar([i + 0.2 for i in x], nap, width=0.4, label="napari, 50x512x512", color="#7570b3")
        for offset, key in ((-0.2, "idle_footprint_mib"), (0.2, "napari_footprint_mib")):
            ax.scatter(
                [i + offset for i in x],
                [mem[v].get(key) or 0 for v in variants],
                marker="_",
                s=300,
                color="black",
                zorder=3,
                label="footprint (pages counted once)" if offset < 0 else None,
            )
        ax.set_xticks(list(x), variants)
        ax.set_ylabel("PSS, MiB")
        ax.set_title(f"Desktop memory (PSS of its processes), {geometry}")
        ax.set_ylim(top=1.35 * max(nap + idle + [1]))
        ax.legend(fontsize=7, ncol=3, loc="upper center")
        save(fig, "memory")

    # 5. growth with the screen size
    geometries = sorted(set(summ["streaming"]) | set(summ["memory"]), key=lambda g: pixels(g))
    if len(geometries) > 1:
        fig, axes = plt.subplots(1, 5, figsize=(17, 3.2))
        mp = [pixels(g) / 1e6 for g in geometries]
        for tool, colour in (("ours", "#1b9e77"), ("reference", "#d95f02")):
            series = [
                (
                    axes[0],
                    [
                        med(summ["streaming"].get(g, {}).get(f"{tool}.websocket", {}).get("fps"))
                        for g in geometries
                    ],
                    "canvas frames/s (websocket)",
                ),
                (
                    axes[1],
                    [
                        kib(
                            med(
                                summ["streaming"]
                                .get(g, {})
                                .get(f"{tool}.websocket", {})
                                .get("bytes_per_frame")
                            )
                        )
                        for g in geometries
                    ],
                    "KiB/frame",
                ),
                (
                    axes[2],
                    [
                        summ["memory"]
                        .get(g, {})
                        .get("reference" if tool == "reference" else "ours-xfce", {})
                        .get("idle_pss_mib")
                        for g in geometries
                    ],
                    "idle PSS, MiB (XFCE)",
                ),
                (
                    axes[3],
                    [
                        med(summ["time_to_napari"].get(g, {}).get(f"{tool}.cold"))
                        for g in geometries
                    ],
                    "cold click → napari, s",
                ),
                (
                    axes[4],
                    [
                        summ["latency"]
                        .get(g, {})
                        .get(f"{tool}.websocket.key_to_canvas", {})
                        .get("p50_ms")
                        for g in geometries
                    ],
                    "key → canvas p50, ms (websocket)",
                ),
            ]
            for ax, ys, title in series:
                points = [(a, b) for a, b in zip(mp, ys) if b is not None]
                if points:
                    ax.plot(*zip(*points), marker="o", color=colour, label=tool)
                ax.set_title(title, fontsize=9)
                ax.set_xlabel("megapixels")
        axes[0].legend()
        save(fig, "growth")
    return made


PATHS = ("websocket", "direct")
PATH_COLOURS = {"websocket": "#1b9e77", "direct": "#a6cee3"}


def tool_order(tool: str) -> tuple[int, str]:
    return (0 if tool == "ours" else 1 if tool == "reference" else 2, tool)


def as_summary(latency: Optional[dict[str, Any]]) -> Optional[dict[str, Any]]:
    """A latency entry (p50/min/max) in the shape of ``summary``."""
    if not latency or latency.get("p50_ms") is None:
        return None
    return {"median": latency["p50_ms"], "min": latency["min_ms"], "max": latency["max_ms"]}


def grouped(ax: Any, tools: list[str], series: dict[str, list], scale: float) -> None:
    """Bars per tool, one per path, median with min-max whiskers."""
    for offset, path in ((-0.2, "websocket"), (0.2, "direct")):
        values = series[path]
        meds = [(v["median"] / scale) if v and v.get("median") is not None else 0 for v in values]
        lo = [
            (v["median"] - v["min"]) / scale if v and v.get("median") is not None else 0
            for v in values
        ]
        hi = [
            (v["max"] - v["median"]) / scale if v and v.get("median") is not None else 0
            for v in values
        ]
        ax.bar(
            [i + offset for i in range(len(tools))],
            meds,
            width=0.4,
            yerr=[lo, hi],
            capsize=2,
            color=PATH_COLOURS[path],
            label=path,
        )
    ax.set_xticks(range(len(tools)), [t.replace("_", "\n", 1) for t in tools], fontsize=8)


def pixels(geometry: str) -> int:
    width, height = geometry.split("x")
    return int(width) * int(height)


def kib(value: Optional[float]) -> Optional[float]:
    return None if value is None else round(value / 1024, 1)


def main_geometry(summ: dict[str, Any]) -> str:
    found = set(summ["time_to_napari"]) | set(summ["streaming"]) | set(summ["memory"])
    if MAIN_GEOMETRY in found or not found:
        return MAIN_GEOMETRY
    return sorted(found)[0]


# -- Markdown --------------------------------------------------------------------------
def fmt(value: Optional[float], digits: int = 2) -> str:
    if value is None:
        return "-"
    return f"{value:.{digits}f}"


def span(s: Optional[dict[str, Any]], digits: int = 2, scale: float = 1) -> str:
    if not s or s.get("median") is None:
        return "-"
    text = (
        f"{s['median'] / scale:.{digits}f} "
        f"({s['min'] / scale:.{digits}f} to {s['max'] / scale:.{digits}f}, n={s['n']})"
    )
    return text + (f", {s['failed']} failed" if s.get("failed") else "")


def sections(data: dict[str, Any]) -> list[tuple[str, list[str], list[list[str]], str]]:
    """(title, header, rows, note) of every table after the targets."""
    summ = data["summary"]
    out = []
    for geometry in sorted(summ["time_to_napari"], key=pixels):
        t = summ["time_to_napari"][geometry]
        rows = [
            [label, span(t[name])]
            for tool, key, label in TIME_ROWS
            if t.get(name := f"{tool}.{key}" if key else tool)
        ]
        out.append((
            f"1. Time to napari, {geometry} (seconds)",
            ["measurement", "median (min-max, n)"],
            rows,
            "Ratios (ours / reference): " + ratios_text(t.get("ratios", {})),
        ))  # fmt: skip
    for geometry in sorted(summ["streaming"], key=pixels):
        s = summ["streaming"][geometry]
        rows = []
        for key, v in s.items():
            if key == "ratios":
                continue
            cpu = v["cpu_percent"]
            rows.append([
                key, span(v["fps"], 1), span(v["updates_per_s"], 1),
                span(v["bytes_per_frame"], 1, 1024), span(v["mbit_per_s"], 1),
                span(v["napari_draws_per_s"], 1), fmt(med(v["delivered_share"]), 2),
                *(fmt(med(cpu.get(name)), 0) for name in ("jupyter_server", "xvnc", "napari")),
            ])  # fmt: skip
        out.append((
            f"2. Streaming, {geometry}: napari playing a 100x512x512 stack",
            ["tool.path", "canvas frames/s", "updates/s", "KiB/canvas frame", "Mbit/s",
             "napari draws/s", "delivered", "CPU % jupyter server", "CPU % Xvnc", "CPU % napari"],
            rows,
            "Ratios: " + ratios_text(s.get("ratios", {})),
        ))  # fmt: skip
    for geometry in sorted(summ["latency"], key=pixels):
        lat = summ["latency"][geometry]
        rows = [
            [key, *(fmt(lat[key][f"{q}_ms"], 1) for q in ("p50", "p95", "min", "max")),
             f"{lat[key]['n']} ({lat[key]['lost']})"]
            for key in sorted(lat)
        ]  # fmt: skip
        out.append((
            f"3. Input latency, {geometry} (ms, input sent → first update with pixels)",
            ["tool.path.input", "p50", "p95", "min", "max", "n (lost)"],
            rows,
            "",
        ))  # fmt: skip
    for geometry in sorted(summ["memory"], key=pixels):
        mem = summ["memory"][geometry]
        columns = ("idle_pss_mib", "napari_pss_mib", "napari_alone_pss_mib",
                   "idle_footprint_mib", "napari_footprint_mib")  # fmt: skip
        rows = [
            [variant, *(fmt(v[c], 1) for c in columns), str(v["idle_processes"]),
             str(v["other_desktops_on_machine"])]
            for variant, v in mem.items()
            if variant != "ratios"
        ]  # fmt: skip
        raw = data["results"].get("memory", {}).get(geometry, {})
        largest = [
            f"Largest idle processes, {variant}: "
            + ", ".join(f"{p['name']} {p['pss_mib']}" for p in top)
            for variant, v in raw.items()
            if (top := v.get("idle", {}).get("by_process", [])[:10])
        ]
        out.append((
            f"4. Memory, {geometry} (PSS, MiB, of the desktop's processes)",
            ["session", "PSS idle", "PSS with napari (50x512x512)", "PSS napari alone",
             "footprint idle", "footprint with napari", "processes (idle)", "other desktops"],
            rows,
            "\n\n".join(["Ratios (idle): " + ratios_text(mem.get("ratios", {})), *largest]),
        ))  # fmt: skip
    return out


def markdown(data: dict[str, Any], made: list[str]) -> str:
    meta = data["meta"]
    lines = [
        f"# Benchmark: jupyter-napari-desktop vs jupyter-remote-desktop-proxy ({meta['mode']})",
        "",
        f"Run {meta['started']} on {meta['machine']}; {meta['duration_s']:.0f} s in all. "
        f"Command: `{meta['command']}`."
        + (f" Measured commit: `{meta['commit']}`." if meta.get("commit") else ""),
        "",
        "Figures are medians with (min-max, n) over repeated runs of the same run; ratios are "
        "ours / reference from this run. Other processes on this machine (other tests, other "
        "desktops) were not stopped, so timings are noisy; the reference column ran under the "
        "same noise in the same run.",
        "",
        "Versions: " + ", ".join(f"{k} {v}" for k, v in meta["versions"].items()) + ".",
        "",
        f"Load average (1 min) during the run: {meta.get('load', '?')} on "
        f"{meta['machine'].split(' ')[0]} CPUs.",
        "",
        "## Targets",
        "",
    ]
    met = {True: "yes", False: "**no**", None: "not measured"}
    lines += table(
        ["target", "measured", "limit", "met"],
        [
            [r["target"], f"{fmt(r['measured'])} {r['unit']}", f"{fmt(r['limit'])} {r['unit']}",
             met[r["met"]]]
            for r in data["targets"]
        ],
    )  # fmt: skip
    for title, header, rows, note in sections(data):
        lines += ["", f"## {title}", "", *table(header, rows)]
        lines += ["", note] if note else []
    lines += bandwidth_report.markdown(data["results"].get("bandwidth"))
    if made:
        lines += ["", "## Plots", ""]
        lines += [f"![{name}]({name})" for name in made]
    if data.get("errors"):
        lines += ["", "## Errors", ""] + [f"- {e}" for e in data["errors"]]
    lines += ["", "## How it was measured", "", METHOD]
    return "\n".join(lines) + "\n"


def ratios_text(ratios: dict[str, Optional[float]]) -> str:
    return ", ".join(f"{k.replace('_', ' ')} {fmt(v)}" for k, v in ratios.items()) or "-"


METHOD = """\
- **Time to napari**: Debian's Chromium (Playwright) opens JupyterLab, clicks the launcher
  card; a script in every page samples the largest canvas (noVNC's) every 50 ms at 1/8
  scale and stamps the first moment the desktop is drawn (half the pixels not black) and
  the moment napari's four-colour test image shows (each colour ≥ 2% of the pixels). Time =
  that stamp - the click event's stamp. napari opens the image through
  `c.NapariDesktop.napari_args`. Cold: a fresh Jupyter server per sample. Warm, napari
  running: tab closed, card clicked again (reconnect only). Warm, napari closed: napari
  killed, card clicked again (the page's start request starts napari). Prestart: a fresh
  server with `prestart=True`, clicked once napari is on the screen. Floor: napari (the same
  helper and image) started on an Xvnc with nothing else, until the image is on the X
  screen (read with a Raw VNC client). Reference: its "Desktop [↗]" card until the
  canvas is drawn, then napari started with the desktop's DISPLAY (as a user would from a
  terminal), until the image shows; cold total = both added (the gap between is not
  counted, which favours the reference).
- **Streaming**: napari plays a 100x512x512 stack (a step every 16 ms) maximized; a Python
  RFB client negotiating like noVNC (Tight, JPEG quality 6, compression 2, CopyRect,
  desktop size, Fence + ContinuousUpdates) counts FramebufferUpdate messages and their
  bytes (rectangles parsed, not decoded) for a fixed window after a 1 s warm-up, once
  through the Jupyter websocket and once on the VNC unix socket itself, alternating. CPU %
  of the Jupyter server (the proxy), Xvnc and napari over the same window.
- **Input latency**: napari still; Left/Right keys (napari steps the slider and redraws)
  and pointer moves (drawn into the screen by the VNC server, the client takes no cursor
  image), each sent when the stream has been quiet for 0.3 s; time to the first update with
  pixels.
- **Memory**: PSS from /proc/PID/smaps_rollup summed over the desktop's processes (the
  supervisor's tree for ours; the vncserver tree for the reference plus daemons that left
  it, found by the server's private HOME), with one client connected through the
  websocket, after the desktop settled; then with napari holding a 50x512x512 image.
  Only one desktop of ours or the reference runs at a time, but other desktops on the
  machine (other users, other tests) share library pages and lower everyone's PSS; their
  count is in the table. The footprint column counts every resident page of the
  desktop's processes once (page frame numbers from /proc/PID/pagemap): it does not move
  with what else runs, so compare with it when the PSS columns disagree between runs.
- **Interleaving**: cold starts alternate ours / reference; the streaming and latency
  desktops (ours and the reference) run side by side with napari idle and take turns, so
  each sees the same machine load.
"""
