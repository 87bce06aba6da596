"""Summary, targets and Markdown of the bandwidth part (``bandwidth.py``)."""

from __future__ import annotations

import math
import statistics
from typing import Any, Optional

from tests.support.stats import percentile

BASELINE, CANDIDATE = "today", "package"
REALISTIC = ("fluorescence", "labels", "volume")


def _median(values: list[Any]) -> Optional[float]:
    got = [v for v in values if v is not None]
    if not got:
        return None
    if any(v == math.inf for v in got):
        finite = sorted(got)
        return finite[len(finite) // 2]
    return round(statistics.median(got), 2)


def summarise_windows(windows: list[dict[str, Any]]) -> dict[str, Any]:
    keys = [k for w in windows for k in w.get("key_to_pixels_ms", [])]
    out: dict[str, Any] = {"windows": len(windows)}
    for name in ("mbit_per_s", "canvas_fps", "napari_draws_per_s", "psnr_moving",
                 "psnr_1s_after_stop", "exact_after_stop_s"):  # fmt: skip
        out[name] = _median([w.get(name) for w in windows])
    out["exact_after_stop_s_max"] = max(
        (w.get("exact_after_stop_s") or math.inf for w in windows), default=None
    )
    for proc in ("xvnc", "jupyter", "napari"):
        out[f"cpu_{proc}"] = _median([w.get("cpu_percent", {}).get(proc) for w in windows])
    out["key_p50_ms"] = percentile(keys, 50)
    out["key_p95_ms"] = percentile(keys, 95)
    out["keys"] = len(keys)
    return out


def summarise(node: dict[str, Any]) -> dict[str, Any]:
    """Per link ("plain", "slow"), variant and content: the medians; and the ratios."""
    summ: dict[str, Any] = {}
    for link in ("plain", "slow"):
        for variant, contents in node.get(link, {}).items():
            for content, windows in contents.items():
                summ.setdefault(link, {}).setdefault(variant, {})[content] = summarise_windows(
                    windows
                )
    ratios: dict[str, Any] = {}
    plain = summ.get("plain", {})
    for content in plain.get(CANDIDATE, {}):
        new, old = plain[CANDIDATE][content], plain.get(BASELINE, {}).get(content)
        if not old:
            continue
        ratios[content] = {
            "mbit": _ratio(new["mbit_per_s"], old["mbit_per_s"]),
            "key_p50": _ratio(new["key_p50_ms"], old["key_p50_ms"]),
            "canvas_fps": _ratio(new["canvas_fps"], old["canvas_fps"]),
        }
    summ["ratios"] = ratios
    return summ


def _ratio(a: Optional[float], b: Optional[float]) -> Optional[float]:
    if a is None or b in (None, 0):
        return None
    return round(a / b, 3)


def targets(summ: dict[str, Any]) -> list[dict[str, Any]]:
    out = []
    ratios = summ.get("ratios", {})
    plain = summ.get("plain", {}).get(CANDIDATE, {})
    slow = summ.get("slow", {}).get(CANDIDATE, {})
    for content in REALISTIC:
        r = ratios.get(content, {})
        out.append(_target(f"{content}: Mbit/s, package / today", r.get("mbit"), 1 / 3, "x"))
        out.append(_target(f"{content}: key -> pixels p50, package / today", r.get("key_p50"),
                           1.0, "x"))  # fmt: skip
        exact = plain.get(content, {}).get("psnr_1s_after_stop")
        out.append({
            "target": f"{content}: still picture exact 1 s after napari stops (PSNR)",
            "measured": exact, "limit": math.inf, "unit": "dB",
            "met": None if exact is None else exact == math.inf,
        })  # fmt: skip
    for content, s in slow.items():
        out.append(_target(f"slow link, {content}: exact picture after stop (worst)",
                           s.get("exact_after_stop_s_max"), 1.0, "s"))  # fmt: skip
    return out


def _target(name: str, value: Optional[float], limit: float, unit: str) -> dict[str, Any]:
    return {
        "target": name,
        "measured": value,
        "limit": round(limit, 3),
        "unit": unit,
        "met": None if value is None else value <= limit,
    }


def _fmt(value: Any, digits: int = 2) -> str:
    if value is None:
        return "-"
    if value == math.inf:
        return "∞"
    if isinstance(value, float):
        return f"{value:.{digits}f}"
    return str(value)


def markdown(node: Optional[dict[str, Any]]) -> list[str]:
    """Markdown lines of the bandwidth part (empty when it did not run)."""
    if not node:
        return []
    lines: list[str] = []
    for geometry, data in node.items():
        summ = summarise(data)
        lines += ["", f"## Bandwidth per content ({geometry}, Chromium + noVNC)", ""]
        variants = data.get("variants", {})
        lines += [
            "Variants: "
            + "; ".join(f"**{k}** {v or 'the package defaults'}" for k, v in variants.items())
            + ".",
            "",
        ]
        met = {True: "yes", False: "**no**", None: "not measured"}
        rows = [
            [t["target"], f"{_fmt(t['measured'])} {t['unit']}", f"{_fmt(t['limit'])} {t['unit']}",
             met[t["met"]]]
            for t in targets(summ)
        ]  # fmt: skip
        lines += _table(["target", "measured", "limit", "met"], rows)
        for link, title in (("plain", "loopback"), ("slow", "slow link")):
            if link not in summ:
                continue
            lines += ["", f"### {title}" + (
                f" ({data['slow_link']['mbit_per_s']:g} Mbit/s, {data['slow_link']['rtt_ms']:g} ms"
                " RTT, loopback proxy)" if link == "slow" else ""), ""]  # fmt: skip
            header = ["content", "variant", "Mbit/s", "canvas changes/s", "napari draws/s",
                      "key → pixels p50 / p95 ms (n)", "CPU % Xvnc / jupyter / napari",
                      "PSNR moving dB", "PSNR 1 s after stop", "exact after s"]  # fmt: skip
            rows = []
            for variant, contents in summ[link].items():
                for content, s in contents.items():
                    rows.append([
                        content, variant, _fmt(s["mbit_per_s"]), _fmt(s["canvas_fps"], 1),
                        _fmt(s["napari_draws_per_s"], 1),
                        f"{_fmt(s['key_p50_ms'], 0)} / {_fmt(s['key_p95_ms'], 0)} ({s['keys']})",
                        f"{_fmt(s['cpu_xvnc'], 0)} / {_fmt(s['cpu_jupyter'], 0)} / "
                        f"{_fmt(s['cpu_napari'], 0)}",
                        _fmt(s["psnr_moving"], 1), _fmt(s["psnr_1s_after_stop"], 1),
                        _fmt(s["exact_after_stop_s"]),
                    ])  # fmt: skip
            rows.sort(key=lambda r: (r[0], r[1]))
            lines += _table(header, rows)
        if summ.get("ratios"):
            lines += ["", "Ratios package / today (loopback): " + "; ".join(
                f"{c}: Mbit/s {_fmt(r['mbit'])}, key p50 {_fmt(r['key_p50'])}, "
                f"canvas changes/s {_fmt(r['canvas_fps'])}"
                for c, r in summ["ratios"].items()
            ) + "."]  # fmt: skip
        cdp = data.get("cdp_throttle_check")
        if cdp:
            lines += ["", "Chromium's own network emulation (CDP) at "
                      f"{cdp['emulated_mbit_per_s']:g} Mbit/s: {cdp['measured_mbit_per_s']:g} "
                      "Mbit/s reached the page through the websocket (it does throttle "
                      "websockets in this Chromium)."]  # fmt: skip
        lines += ["", METHOD]
    return lines


def _table(header: list[str], rows: list[list[str]]) -> list[str]:
    out = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    return out + ["| " + " | ".join(row) + " |" for row in rows]


METHOD = """\
How the bandwidth part measures (`benchmarks/bandwidth.py`): one Jupyter server per variant,
all running side by side, each with the desktop page open in Chromium at 1920x1080; napari
(`napari_scene.py`) shows each content in turn and plays it in one variant at a time (the
others idle). A script in the page counts the websocket's bytes and watches the middle
quarter of noVNC's canvas on every animation frame: "canvas changes/s" counts changes of
that box (an update that arrives in several parts counts more than once, so it can exceed
napari's draws), key → pixels is keydown (page clock) to the first change of the box.
PSNR compares the box with the X screen read losslessly at the same moment (a Raw RFB
client on the VNC socket): "moving" on the frame of one key press once it is all there
(encoded as while playing), and 1 s after napari stops playing (∞ = identical). CPU: user +
system seconds of each process (psutil) over the playing window. The slow link is a
loopback proxy (`throttle.py`) in front of the Jupyter server: a rate limit each way, half
the RTT as delay each way, a 50 ms buffer. Contents: `noise` the stack measured so far
(cells under strong noise, grey), `fluorescence` smooth 3D cells with a little noise
(magma), `labels` the same with their masks painted over (labels layer, opacity 0.5),
`volume` a 64x256x256 volume rendered in 3D while the camera turns (green)."""
