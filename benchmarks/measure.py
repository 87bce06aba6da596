"""The measurements: time to napari, streaming, input latency, memory.

Each function starts what it measures, measures, and stops it again (by pid), so that
only one desktop runs at a time. Every loop is bounded by a count and every wait by a
deadline; a failed sample is recorded as ``None`` with the reason in ``errors``.
"""

from __future__ import annotations

import asyncio
import json
import os
import statistics
import subprocess
import sys
import time
from collections.abc import Awaitable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Optional

from tests.support import procs
from tests.support.jupyter import JupyterServer
from tests.support.paths import ROOT
from tests.support.rfb import KEY_LEFT, KEY_RIGHT, RFBClient
from tests.support.waiting import wait_for

from . import browser as B
from . import images
from .servers import BareXvnc

HELPER = ROOT / "jupyter_napari_desktop" / "napari_side" / "napari_helper.py"
# An update covering this share of the screen carries a napari canvas frame: the image
# fills about a third of the screen in the maximized window; the slider, the status bar
# and the cursor are updates of well under 1%.
CANVAS_SHARE = 0.10
SCENE = Path(__file__).resolve().parent / "napari_scene.py"


@dataclass
class Plan:
    """How much to measure (``--quick`` or full)."""

    mode: str
    geometries: list[str]
    cold: int  # fresh servers per tool for cold starts
    prestart: int
    warm: int
    floor: int
    stream_windows: int  # per path
    stream_seconds: float
    latency_samples: int  # per path and input kind
    settle: float  # seconds for a desktop to settle before memory is read


QUICK = Plan("quick", ["1920x1080"], 2, 2, 3, 3, 3, 5.0, 15, 8.0)
# Full: the middle geometry gets every repeat, the others one cold start less.
FULL = Plan("full", ["1280x800", "1920x1080", "2560x1440"], 3, 3, 5, 5, 4, 6.0, 24, 10.0)


class Run:
    """Shared state of one benchmark run: paths, browser, results, the time budget."""

    def __init__(self, plan: Plan, work: Path, reference_python: Path, budget_s: float) -> None:
        self.plan = plan
        self.work = work
        self.reference_python = reference_python
        self.napari_python = Path(sys.executable)
        self.started = time.monotonic()
        self.budget_s = budget_s
        self.browser: Optional[B.Browser] = None
        self.results: dict[str, Any] = {}
        self.errors: list[str] = []
        self.loads: list[float] = []  # 1-minute load average at every log line
        self.live: list[Callable[[], None]] = []  # stoppers of what runs now
        self.pattern = images.write_pattern(work / "pattern.png")
        self.stack100 = images.write_stack(work / "stack100.npy", 100)
        self.stack50 = images.write_stack(work / "stack50.npy", 50, seed=5)
        self._counter = 0

    def tmp(self, name: str) -> Path:
        self._counter += 1
        path = self.work / f"{self._counter:02d}-{name}"
        path.mkdir(parents=True)
        return path

    def log(self, text: str) -> None:
        self.loads.append(round(os.getloadavg()[0], 2))
        elapsed = time.monotonic() - self.started
        print(f"[bench {elapsed:6.0f}s] {text}", flush=True)

    def over_budget(self) -> bool:
        return time.monotonic() - self.started > self.budget_s

    def record(self, *keys: str, value: Any) -> None:
        node = self.results
        for key in keys[:-1]:
            node = node.setdefault(key, {})
        node[keys[-1]] = value

    def fail(self, what: str, err: BaseException) -> None:
        message = f"{what}: {type(err).__name__}: {err}"
        self.errors.append(message)
        self.log("ERROR " + message)

    def start_server(self, tool: str, options: Optional[dict] = None, app: str = "lab"):
        """A Jupyter server of ours (c.NapariDesktop ``options``) or of the reference."""
        ours = tool == "ours"
        server = JupyterServer(
            self.tmp(f"{tool}-{app}"),
            {"first_display": 50, **(options or {})},
            app=app,
            python=self.napari_python if ours else self.reference_python,
            extension=ours,
        )
        self.live.append(server.stop_all)
        server.start(timeout=120)
        return server

    def stop_server(self, server: JupyterServer) -> None:
        server.stop_all()
        if server.stop_all in self.live:
            self.live.remove(server.stop_all)

    def spawn(self, argv: list[str], env: dict[str, str], name: str) -> subprocess.Popen[bytes]:
        proc = procs.start_logged(
            argv, self.work / f"{name}.log", stdout_too=False, env=env, cwd=env.get("HOME", "/")
        )
        self.live.append(lambda: procs.stop_tree(proc.pid, 5))
        return proc

    def stop_all(self) -> None:
        for stop in reversed(self.live):
            try:
                stop()
            except Exception as err:
                print(f"[bench] cleanup: {err}", file=sys.stderr)
        self.live.clear()


