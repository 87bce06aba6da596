"""Summary, targets and Markdown of the bandwidth part (``bandwidth.py``)."""

from __future__ import annotations

import math
import statistics
from typing import Any, Optional

from tests.support.stats import percentile

from .recording import table

BASELINE, CANDIDATE, REFERENCE = "novnc-defaults", "package", "selkies"
CAPPED = "package-4mbit"  # the package with c.NapariDesktop.max_mbit_per_s = 4
VIDEO = "package-video"  # the package with c.NapariDesktop.video = "auto" (H.264)
REALISTIC = ("fluorescence", "labels", "volume")
# Where the package is held against Selkies (the 3D volume draws too rarely on 2 CPUs).
AGAINST_REFERENCE = ("fluorescence", "labels")


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
    for proc in ("xvnc", "jupyter", "selkies", "napari"):
        out[f"cpu_{proc}"] = _median([w.get("cpu_percent", {}).get(proc) for w in windows])
    # What serves the page: our Jupyter server's websocket proxy, or Selkies (capture and
    # x264 encode); "total" adds Xvnc and napari.
    out["cpu_server"] = out["cpu_selkies"] if out["cpu_selkies"] is not None else out["cpu_jupyter"]
    for key, source in (("cpu_total", "cpu_percent"), ("idle_cpu_total", "idle_cpu_percent")):
        out[key] = _median([sum(w[source].values()) if w.get(source) else None for w in windows])
    out["idle_mbit_per_s"] = _median([w.get("idle_mbit_per_s") for w in windows])
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
    against: dict[str, Any] = {}
    for content in plain.get(CANDIDATE, {}):
        new = plain[CANDIDATE][content]
        for other, into in ((BASELINE, ratios), (REFERENCE, against)):
            old = plain.get(other, {}).get(content)
            if not old:
                continue
            into[content] = _ratios(new, old)
    capped: dict[str, Any] = {}
    for content, new in plain.get(CAPPED, {}).items():
        old = plain.get(BASELINE, {}).get(content)
        if old:
            capped[content] = _ratios(new, old)
    summ["ratios"] = ratios
    summ["ratios_selkies"] = against
    summ["ratios_capped"] = capped
    for key, other in (
        ("ratios_video", BASELINE),
        ("ratios_video_tight", CANDIDATE),
        ("ratios_video_selkies", REFERENCE),
    ):
        summ[key] = {
            content: _ratios(new, plain[other][content])
            for content, new in plain.get(VIDEO, {}).items()
            if plain.get(other, {}).get(content)
        }
    return summ


def _ratios(new: dict[str, Any], old: dict[str, Any]) -> dict[str, Optional[float]]:
    return {
        "mbit": _ratio(new["mbit_per_s"], old["mbit_per_s"]),
        "key_p50": _ratio(new["key_p50_ms"], old["key_p50_ms"]),
        "canvas_fps": _ratio(new["canvas_fps"], old["canvas_fps"]),
        "cpu_total": _ratio(new["cpu_total"], old["cpu_total"]),
    }


def _ratio(a: Optional[float], b: Optional[float]) -> Optional[float]:
    if a is None or b in (None, 0):
        return None
    return round(a / b, 3)


