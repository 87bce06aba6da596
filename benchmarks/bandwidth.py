"""Bandwidth, frames, latency, CPU and picture quality of the desktop page, per content.

Measured in Chromium on the real desktop page (noVNC), not with the Python RFB client:
``PAGE_STATS`` (a Playwright init script) counts the bytes of the page's websockets (also
one read in a worker), watches a box in the middle of the remote screen (the largest canvas
or video) on every animation frame (a visible change is a frame shown; the first visible
change after a key press is key -> changed pixels) and keeps the first still frame after
napari stops. The X screen itself is read losslessly (a Raw RFB client on the VNC unix
socket) and compared with the page: PSNR of the box, on the frame shown when napari stops
(encoded as while playing) and 1 s later (after TigerVNC's lossless refresh).

Desktops with different settings ("variants": noVNC's defaults, the package's) run side by
side and take turns, each content in every variant, so that all see the same load. The
"selkies" variant is the streaming reference: a desktop of the package (its Xvnc, its
session) shown through Selkies 2.1 (H.264 over websockets, ``selkies.py``) instead of our
page; the same script watches Selkies' page (it draws into a video, read through a
canvas), and the same Raw client reads that desktop's X screen.
"""

from __future__ import annotations

import asyncio
import base64
import io
import math
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Optional

import numpy as np

from tests.support import procs
from tests.support.jupyter import JupyterServer
from tests.support.rfb import RFBClient
from tests.support.stats import percentile
from tests.support.waiting import wait_for

from . import images
from . import selkies as selkies_server
from .measure import Run, read_status, rotations, size_of, start_scene
from .throttle import Throttle

# noVNC's own defaults (quality 6, compression 2, no adaptive quality: what the package sent
# before issue #13 and what jupyter-remote-desktop-proxy's page sends), pinned as the baseline.
NOVNC_DEFAULTS = {"quality": 6, "compression": 2, "frame_rate": 60, "adaptive_quality": False}
# "selkies": the package's desktop (defaults), shown through Selkies instead of our page.
SELKIES = "selkies"
# The package as it is (its Tight path), with the per-tab limit a workshop on one Wi-Fi would
# set, and with its video path (H.264 of the moving area, docs/video.md; needs PyAV).
VARIANTS: dict[str, dict[str, Any]] = {
    "novnc-defaults": NOVNC_DEFAULTS,
    "package": {},
    "package-4mbit": {"max_mbit_per_s": 4},
    "package-video": {"video": "auto"},
    SELKIES: {},
}
CONTENTS = ("noise", "fluorescence", "labels", "volume")
SLOW_LINK = {"mbit_per_s": 10.0, "rtt_ms": 40.0}