def size_of(geometry: str) -> tuple[int, int]:
    width, height = geometry.split("x")
    return int(width), int(height)


def ms(later: Optional[float], earlier: Optional[float]) -> Optional[float]:
    if later is None or earlier is None:
        return None
    return round((later - earlier) / 1000, 3)


# -- napari in a desktop ---------------------------------------------------------------
def napari_pids(server: JupyterServer) -> list[int]:
    return [
        pid
        for pid in server.desktop_pids()
        if any(
            word.endswith(("napari_helper.py", "napari_scene.py")) for word in procs.cmdline(pid)
        )
    ]


def kill_napari(server: JupyterServer) -> None:
    for pid in napari_pids(server):
        procs.stop_tree(pid, 5)
    wait_for(lambda: not napari_pids(server), 15, "napari to exit")


def window_shown(env: dict[str, str], name: str) -> bool:
    done = subprocess.run(
        ["xwininfo", "-root", "-tree"], env=env, capture_output=True, text=True, timeout=10
    )
    return name in done.stdout


async def wait_pattern_on_screen(socket_path: str, timeout: float) -> float:
    """Seconds until napari's pattern is on the X screen (read with a Raw VNC client)."""
    start = time.perf_counter()
    client = await RFBClient.connect_unix(socket_path, raw=True)
    try:
        while time.perf_counter() - start < timeout:
            if images.shows_pattern(await client.snapshot()):
                return time.perf_counter() - start
            await asyncio.sleep(0.1)
    finally:
        await client.close()
    raise TimeoutError(f"napari's pattern not on the screen after {timeout:g} s")


# -- 1. time to napari -----------------------------------------------------------------
async def napari_floor(run: Run, geometry: str) -> None:
    """napari's own start on a bare Xvnc: process start -> pattern on the X screen."""
    samples: list[Optional[float]] = []
    xvnc = BareXvnc(run.tmp("bare-xvnc"), geometry)
    run.live.append(xvnc.stop)
    xvnc.start()
    client = await RFBClient.connect_unix(str(xvnc.socket), raw=True)
    try:
        for index in range(run.plan.floor):
            start = time.perf_counter()
            proc = run.spawn(
                [str(run.napari_python), str(HELPER), str(run.pattern)], xvnc.env(), "floor-napari"
            )
            found = None
            while time.perf_counter() - start < 90:
                if images.shows_pattern(await client.snapshot()):
                    found = round(time.perf_counter() - start, 3)
                    break
                await asyncio.sleep(0.05)
            samples.append(found)
            run.log(f"floor {geometry} #{index + 1}: napari drawn after {found} s")
            procs.stop_tree(proc.pid, 5)
            proc.wait()
            deadline = time.monotonic() + 10
            while time.monotonic() < deadline and images.shows_pattern(await client.snapshot()):
                await asyncio.sleep(0.1)
    finally:
        await client.close()
        xvnc.stop()
        run.live.remove(xvnc.stop)
    run.record("time_to_napari", geometry, "floor_bare_xvnc", value=samples)