def targets(summ: dict[str, Any]) -> list[dict[str, Any]]:
    out = []
    ratios = summ.get("ratios", {})
    plain = summ.get("plain", {}).get(CANDIDATE, {})
    slow = summ.get("slow", {}).get(CANDIDATE, {})
    base = "noVNC defaults"
    for content in REALISTIC:
        r = ratios.get(content, {})
        out.append(_target(f"{content}: Mbit/s, package / {base}", r.get("mbit"), 1 / 3, "x"))
        out.append(
            _target(f"{content}: key -> pixels p50, package / {base}", r.get("key_p50"), 1.0, "x")
        )
        exact = plain.get(content, {}).get("psnr_1s_after_stop")
        out.append({
            "target": f"{content}: still picture exact 1 s after napari stops (PSNR)",
            "measured": exact, "limit": math.inf, "unit": "dB",
            "met": None if exact is None else exact == math.inf,
        })  # fmt: skip
    capped = f"package at 4 Mbit/s / {base}"
    for content, r in summ.get("ratios_capped", {}).items():
        if content in REALISTIC:
            out.append(_target(f"{content}: Mbit/s, {capped}", r.get("mbit"), 1 / 3, "x"))
            out.append(
                _target(f"{content}: key -> pixels p50, {capped}", r.get("key_p50"), 1.0, "x")
            )
    against = summ.get("ratios_selkies", {})
    for content in AGAINST_REFERENCE:
        r = against.get(content, {})
        out.append(_target(f"{content}: key -> pixels p50, package / Selkies", r.get("key_p50"),
                           0.5, "x"))  # fmt: skip
        out.append({
            "target": f"{content}: Mbit/s, package / Selkies (the issue's wish, no number)",
            "measured": r.get("mbit"), "limit": 1.0, "unit": "x",
            "met": None if r.get("mbit") is None else r["mbit"] <= 1.0,
        })  # fmt: skip
    video_plain = summ.get("plain", {}).get(VIDEO, {})
    for content in REALISTIC:
        if content not in video_plain:
            continue
        r = summ.get("ratios_video", {}).get(content, {})
        t = summ.get("ratios_video_tight", {}).get(content, {})
        k = summ.get("ratios_video_selkies", {}).get(content, {})
        out.append(_target(f"{content}: Mbit/s, video / {base}", r.get("mbit"), 1 / 3, "x"))
        out.append(_target(f"{content}: key -> pixels p50, video / package (Tight)",
                           t.get("key_p50"), 1.0, "x"))  # fmt: skip
        fps = t.get("canvas_fps")
        out.append({
            "target": f"{content}: frames shown, video / package (Tight)",
            "measured": fps, "limit": 1.0, "unit": "x",
            "met": None if fps is None else fps >= 1.0,
        })  # fmt: skip
        if k:
            out.append(_target(f"{content}: Mbit/s, video / Selkies", k.get("mbit"), 1.0, "x"))
            out.append(_target(f"{content}: key -> pixels p50, video / Selkies",
                               k.get("key_p50"), 0.5, "x"))  # fmt: skip
        exact = video_plain[content].get("psnr_1s_after_stop")
        out.append({
            "target": f"{content}: video: still picture exact 1 s after napari stops (PSNR)",
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
        lines += [
            "",
            f"## Bandwidth per content ({geometry}, Chromium: noVNC, and Selkies' own page)",
            "",
        ]
        variants = data.get("variants", {})
        lines += [
            "Variants: "
            + "; ".join(f"**{k}** {_variant(k, v, data)}" for k, v in variants.items())
            + ".",
            "",
        ]
        met = {True: "yes", False: "**no**", None: "not measured"}
        rows = [
            [t["target"], f"{_fmt(t['measured'])} {t['unit']}", f"{_fmt(t['limit'])} {t['unit']}",
             met[t["met"]]]
            for t in targets(summ)
        ]  # fmt: skip
        lines += table(["target", "measured", "limit", "met"], rows)
        for link, title in (("plain", "loopback"), ("slow", "slow link")):
            if link not in summ:
                continue
            lines += ["", f"### {title}" + (
                f" ({data['slow_link']['mbit_per_s']:g} Mbit/s, {data['slow_link']['rtt_ms']:g} ms"
                " RTT, loopback proxy)" if link == "slow" else ""), ""]  # fmt: skip
            header = ["content", "variant", "Mbit/s", "canvas changes/s", "napari draws/s",
                      "key → pixels p50 / p95 ms (n)",
                      "CPU % Xvnc / server / napari = total",
                      "PSNR moving dB", "PSNR 1 s after stop", "exact after s",
                      "idle: Mbit/s, CPU % total"]  # fmt: skip
            rows = []
            for variant, contents in summ[link].items():
                for content, s in contents.items():
                    rows.append([
                        content, variant, _fmt(s["mbit_per_s"]), _fmt(s["canvas_fps"], 1),
                        _fmt(s["napari_draws_per_s"], 1),
                        f"{_fmt(s['key_p50_ms'], 0)} / {_fmt(s['key_p95_ms'], 0)} ({s['keys']})",
                        f"{_fmt(s['cpu_xvnc'], 0)} / {_fmt(s['cpu_server'], 0)} / "
                        f"{_fmt(s['cpu_napari'], 0)} = {_fmt(s['cpu_total'], 0)}",
                        _fmt(s["psnr_moving"], 1), _fmt(s["psnr_1s_after_stop"], 1),
                        _fmt(s["exact_after_stop_s"]),
                        f"{_fmt(s['idle_mbit_per_s'])}, {_fmt(s['idle_cpu_total'], 0)}",
                    ])  # fmt: skip
            rows.sort(key=lambda r: (r[0], r[1]))
            lines += table(header, rows)
        for key, title in (
            ("ratios", "package / noVNC defaults"),
            ("ratios_capped", "package at 4 Mbit/s / noVNC defaults"),
            ("ratios_selkies", "package / Selkies"),
            ("ratios_video", "video / noVNC defaults"),
            ("ratios_video_tight", "video / package (Tight)"),
            ("ratios_video_selkies", "video / Selkies"),
        ):
            if summ.get(key):
                lines += ["", f"Ratios {title} (loopback): " + "; ".join(
                    f"{c}: Mbit/s {_fmt(r['mbit'])}, key p50 {_fmt(r['key_p50'])}, "
                    f"canvas changes/s {_fmt(r['canvas_fps'])}, CPU total {_fmt(r['cpu_total'])}"
                    for c, r in summ[key].items()
                ) + "."]  # fmt: skip
        cdp = data.get("cdp_throttle_check")
        if cdp:
            lines += ["", "Chromium's own network emulation (CDP) at "
                      f"{cdp['emulated_mbit_per_s']:g} Mbit/s: {cdp['measured_mbit_per_s']:g} "
                      "Mbit/s reached the page through the websocket (it does throttle "
                      "websockets in this Chromium)."]  # fmt: skip
        lines += ["", METHOD]
    return lines


def _variant(name: str, options: dict[str, Any], data: dict[str, Any]) -> str:
    if name != REFERENCE:
        return str(options or "the package defaults")
    info = data.get("selkies", {})
    versions = info.get("versions", {})
    flags = " ".join(f"--{k} {v}" for k, v in info.get("options", {}).items())
    return (
        f"the package's desktop shown through Selkies {versions.get('selkies', '?')} "
        f"(pixelflux {versions.get('pixelflux', '?')}) instead of our page: `selkies {flags}`"
    )


METHOD = """\
How the bandwidth part measures (`benchmarks/bandwidth.py`): one Jupyter server per
variant, all running side by side, each with its page open in Chromium at 1920x1080; napari
(`napari_scene.py`) shows each content in turn and plays it in one variant at a time (the
others idle). A script in the page counts the bytes of every websocket message received (on
the page, and in workers started from blob scripts: Selkies reads its socket in one) and
watches the middle quarter of the remote screen on every animation frame (the largest
canvas or video on show: noVNC's canvas, Selkies' video, whose current frame is drawn into
a canvas to be read). "canvas changes/s" counts visible changes of that box: a mean
difference from the frame before of at least 0.5 levels per channel (Selkies keeps refining
a still picture by a level here and there, ~45 times a second; a napari frame changes the
box by 2 and more). An update that arrives in parts can count more than once, so it can
exceed napari's draws. Key → pixels is keydown (page clock) to the first frame whose box
differs visibly from the one shown at keydown; the next key waits for it and goes down once
the box has shown no visible change for 1 s (the exact picture of the key before is there
on every path). PSNR compares the box with the X screen read losslessly at the same moment
(a Raw RFB client on the VNC socket; Selkies' video has the X screen's size, 1:1, so the
boxes are the same pixels): "moving" on the frame of one key press once it is all there
(encoded as while playing), and 1 s after napari stops playing (∞ = identical). CPU: user +
system seconds of each process (psutil) over the playing window, and over 2 s with napari
still before it ("idle"); "server" is our Jupyter server (its websocket proxy) or Selkies'
process tree (capture, x264 encode, websocket). The slow link is a loopback proxy
(`throttle.py`) in front of the Jupyter server (or Selkies): a rate limit each way, half
the RTT as delay each way, a 50 ms buffer. Selkies (`selkies.py`, from
`benchmarks/.venv-selkies`) shows a desktop of the package (its Xvnc and session), with
Selkies' defaults for the video: websockets, x264 at 60 frames/s, CBR 8000 kbit/s with its
congestion control, a still screen cleaned up at CRF 18, 4:2:0; the desktop's size is kept,
and audio, webcam, gamepads, printing and the login are off. Contents: `noise` the stack
measured so far (cells under strong noise, grey), `fluorescence` smooth 3D cells with a
little noise (magma), `labels` the same with their masks painted over (labels layer,
opacity 0.5), `volume` a 64x256x256 volume rendered in 3D while the camera turns (green)."""