PAGE_STATS = """
(() => {
  const bw = window.__bw = {bytes: 0, changes: 0, shown: 0, lastChange: 0, keyAt: null,
                            keyRef: null, keys: [],
                            stopArmed: false, stopFrame: null, stopAt: null, box: null,
                            active: false};
  // Bytes of every websocket message received: on the page, and in workers (Selkies reads
  // its socket in one), whose scripts come from blob URLs: those get the same counter in
  // front, reporting through a BroadcastChannel.
  function countSockets(scope, add) {
    if (typeof scope.WebSocket !== 'function' || scope.__bwCounted) return;
    scope.__bwCounted = true;
    const Native = scope.WebSocket;
    // noVNC checks the socket's own prototype for its methods: hand it a native one.
    const Counted = function (url, protocols) {
      const ws = new Native(url, protocols);
      ws.addEventListener('message', e => {
        const d = e.data;
        add(d.byteLength !== undefined ? d.byteLength : (d.size || d.length || 0));
      });
      return ws;
    };
    Counted.prototype = Native.prototype;
    for (const k of ['CONNECTING', 'OPEN', 'CLOSING', 'CLOSED']) Counted[k] = Native[k];
    scope.WebSocket = Counted;
  }
  countSockets(window, n => { bw.bytes += n; });
  new BroadcastChannel('__bw').onmessage = e => { bw.bytes += e.data; };
  const prelude = `if (typeof BroadcastChannel === 'function') {
    const channel = new BroadcastChannel('__bw');
    (${countSockets})(self, n => channel.postMessage(n));
  }\n`;
  const objectURL = URL.createObjectURL;
  URL.createObjectURL = function (obj) {
    if (obj instanceof Blob && /javascript/.test(obj.type)) {
      obj = new Blob([prelude, obj], {type: obj.type});
    }
    return objectURL.call(URL, obj);
  };
  // On the window, capturing: before any handler of the page can stop the event.
  window.addEventListener('keydown', () => {
    bw.keyAt = performance.now();
    bw.keyRef = null;
  }, true);
  // The remote screen: the largest canvas or video on show (noVNC draws into a canvas,
  // Selkies into a video).
  const size = el => el.tagName === 'VIDEO' ? [el.videoWidth, el.videoHeight]
                                            : [el.width, el.height];
  const screen = () => {
    let best = null, area = 0;
    for (const el of document.querySelectorAll('canvas, video')) {
      const r = el.getBoundingClientRect();
      if (r.width * r.height > area) { best = el; area = r.width * r.height; }
    }
    return best;
  };
  bw.canvas = screen;
  const scratch = document.createElement('canvas');
  const scratchCtx = scratch.getContext('2d', {willReadFrequently: true});
  // Pixels of a box of the screen: a 2D canvas's own, else the element drawn at its own
  // size (a video's current frame).
  const pixels = (el, x, y, w, h) => {
    if (el.tagName === 'CANVAS') {
      let ctx = null;
      try { ctx = el.getContext('2d'); } catch (err) { ctx = null; }
      if (ctx) return ctx.getImageData(x, y, w, h);
    }
    if (scratch.width !== w || scratch.height !== h) { scratch.width = w; scratch.height = h; }
    scratchCtx.drawImage(el, x, y, w, h, 0, 0, w, h);
    return scratchCtx.getImageData(0, 0, w, h);
  };
  bw.size = () => { const el = screen(); return el ? size(el) : [0, 0]; };
  // A visible change: the mean difference of the box's (sampled) pixels from the frame
  // before is at least VISIBLE levels per channel. A video codec keeps touching a picture
  // (Selkies refines a still one, ~0.03 on average, and a new one for a few frames after
  // it came, up to ~0.35); a napari frame (the next plane of the smooth fluorescence
  // stack, the labels, a turn of the volume) changes it by 2 and more.
  const VISIBLE = 0.5;
  const difference = (a, b) => {
    let sum = 0, n = 0;
    for (let i = 0; i < a.length; i += 8) {
      sum += Math.abs(a[i] - b[i]) + Math.abs(a[i + 1] - b[i + 1]) + Math.abs(a[i + 2] - b[i + 2]);
      n += 3;
    }
    return n ? sum / n : 0;
  };
  let previous = null, pendingStop = false;
  const tick = () => {
    requestAnimationFrame(tick);
    if (!bw.active) return;  // only the page being measured looks at its screen
    const el = screen();
    if (!el) return;
    const [width, height] = size(el);
    if (width < 256 || height < 256) return;
    const w = width >> 2, h = height >> 2, x = (width - w) >> 1, y = (height - h) >> 1;
    bw.box = [x, y, w, h];
    const d = pixels(el, x, y, w, h).data;
    const now = performance.now();
    if (bw.keyAt !== null) {
      // key -> the box differs visibly from what it showed when the key went down
      if (bw.keyRef === null) bw.keyRef = d;
      else if (difference(d, bw.keyRef) >= VISIBLE) {
        bw.keys.push(now - bw.keyAt);
        bw.keyAt = bw.keyRef = null;
      }
    }
    const changed = previous !== null && previous.length === d.length
      ? difference(d, previous) : null;
    if (changed !== null && changed > 0) bw.changes++;
    if (changed !== null && changed >= VISIBLE) {
      bw.shown++;
      bw.lastChange = now;
      if (bw.stopArmed) pendingStop = true;
    } else if (pendingStop && now - bw.lastChange > 100) {
      bw.stopFrame = pixels(el, 0, 0, width, height);
      bw.stopAt = now;
      pendingStop = false;
      bw.stopArmed = false;
    }
    if (changed === null || changed > 0) previous = d;
  };
  requestAnimationFrame(tick);
  bw.png = (which) => {
    const el = screen();
    const frame = which === 'stop' ? bw.stopFrame : pixels(el, 0, 0, ...size(el));
    const out = document.createElement('canvas');
    out.width = frame.width; out.height = frame.height;
    out.getContext('2d').putImageData(frame, 0, 0);
    return out.toDataURL('image/png');
  };
})();
"""