async def clicks(run: Run, geometry: str) -> None:
    """Time to napari for ours and the reference, their cold starts interleaved."""
    plan = run.plan
    main = geometry == plan.geometries[len(plan.geometries) // 2] or len(plan.geometries) == 1
    cold = plan.cold if main else max(1, plan.cold - 1)
    ours: dict[str, list] = {key: [] for key in OURS_KEYS}
    reference: dict[str, list] = {key: [] for key in REFERENCE_KEYS}
    prestart: dict[str, list] = {"click": [], "server_start_to_napari_on_screen": []}
    for repeat in range(cold):
        if run.over_budget():
            run.log("time budget spent: fewer cold starts")
            break
        warm = plan.warm if repeat == 0 else 0
        await ours_click_repeat(run, geometry, repeat, warm, ours)
        await reference_click_repeat(run, geometry, repeat, warm, reference)
        if repeat < (plan.prestart if main else 1):
            await ours_prestart_repeat(run, geometry, repeat, prestart)
    run.record("time_to_napari", geometry, "ours", value=ours)
    run.record("time_to_napari", geometry, "reference", value=reference)
    run.record("time_to_napari", geometry, "ours_prestart", value=prestart)


OURS_KEYS = ("cold", "cold_desktop_drawn", "warm_napari_running", "warm_napari_closed")
REFERENCE_KEYS = (
    "cold_desktop_drawn",
    "napari_start_in_desktop",
    "cold",
    "warm_napari_running",
    "napari_restart_in_desktop",
)


async def warm_clicks(
    run: Run, ctx: Any, lab: Any, tab: Any, card: str, count: int, out: dict[str, list]
) -> Any:
    """Close the tab and click ``card`` again, ``count`` times, napari still running: the
    click only reconnects. Returns the last tab."""
    for index in range(count):
        await tab.close()
        await asyncio.sleep(1)
        clicked, tab = await B.click_card(ctx, lab, card)
        pattern = await B.probe(tab, "patternAt", 60)
        out["warm_napari_running"].append(ms(pattern, clicked))
        run.log(f"{card} warm running #{index + 1}: {ms(pattern, clicked)} s")
    return tab


async def ours_click_repeat(
    run: Run, geometry: str, repeat: int, warm: int, out: dict[str, list]
) -> None:
    """Click the napari card: cold (fresh server); then warm with napari running / closed."""
    width, height = size_of(geometry)
    options = {"napari_args": [str(run.pattern)], "geometry": geometry}
    server = run.start_server("ours", options)
    ctx = await run.browser.context("ours", width, height)
    try:
        lab = await B.open_lab(ctx, server)
        clicked, tab = await B.click_card(ctx, lab, "ours-napari")
        pattern = await B.probe(tab, "patternAt", 120)
        drawn = await B.probe(tab, "drawnAt", 1)
        out["cold"].append(ms(pattern, clicked))
        out["cold_desktop_drawn"].append(ms(drawn, clicked))
        out.setdefault("remote_size", []).append(await B.remote_size(tab))
        run.log(f"ours {geometry} cold #{repeat + 1}: {ms(pattern, clicked)} s")
        tab = await warm_clicks(run, ctx, lab, tab, "ours-napari", warm, out)
        for index in range(warm):
            await tab.close()
            kill_napari(server)
            wait_for(
                lambda: (
                    server.request("GET", "napari-desktop/api/status")[1]["napari"]["running"]
                    is False
                ),
                10,
                "the status to say napari stopped",
            )
            await asyncio.sleep(1)
            clicked, tab = await B.click_card(ctx, lab, "ours-napari")
            pattern = await B.probe(tab, "patternAt", 90)
            out["warm_napari_closed"].append(ms(pattern, clicked))
            run.log(f"ours {geometry} warm closed #{index + 1}: {ms(pattern, clicked)} s")
        if repeat == 0:
            await tab.screenshot(path=str(run.work / f"ours-{geometry}.png"))
    except Exception as err:
        run.fail(f"ours clicks {geometry} #{repeat + 1}", err)
    finally:
        await ctx.close()
        run.stop_server(server)


async def ours_prestart_repeat(run: Run, geometry: str, repeat: int, out: dict[str, list]) -> None:
    """c.NapariDesktop.prestart = True: napari drawn before the click; click -> napari."""
    width, height = size_of(geometry)
    options = {"napari_args": [str(run.pattern)], "geometry": geometry, "prestart": True}
    started = time.monotonic()
    server = run.start_server("ours", options)
    ctx = None
    try:
        socket_path = wait_for(
            lambda: (path := server.vnc_socket()) and Path(path).exists() and path,
            60,
            "the prestarted desktop's VNC socket",
        )
        await wait_pattern_on_screen(socket_path, 120)
        out["server_start_to_napari_on_screen"].append(round(time.monotonic() - started, 3))
        ctx = await run.browser.context("ours", width, height)
        lab = await B.open_lab(ctx, server)
        clicked, tab = await B.click_card(ctx, lab, "ours-napari")
        pattern = await B.probe(tab, "patternAt", 60)
        out["click"].append(ms(pattern, clicked))
        run.log(f"ours {geometry} prestart #{repeat + 1}: {ms(pattern, clicked)} s")
    except Exception as err:
        run.fail(f"ours prestart {geometry} #{repeat + 1}", err)
    finally:
        if ctx is not None:
            await ctx.close()
        run.stop_server(server)


async def reference_click_repeat(
    run: Run, geometry: str, repeat: int, warm: int, out: dict[str, list]
) -> None:
    """The reference's Desktop card -> desktop drawn; then napari started in it -> pattern."""
    width, height = size_of(geometry)
    server = run.start_server("reference")
    ctx = await run.browser.context("reference", width, height)
    napari: Optional[subprocess.Popen[bytes]] = None

    def start_napari() -> subprocess.Popen[bytes]:
        argv = [str(run.napari_python), str(HELPER), str(run.pattern)]
        return run.spawn(argv, server.x_env(), "reference-napari")

    try:
        lab = await B.open_lab(ctx, server)
        clicked, tab = await B.click_card(ctx, lab, "reference")
        drawn = await B.probe(tab, "drawnAt", 120)
        spawned = time.time() * 1000
        napari = start_napari()
        pattern = await B.probe(tab, "patternAt", 120, after_ms=spawned)
        out["cold_desktop_drawn"].append(ms(drawn, clicked))
        out["napari_start_in_desktop"].append(ms(pattern, spawned))
        total = None
        if drawn and pattern:
            total = round((drawn - clicked + pattern - spawned) / 1000, 3)
        out["cold"].append(total)
        out.setdefault("remote_size", []).append(await B.remote_size(tab))
        run.log(
            f"reference {geometry} cold #{repeat + 1}: drawn {ms(drawn, clicked)} s"
            f" + napari {ms(pattern, spawned)} s"
        )
        tab = await warm_clicks(run, ctx, lab, tab, "reference", warm, out)
        for index in range(warm):
            procs.stop_tree(napari.pid, 5)
            napari.wait()
            await asyncio.sleep(1)
            await B.reset_probe(tab, "patternAt")
            spawned = time.time() * 1000
            napari = start_napari()
            pattern = await B.probe(tab, "patternAt", 90, after_ms=spawned)
            out["napari_restart_in_desktop"].append(ms(pattern, spawned))
            run.log(f"reference {geometry} napari restart #{index + 1}: {ms(pattern, spawned)} s")
        if repeat == 0:
            await tab.screenshot(path=str(run.work / f"reference-{geometry}.png"))
    except Exception as err:
        run.fail(f"reference clicks {geometry} #{repeat + 1}", err)
    finally:
        await ctx.close()
        if napari is not None:
            procs.stop_tree(napari.pid, 5)
        run.stop_server(server)


# -- 2. and 3. streaming and input latency ---------------------------------------------
@dataclass
class Scene:
    """A running desktop with napari playing the stack on demand."""

    name: str
    server: JupyterServer
    proc: subprocess.Popen[bytes]
    control: Path
    status: Path

    def connect(self, path: str, **kwargs: Any) -> Callable[[], Awaitable[RFBClient]]:
        server = self.server
        if path == "websocket":
            return lambda: RFBClient.connect_websocket(server.ws_url, server.token, **kwargs)
        socket_path = server.vnc_socket()
        assert socket_path is not None
        return lambda: RFBClient.connect_unix(socket_path, **kwargs)


async def start_desktop(run: Run, name: str, geometry: str) -> JupyterServer:
    """A Jupyter server (no lab) with its desktop running, no napari."""
    if name == "reference":
        server = run.start_server("reference", app="server")
        client = await RFBClient.connect_websocket(server.ws_url, server.token)
        await client.next_update(30, pixels_only=False)
        await client.close()
        return server
    options = {"geometry": geometry, "autostart_napari": False}
    server = run.start_server("ours", options, app="server")
    status, _ = server.request("POST", "napari-desktop/api/start", {"app": "desktop"})
    if status != 200:
        raise RuntimeError(f"{name}: POST napari-desktop/api/start answered {status}")
    return server


async def start_scene(
    run: Run,
    server: JupyterServer,
    geometry: str,
    name: str,
    stack: Optional[Path] = None,
    extra: Sequence[str] = (),
) -> Scene:
    """Size the remote screen, then start napari with the stack to animate (``extra``:
    more napari_scene.py arguments)."""
    width, height = size_of(geometry)
    socket_path = server.vnc_socket()
    assert socket_path, "the desktop has no VNC socket"
    sizer = await RFBClient.connect_unix(socket_path, raw=True)
    try:
        if (sizer.width, sizer.height) != (width, height):
            await sizer.set_desktop_size(width, height)
        actual = (sizer.width, sizer.height)
    finally:
        await sizer.close()
    if actual != (width, height):
        raise RuntimeError(f"{name}: the remote screen is {actual}, not {geometry}")
    for pid in napari_pids(server):
        procs.stop_tree(pid, 5)
    tmp = run.tmp(f"scene-{name}")
    control, status = tmp / "control", tmp / "status.json"
    control.write_text("stop")
    argv = [str(run.napari_python), str(SCENE), str(stack or run.stack100), *extra]
    argv += ["--control", str(control), "--status", str(status)]
    proc = run.spawn(argv, server.x_env(), f"scene-{name}")
    wait_for(status.exists, 90, "the napari scene to run")
    return Scene(name, server, proc, control, status)


def read_status(path: Path) -> dict[str, Any]:
    for _ in range(20):
        try:
            return dict(json.loads(path.read_text()))
        except (OSError, ValueError):
            time.sleep(0.02)
    return {}


def rotations(items: list[Any], rounds: int) -> list[list[Any]]:
    """``items`` in a different order each round (rotated, every other one reversed)."""
    orders = []
    for index in range(rounds):
        shift = index % len(items)
        order = items[shift:] + items[:shift]
        orders.append(order[::-1] if index % 2 else order)
    return orders


async def streaming(run: Run, geometry: str, names: list[str]) -> None:
    """Streaming and input latency of several desktops, measured in turns.

    All desktops run at once with napari idle; only the one being measured plays, so every
    desktop and path sees the same machine load, one short window after another.
    """
    width, height = size_of(geometry)
    scenes: dict[str, Scene] = {}
    try:
        for name in names:
            server = await start_desktop(run, name, geometry)
            scenes[name] = await start_scene(run, server, geometry, name)
        await asyncio.sleep(3)
        pairs = [(name, path) for name in scenes for path in ("websocket", "direct")]
        windows: dict[str, dict[str, list]] = {n: {"websocket": [], "direct": []} for n in scenes}
        for order in rotations(pairs, run.plan.stream_windows):
            for name, path in order:
                if run.over_budget():
                    break
                scene = scenes[name]
                scene.control.write_text("play")
                try:
                    await asyncio.sleep(1.0)
                    windows[name][path].append(await stream_window(run, scene, path))
                except Exception as err:
                    run.fail(f"{name} stream {path} {geometry}", err)
                finally:
                    scene.control.write_text("stop")
                    await asyncio.sleep(0.5)
        for name in scenes:
            for path in ("websocket", "direct"):
                fps = [w["fps"] for w in windows[name][path]]
                run.log(f"{name} {geometry} stream {path}: canvas frames/s {fps}")
            run.record("streaming", geometry, name, value=windows[name])

        await asyncio.sleep(1)
        latency: dict[str, dict[str, dict[str, list]]] = {n: {} for n in scenes}
        rounds = 3
        per_round = max(1, run.plan.latency_samples // rounds)
        for order in rotations(pairs, rounds):
            for name, path in order:
                for kind in ("key", "pointer"):
                    if run.over_budget():
                        break
                    connect = scenes[name].connect(path, cursor_pseudo=(kind == "key"))
                    try:
                        found = await input_latency(connect, kind, width, height, per_round)
                    except Exception as err:
                        run.fail(f"{name} latency {path} {kind} {geometry}", err)
                        continue
                    for which, values in found.items():
                        latency[name].setdefault(path, {}).setdefault(which, []).extend(values)
        for name in scenes:
            for path, kinds in latency[name].items():
                for which, values in kinds.items():
                    got = [x for x in values if x is not None]
                    p50 = statistics.median(got) if got else None
                    run.log(f"{name} {geometry} latency {path} {which}: p50 {p50} ms, n={len(got)}")
            run.record("latency", geometry, name, value=latency[name])
    except Exception as err:
        run.fail(f"streaming {geometry}", err)
    finally:
        for scene in scenes.values():
            procs.stop_tree(scene.proc.pid, 5)
            run.stop_server(scene.server)


async def stream_window(run: Run, scene: Scene, path: str) -> dict[str, Any]:
    client = await scene.connect(path)()
    try:
        await client.next_update(10, pixels_only=False)
        await asyncio.sleep(1.0)  # let the first full frame and the congestion window settle
        server = scene.server
        assert server.proc is not None
        cpu_ids = {
            "jupyter_server": server.proc.pid,
            "xvnc": server.xvnc() or 0,
            "napari": scene.proc.pid,
        }
        cpu0 = {name: procs.cpu_seconds(pid) for name, pid in cpu_ids.items()}
        own0, scene0, t0 = time.process_time(), read_status(scene.status), time.perf_counter()
        await asyncio.sleep(run.plan.stream_seconds)
        t1 = time.perf_counter()
        own1, scene1 = time.process_time(), read_status(scene.status)
        cpu1 = {name: procs.cpu_seconds(pid) for name, pid in cpu_ids.items()}
        if client.error is not None:
            raise RuntimeError(f"the connection failed: {client.error}")
        updates = client.stats.window(t0, t1)
        seconds = t1 - t0
        canvas = [u for u in updates if u.area >= CANVAS_SHARE * client.width * client.height]
        nbytes = sum(u.nbytes for u in updates)
        napari_seconds = scene1.get("time", 0) - scene0.get("time", 0)
        draws = scene1.get("draws", 0) - scene0.get("draws", 0)
        draw_rate = draws / napari_seconds if napari_seconds > 0 else 0
        return {
            "seconds": round(seconds, 3),
            "fps": round(len(canvas) / seconds, 2),
            "updates_per_s": round(len(updates) / seconds, 2),
            "bytes_per_frame": round(nbytes / len(canvas)) if canvas else None,
            "bytes_per_update": round(nbytes / len(updates)) if updates else None,
            "mbit_per_s": round(nbytes * 8 / seconds / 1e6, 2),
            "napari_draws_per_s": round(draw_rate, 2) if draw_rate else None,
            "delivered_share": round(len(canvas) / (draw_rate * seconds), 3) if draw_rate else None,
            "cpu_percent": {
                **{name: round(100 * (cpu1[name] - cpu0[name]) / seconds, 1) for name in cpu_ids},
                "client": round(100 * (own1 - own0) / seconds, 1),
            },
        }
    finally:
        await client.close()


async def input_latency(
    connect: Callable[[], Awaitable[RFBClient]], kind: str, width: int, height: int, count: int
) -> dict[str, list[Optional[float]]]:
    """Milliseconds from an input event sent to the first update with pixels in it.

    key: Left/Right in napari's canvas step the slider; "key_to_first" is the first update
    with pixels, "key_to_canvas" the one with napari's redrawn canvas, and
    "canvas_update_transfer" how long that update took from its first to its last byte.
    pointer: a move that the VNC server draws into the screen itself (this client takes no
    cursor image): "pointer_to_cursor".
    """
    client = await connect()
    found: dict[str, list[Optional[float]]] = (
        {"key_to_first": [], "key_to_canvas": [], "canvas_update_transfer": []}
        if kind == "key"
        else {"pointer_to_cursor": []}
    )
    try:
        await client.next_update(10, pixels_only=False)
        cx, cy = width // 2, height // 2
        await client.click(cx, cy)  # napari's canvas gets the keyboard focus
        await client.quiet(0.5, 5)
        canvas_area = int(CANVAS_SHARE * client.width * client.height)
        for index in range(count):
            await client.quiet(0.3, 3)
            seen = len(client.stats.updates)
            sent = time.perf_counter()
            if kind == "key":
                await client.key(KEY_RIGHT if index % 2 == 0 else KEY_LEFT)
                last = await client.next_update(2, after=sent, min_area=canvas_area)
            else:
                offset = 40 if index % 2 == 0 else -40
                await client.pointer(cx + offset, cy + offset)
                last = await client.next_update(2, after=sent)
            first = next(
                (u for u in client.stats.updates[seen:] if u.pixel_rects and u.started >= sent),
                None,
            )
            if kind == "key":
                found["key_to_first"].append(
                    round((first.done - sent) * 1000, 2) if first else None
                )
                found["key_to_canvas"].append(round((last.done - sent) * 1000, 2) if last else None)
                found["canvas_update_transfer"].append(
                    round((last.done - last.started) * 1000, 2) if last else None
                )
            else:
                found["pointer_to_cursor"].append(
                    round((last.done - sent) * 1000, 2) if last else None
                )
    finally:
        await client.close()
    return found


# -- 4. memory -------------------------------------------------------------------------
def median_memory(server: JupyterServer, samples: int = 3) -> dict[str, Any]:
    readings = []
    for index in range(samples):
        if index:
            time.sleep(1)
        pids = server.desktop_pids()
        reading = procs.memory(pids)
        reading.update(procs.footprint(pids))
        readings.append(reading)
    readings.sort(key=lambda r: r["pss_mib"])
    middle = readings[len(readings) // 2]
    middle["pss_samples_mib"] = [r["pss_mib"] for r in readings]
    return middle


def other_desktops(server: JupyterServer) -> int:
    """Xvnc processes of others on this machine (they share library pages with ours)."""
    ours = set(server.desktop_pids())
    return sum(
        1
        for entry in os.listdir("/proc")
        if entry.isdigit()
        and int(entry) not in ours
        and procs.comm(int(entry)) in ("Xvnc", "Xtigervnc")
    )


async def memory(run: Run, geometry: str, variant: str) -> None:
    """PSS of the desktop's processes: idle (client connected), then napari with 50 planes.

    variant: "ours-xfce", "ours-minimal" or "reference".
    """
    width, height = size_of(geometry)
    tool = "reference" if variant == "reference" else "ours"
    options = None
    if tool == "ours":
        options = {
            "session": "minimal" if variant == "ours-minimal" else "xfce",
            "autostart_napari": False,
            "napari_args": [str(run.stack50)],
            "geometry": geometry,
        }
    server = run.start_server(tool, options, app="server")
    result: dict[str, Any] = {}
    client = None
    try:
        client = await RFBClient.connect_websocket(server.ws_url, server.token)
        await client.next_update(30, pixels_only=False)
        if (client.width, client.height) != (width, height):
            await client.set_desktop_size(width, height)
        result["remote_size"] = [client.width, client.height]
        await asyncio.sleep(run.plan.settle)
        result["idle"] = median_memory(server)
        result["other_desktops_on_machine"] = other_desktops(server)
        env = server.x_env()
        if tool == "ours":
            status, _ = server.request("POST", "napari-desktop/api/start", {"app": "napari"})
            if status != 200:
                raise RuntimeError(f"POST napari-desktop/api/start answered {status}")
        else:
            run.spawn([str(run.napari_python), str(HELPER), str(run.stack50)], env, "memory-napari")
        wait_for(lambda: window_shown(env, "napari"), 90, "napari's window", 0.5)
        await asyncio.sleep(run.plan.settle)
        result["napari_50x512x512"] = median_memory(server)
        napari = napari_pids(server)
        napari_tree = [pid for root in napari for pid in (root, *procs.descendants(root))]
        result["napari_alone"] = procs.memory(napari_tree)
        result["napari_alone"].update(procs.footprint(napari_tree))
        idle, busy = result["idle"], result["napari_50x512x512"]
        run.log(
            f"memory {variant} {geometry}: PSS idle {idle['pss_mib']} MiB, with napari "
            f"{busy['pss_mib']} MiB; footprint idle {idle.get('footprint_mib')} MiB, "
            f"with napari {busy.get('footprint_mib')} MiB"
        )
    except Exception as err:
        run.fail(f"memory {variant} {geometry}", err)
    finally:
        if client is not None:
            await client.close()
        run.stop_server(server)
    run.record("memory", geometry, variant, value=result)