@dataclass
class Desktop:
    """One variant: its server, its page in Chromium, the napari scene it shows now."""

    name: str
    options: dict[str, Any]
    server: JupyterServer
    ctx: Any = None
    page: Any = None
    scene: Any = None
    throttle: Optional[Throttle] = None
    selkies: Optional[selkies_server.Selkies] = None
    windows: dict[str, list[dict[str, Any]]] = field(default_factory=dict)


def content_files(run: Run) -> dict[str, tuple[Path, list[str]]]:
    """Each content's stack and napari_scene.py arguments."""
    work = run.work
    fluo = images.write_fluorescence(work / "fluo100.npy", 100, labels=work / "labels100.npy")
    volume = images.write_fluorescence(work / "volume64.npy", 64, 256, seed=8)
    return {
        "noise": (run.stack100, []),
        "fluorescence": (fluo, ["--colormap", "magma"]),
        "labels": (fluo, ["--labels", str(work / "labels100.npy")]),
        "volume": (volume, ["--rotate", "--colormap", "green"]),
    }


def rgb_of_png(data_url: str) -> np.ndarray:
    from PIL import Image

    raw = base64.b64decode(data_url.split(",", 1)[1])
    return np.asarray(Image.open(io.BytesIO(raw)).convert("RGB"))


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    if a.shape != b.shape:
        raise ValueError(f"canvas {a.shape} and X screen {b.shape} differ in size")
    mse = float(np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2))
    return math.inf if mse == 0 else round(10 * math.log10(255**2 / mse), 2)


async def x_screen(server: JupyterServer) -> np.ndarray:
    socket_path = server.vnc_socket()
    assert socket_path, "the desktop has no VNC socket"
    client = await RFBClient.connect_unix(socket_path, raw=True)
    try:
        # The whole screen, as the server had it when this client connected.
        full = client.width * client.height
        wait_until = time.monotonic() + 10
        while sum(u.area for u in client.stats.updates) < full:
            if time.monotonic() > wait_until or client.error is not None:
                raise RuntimeError(f"no full screen from the VNC socket: {client.error}")
            await asyncio.sleep(0.02)
        assert client.fb is not None
        return client.fb[:, :, :3].copy()
    finally:
        await client.close()


async def compare(desk: Desktop, which: str) -> Optional[float]:
    """PSNR (dB; inf = identical) of the canvas box ("now", or the frame kept by the page:
    "stop") against the X screen's now."""
    shown = rgb_of_png(await desk.page.evaluate(f"window.__bw.png({which!r})"))
    truth = await x_screen(desk.server)
    x, y, w, h = await desk.page.evaluate("window.__bw.box")
    return psnr(shown[y : y + h, x : x + w], truth[y : y + h, x : x + w])


async def open_page(run: Run, desk: Desktop, width: int, height: int) -> None:
    from .browser import BAR_HEIGHT

    assert run.browser is not None and run.browser.chromium is not None
    # Selkies' page is the remote screen alone; ours has its bar above it.
    bar = 0 if desk.selkies else BAR_HEIGHT["ours"]
    desk.ctx = await run.browser.chromium.new_context(
        viewport={"width": width, "height": height + bar}
    )
    await desk.ctx.add_init_script(PAGE_STATS)
    desk.page = await desk.ctx.new_page()
    if desk.selkies is not None:
        port = desk.throttle.port if desk.throttle else desk.selkies.port
        await desk.page.goto(f"http://127.0.0.1:{port}/", timeout=120_000)
        # Shown: the video has the X screen's size and a picture.
        await desk.page.wait_for_function(
            f"window.__bw.size()[0] === {width} && window.__bw.size()[1] === {height}",
            timeout=120_000,
        )
        return
    port = desk.throttle.port if desk.throttle else desk.server.port
    url = f"http://127.0.0.1:{port}{desk.server.base_url}napari-desktop/?app=desktop"
    await desk.page.goto(f"{url}&token={desk.server.token}", timeout=120_000)
    await desk.page.wait_for_function(
        "window.napariDesktop && window.napariDesktop.state === 'connected'", timeout=120_000
    )


async def close_page(desk: Desktop) -> None:
    if desk.ctx is not None:
        await desk.ctx.close()
    desk.ctx = desk.page = None


async def turn(run: Run, desk: Desktop, width: int, height: int) -> None:
    """Selkies' page is open only for its own turns: with a tab connected it encodes the
    still screen about 45 times a second (about 60% of a core here), which would slow napari
    in the others' turns."""
    if desk.selkies is not None and desk.page is None:
        await open_page(run, desk, width, height)
        await asyncio.sleep(2)


async def turn_over(desk: Desktop) -> None:
    if desk.selkies is not None:
        await close_page(desk)


async def page_value(desk: Desktop, expr: str) -> Any:
    return await desk.page.evaluate(expr)


# A key is pressed once no visible change came for this long: after both paths' exact
# picture of the key before (the page's refresh of the Tight path comes up to 700 ms after
# the last picture, the video path's up to 600 ms). With 400 ms the Tight path's refresh
# often arrived just after the next key went down; its change of the box (JPEG to exact)
# was then timed as that key's picture: 0-7 of 20 keys per window at 14-75 ms, which napari
# cannot draw (its fastest key here takes about 95 ms), the video path never.
KEY_QUIET_MS = 1000


async def wait_still(desk: Desktop, still_ms: float, timeout: float) -> float:
    """Wait until the canvas box has not changed for ``still_ms``; seconds waited."""
    start = time.monotonic()
    while time.monotonic() - start < timeout:
        quiet = await page_value(desk, "performance.now() - window.__bw.lastChange")
        if quiet >= still_ms:
            break
        await asyncio.sleep(0.05)
    return round(time.monotonic() - start, 3)


async def napari_still(scene: Any, quiet: float = 0.6, timeout: float = 10) -> float:
    """Wait until napari has drawn nothing for ``quiet`` s (its status comes every 0.25 s);
    the monotonic time its draw count last changed."""
    start = time.monotonic()
    last, changed = read_status(scene.status).get("draws"), start
    while time.monotonic() - changed < quiet and time.monotonic() - start < timeout:
        await asyncio.sleep(0.05)
        draws = read_status(scene.status).get("draws")
        if draws != last:
            last, changed = draws, time.monotonic()
    return changed


async def caught_up(desk: Desktop, timeout: float) -> Optional[float]:
    """Seconds after now until the canvas box equals the X screen's (None: not in time)."""
    start = time.monotonic()
    while time.monotonic() - start < timeout:
        if await compare(desk, "now") == math.inf:
            return round(time.monotonic() - start, 3)
        await asyncio.sleep(0.1)
    return None


async def window(run: Run, desk: Desktop, seconds: float, keys: int) -> dict[str, Any]:
    """Play ``seconds``, stop, compare the pictures, then press ``keys`` keys."""
    scene, server = desk.scene, desk.server
    assert server.proc is not None
    pids = {"xvnc": [server.xvnc() or 0], "napari": [scene.proc.pid]}
    if desk.selkies is not None:
        pids["selkies"] = desk.selkies.pids()  # the Jupyter server has nothing to do
    else:
        pids["jupyter"] = [server.proc.pid]  # its websocket proxy
    await page_value(desk, "window.__bw.active = true")
    try:
        return await measure_window(desk, seconds, keys, pids)
    finally:
        await page_value(desk, "window.__bw.active = false")


async def measure_window(
    desk: Desktop, seconds: float, keys: int, pids: dict[str, list[int]]
) -> dict[str, Any]:
    scene = desk.scene
    x, y = await centre(desk)
    await desk.page.mouse.click(x, y)  # napari's canvas takes the keys
    # The pointer leaves the compared box: the X screen read through the Raw client has
    # the cursor drawn in, noVNC's canvas (and Selkies' video) does not.
    await desk.page.mouse.move(x, y * 0.45)
    counts = "[window.__bw.bytes, window.__bw.shown, window.__bw.changes]"
    out: dict[str, Any] = {}
    # Idle (napari still): what the stream costs when nothing moves.
    await asyncio.sleep(1.0)
    cpu0 = {name: sum(map(procs.cpu_seconds, tree)) for name, tree in pids.items()}
    bytes0, _, changes0 = await page_value(desk, counts)
    t0 = time.perf_counter()
    await asyncio.sleep(2.0)
    bytes1, _, changes1 = await page_value(desk, counts)
    cpu1 = {name: sum(map(procs.cpu_seconds, tree)) for name, tree in pids.items()}
    elapsed = time.perf_counter() - t0
    out["idle_mbit_per_s"] = round((bytes1 - bytes0) * 8 / elapsed / 1e6, 2)
    out["idle_any_changes_per_s"] = round((changes1 - changes0) / elapsed, 2)
    out["idle_cpu_percent"] = {n: round(100 * (cpu1[n] - cpu0[n]) / elapsed, 1) for n in pids}
    scene.control.write_text("play")
    await asyncio.sleep(1.5)
    cpu0 = {name: sum(map(procs.cpu_seconds, tree)) for name, tree in pids.items()}
    bytes0, shown0, changes0 = await page_value(desk, counts)
    status0, t0 = read_status(scene.status), time.perf_counter()
    await asyncio.sleep(seconds)
    bytes1, shown1, changes1 = await page_value(desk, counts)
    status1, t1 = read_status(scene.status), time.perf_counter()
    cpu1 = {name: sum(map(procs.cpu_seconds, tree)) for name, tree in pids.items()}
    elapsed = t1 - t0
    draws = status1.get("draws", 0) - status0.get("draws", 0)
    napari_s = status1.get("time", 0) - status0.get("time", 0)
    out |= {
        "mbit_per_s": round((bytes1 - bytes0) * 8 / elapsed / 1e6, 2),
        "canvas_fps": round((shown1 - shown0) / elapsed, 2),  # visible changes
        "any_changes_per_s": round((changes1 - changes0) / elapsed, 2),
        "napari_draws_per_s": round(draws / napari_s, 2) if napari_s > 0 else None,
        "cpu_percent": {n: round(100 * (cpu1[n] - cpu0[n]) / elapsed, 1) for n in pids},
    }
    if out["napari_draws_per_s"]:
        out["delivered_share"] = round(out["canvas_fps"] / out["napari_draws_per_s"], 3)
    scene.control.write_text("stop")
    wait_for(lambda: not read_status(scene.status).get("playing", True), 5, "napari to stop")
    still = await napari_still(scene)
    await asyncio.sleep(max(0.0, still + 1.0 - time.monotonic()))
    out["psnr_1s_after_stop"] = await compare(desk, "now")
    if out["psnr_1s_after_stop"] == math.inf:
        out["exact_after_stop_s"] = 1.0  # exact by then (at most 1 s)
    else:
        caught = await caught_up(desk, 5)
        out["exact_after_stop_s"] = None if caught is None else round(time.monotonic() - still, 3)
    # A picture encoded as while moving: the frame of one key, once it is all there.
    await wait_still(desk, 500, 3)
    await page_value(desk, "window.__bw.stopFrame = null, window.__bw.stopArmed = true")
    await desk.page.keyboard.press("ArrowRight")
    frame_deadline = time.monotonic() + 5
    kept = False
    while time.monotonic() < frame_deadline and not kept:
        kept = await page_value(desk, "window.__bw.stopFrame !== null")
        await asyncio.sleep(0.02)
    await napari_still(scene)
    # Never still for 100 ms within 5 s (a picture that keeps changing visibly): now's.
    out["moving_frame_still"] = kept
    out["psnr_moving"] = await compare(desk, "stop" if kept else "now")
    # Keys: Right/Left step the slider (or turn the volume); page time key -> changed box.
    await page_value(desk, "window.__bw.keys = [], window.__bw.keyAt = null")
    for index in range(keys):
        await wait_still(desk, KEY_QUIET_MS, 3)
        seen = len(await page_value(desk, "window.__bw.keys"))
        await desk.page.keyboard.press("ArrowRight" if index % 2 == 0 else "ArrowLeft")
        # The next key only once this one's change came (or 3 s): a key pressed before
        # would take its place and be timed from the later press.
        deadline = time.monotonic() + 3
        while time.monotonic() < deadline:
            if await page_value(desk, "window.__bw.keys.length") > seen:
                break
            await asyncio.sleep(0.02)
        await asyncio.sleep(0.15)
    await wait_still(desk, 400, 3)
    out["key_to_pixels_ms"] = [round(v, 1) for v in await page_value(desk, "window.__bw.keys")]
    return out


async def centre(desk: Desktop) -> tuple[float, float]:
    box = await desk.page.evaluate(
        "(() => { const r = window.__bw.canvas().getBoundingClientRect();"
        " return [r.left + r.width / 2, r.top + r.height / 2]; })()"
    )
    return float(box[0]), float(box[1])


async def cdp_throttle_check(run: Run, desk: Desktop, seconds: float) -> dict[str, Any]:
    """Mbit/s with Chromium's own emulation at the slow link's rate: does it hold back
    websocket frames?"""
    cdp = await desk.ctx.new_cdp_session(desk.page)
    rate = SLOW_LINK["mbit_per_s"] * 1e6 / 8
    await cdp.send("Network.enable")
    await cdp.send(
        "Network.emulateNetworkConditions",
        {
            "offline": False,
            "latency": SLOW_LINK["rtt_ms"],
            "downloadThroughput": rate,
            "uploadThroughput": rate,
        },
    )
    try:
        desk.scene.control.write_text("play")
        await asyncio.sleep(1.5)
        b0 = await page_value(desk, "window.__bw.bytes")
        t0 = time.perf_counter()
        await asyncio.sleep(seconds)
        b1 = await page_value(desk, "window.__bw.bytes")
        mbit = round((b1 - b0) * 8 / (time.perf_counter() - t0) / 1e6, 2)
    finally:
        desk.scene.control.write_text("stop")
        await cdp.send(
            "Network.emulateNetworkConditions",
            {
                "offline": False,
                "latency": 0,
                "downloadThroughput": -1,
                "uploadThroughput": -1,
            },
        )
        await cdp.detach()
    return {"emulated_mbit_per_s": SLOW_LINK["mbit_per_s"], "measured_mbit_per_s": mbit}


async def start_variant(
    run: Run, name: str, options: dict[str, Any], geometry: str, program: Optional[Path] = None
) -> Desktop:
    """A desktop of the package (``options``: c.NapariDesktop); with ``program``, Selkies
    serving it."""
    server = run.start_server(
        "ours", {"geometry": geometry, "autostart_napari": False, **options}, app="server"
    )
    status, _ = server.request("POST", "napari-desktop/api/start", {"app": "desktop"})
    if status != 200:
        raise RuntimeError(f"{name}: POST napari-desktop/api/start answered {status}")
    desk = Desktop(name, options, server)
    if program is not None:
        wait_for(server.vnc_socket, 60, f"{name}: the desktop's Xvnc")
        desk.selkies = selkies_server.Selkies(program, server.x_env(), run.tmp(name))
        run.live.append(desk.selkies.stop)
        desk.selkies.start()
    return desk


async def show(run: Run, desk: Desktop, geometry: str, content: str, files: dict) -> None:
    if desk.scene is not None:
        procs.stop_tree(desk.scene.proc.pid, 5)
    stack, extra = files[content]
    desk.scene = await start_scene(
        run, desk.server, geometry, f"{desk.name}-{content}", stack=stack, extra=extra
    )
    wait_for(lambda: read_status(desk.scene.status).get("draws", 0) > 0, 60, "napari's draw")


async def bandwidth(
    run: Run,
    geometry: str,
    variants: Optional[dict[str, dict[str, Any]]] = None,
    contents: tuple[str, ...] = CONTENTS,
    slow_contents: tuple[str, ...] = ("fluorescence",),
) -> None:
    """Every content in every variant, on the plain link and on the slow one."""
    variants = variants or VARIANTS
    slow_contents = tuple(c for c in slow_contents if c in contents)  # only what was asked
    width, height = size_of(geometry)
    plan = run.plan
    seconds = plan.stream_seconds
    # 20 keys per window: with 7, p50 moved by a third between runs of the same code.
    keys = max(20, plan.latency_samples // 2)
    rounds = 1 if plan.mode == "quick" else 2
    files = content_files(run)
    desks: list[Desktop] = []
    results: dict[str, Any] = {"variants": variants, "slow_link": SLOW_LINK}
    program = None
    try:
        if SELKIES in variants:
            try:
                program = selkies_server.ensure_venv()
            except (OSError, subprocess.CalledProcessError) as err:
                # Our variants are measured all the same; the report names what failed.
                run.fail(f"bandwidth: Selkies not installed into {selkies_server.VENV}", err)
                variants = {k: v for k, v in variants.items() if k != SELKIES}
                results["variants"] = variants
            else:
                results["selkies"] = {
                    "versions": selkies_server.versions(),
                    "options": selkies_server.OPTIONS,
                }
        for name, options in variants.items():
            served_by = program if name == SELKIES else None
            desks.append(await start_variant(run, name, options, geometry, served_by))
        for desk in desks:
            await open_page(run, desk, width, height)
        for content in contents:
            if run.over_budget():
                run.log(f"time budget spent: skipping bandwidth {content}")
                break
            for desk in desks:
                await show(run, desk, geometry, content, files)
            await asyncio.sleep(2)
            for desk in desks:  # what each page shows (kept with --keep-work)
                await turn(run, desk, width, height)
                await desk.page.screenshot(path=str(run.work / f"bw-{desk.name}-{content}.png"))
                await turn_over(desk)
            for order in rotations(desks, rounds):
                for desk in order:
                    try:
                        await turn(run, desk, width, height)
                        got = await window(run, desk, seconds, keys)
                    except Exception as err:
                        run.fail(f"bandwidth {desk.name} {content} {geometry}", err)
                        continue
                    finally:
                        await turn_over(desk)
                    desk.windows.setdefault(content, []).append(got)
                    run.log(
                        f"bandwidth {desk.name} {content}: {got['mbit_per_s']} Mbit/s, "
                        f"{got['canvas_fps']} frames/s (napari {got['napari_draws_per_s']}), "
                        f"PSNR moving {got['psnr_moving']} / 1 s after stop "
                        f"{got['psnr_1s_after_stop']}, "
                        f"key p50 {percentile(got['key_to_pixels_ms'], 50)} ms"
                    )
        results["plain"] = {desk.name: desk.windows for desk in desks}
        # The slow link: each variant's page again, through the throttling proxy.
        slow: dict[str, Any] = {}
        for desk in desks:
            if run.over_budget():
                break
            await close_page(desk)
            target = desk.selkies.port if desk.selkies else desk.server.port
            desk.throttle = Throttle(target, **SLOW_LINK)
            await desk.throttle.start()
            await open_page(run, desk, width, height)
            for content in slow_contents:
                try:
                    await show(run, desk, geometry, content, files)
                    await asyncio.sleep(2)
                    got = await window(run, desk, seconds, keys)
                    slow.setdefault(desk.name, {})[content] = [got]
                    run.log(
                        f"slow link {desk.name} {content}: {got['mbit_per_s']} Mbit/s, "
                        f"{got['canvas_fps']} frames/s, exact after {got['exact_after_stop_s']} s, "
                        f"key p50 {percentile(got['key_to_pixels_ms'], 50)} ms"
                    )
                except Exception as err:
                    run.fail(f"slow link {desk.name} {content} {geometry}", err)
        results["slow"] = slow
        ours = [desk for desk in desks if desk.selkies is None]
        if ours and not run.over_budget():
            for other in desks:
                await turn_over(other)
            desk = next((d for d in ours if d.name == "package"), ours[-1])
            await close_page(desk)
            if desk.throttle is not None:
                await desk.throttle.stop()
            desk.throttle = None
            await open_page(run, desk, width, height)
            try:
                results["cdp_throttle_check"] = await cdp_throttle_check(run, desk, seconds)
                run.log(f"CDP emulation check: {results['cdp_throttle_check']}")
            except Exception as err:
                run.fail("CDP emulation check", err)
    except Exception as err:
        run.fail(f"bandwidth {geometry}", err)
    finally:
        for desk in desks:
            if desk.ctx is not None:
                try:
                    await desk.ctx.close()
                except Exception:
                    pass
            if desk.throttle is not None:
                await desk.throttle.stop()
            if desk.scene is not None:
                procs.stop_tree(desk.scene.proc.pid, 5)
            if desk.selkies is not None:
                desk.selkies.stop()
                run.live.remove(desk.selkies.stop)
            run.stop_server(desk.server)
    run.record("bandwidth", geometry, value=results)
