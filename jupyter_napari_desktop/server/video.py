"""The video path: one browser tab's desktop websocket when its page decodes H.264.

Instead of passing Xvnc's bytes through (pacing.py), the bridge speaks RFB to both ends
(video_rfb.py): it asks Xvnc for Raw pixels over the unix socket, keeps the screen, and
sends noVNC

- the part of the screen that keeps moving as H.264 (video_codec.py, noVNC's encoding 50,
  one decoder context per exact rectangle: an IDR with SPS/PPS starts each context),
- small or one-off changes and, ``STILL_SECONDS`` (or more) after the moving part
  stopped, that part again losslessly (Tight with zlib), so a still picture is exact,
- the cursor, resizes, LEDs, clipboard, bell as Xvnc sent them.

Input goes to Xvnc at once, on the event loop; the encoding runs in this connection's own
thread (PyAV and zlib release the GIL), so a slow tab never stalls another or the input.
Xvnc is asked for the next update only after the browser asked for one and got the last:
when nobody watches (or a tab falls behind) nothing is read or encoded.
"""

from __future__ import annotations

import asyncio
import math
import os
import statistics
import time
from collections import deque
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, Optional

import numpy as np
from tornado.iostream import StreamClosedError
from tornado.websocket import WebSocketClosedError

from .manager import PREFIX, connect_unix
from .rfb_input import HANDSHAKE_BYTES, PASSTHROUGH, RfbInput, RfbProtocolError
from .video_codec import ENCODE_ERRORS, NVENC, H264Encoder, last_nvenc_problem
from .video_rfb import (
    H264,
    H264_RESET_ALL,
    H264_RESET_CONTEXT,
    SECURITY_OK,
    SECURITY_TYPES,
    TIGHT_GRADIENT_STREAM,
    VERSION,
    ClientMessages,
    Message,
    Pixels,
    Pseudo,
    RfbStreamError,
    TightEncoder,
    UpdateEnd,
    XvncReader,
    client_init_request,
    framebuffer_update,
    h264_rect,
    server_init,
    update_request,
)

# A change at least this big (pixels of its bounding box) goes as video.
VIDEO_MIN_PIXELS = 160 * 160
# Changed boxes this close together are one moving thing (an area of video); boxes
# further apart are not joined into one area (their bounding box would cover still
# parts of the screen: napari's canvas and its layer list's thumbnail).
CLUSTER_GAP = 32
CLUSTER_MAX_BOXES = 64
# When the video area stops, a context whose motion since the last stop covered less than
# this share of it is dropped: the next motion starts a new, smaller area (a whole window
# redrawn once, then only its canvas moving).
SHRINK_BELOW = 0.8
# The moving area is sent again losslessly this long after its last change, or 1.5 times
# the time between its last two changes if that is longer (napari drawing 2-3 pictures a
# second on a 3840x2160 screen got a lossless picture after each: labels 5.2 Mbit/s, 2.4
# with this), at most STILL_MAX_SECONDS (the later the exact picture, the longer its wait).
STILL_SECONDS = 0.3
STILL_GAP_FACTOR = 1.5
STILL_MAX_SECONDS = 0.6
# The exact still picture goes in bands of about this many pixels, one an update (a
# browser round trip each: on a 40 ms link the round trips, not the bytes, held the exact
# picture back; a key pressed meanwhile waits for one band, 5-10 ms here on loopback).
BAND_PIXELS = 128 * 1024
# Video areas are aligned to this many pixels (stable contexts, macroblocks).
ALIGN = 16
# A video area is cut into up to this many horizontal stripes, each its own H.264 stream
# (its own noVNC decoder context), encoded at the same time in threads of their own: a
# 1392x992 picture took 23.8 ms in one stream and 11.8 ms in two on this 2-core machine.
# One stripe a core, at most four.
STRIPES = max(1, min(4, os.cpu_count() or 1))
# ... each at least this many rows.
STRIPE_MIN_ROWS = 128
# Unsent websocket bytes above which the bridge waits for the browser.
HIGH_WATER_BYTES = 1024 * 1024
# Xvnc is asked again after this long without an answer (usually: nothing changed): ten
# bytes twice a second while the screen is still and a tab watches.
ASK_AGAIN_SECONDS = 0.5
# video_crf is the x264 CRF of a moving area the size of napari's canvas on a 1920x1080
# screen (928x960, where 20 showed every plane step of a dark stack); each doubling of the
# area adds CRF_PER_DOUBLING, at most CRF_MAX_RAISE more. A larger area is napari's picture
# enlarged further (a ratio-2 screen, a 4K one), whose small steps survive a coarser
# quantizer: at 3840x2160 (3.6 megapixels) CRF 26 sent 35 KB a picture against 126 KB at
# 20, every napari picture shown (benchmarks/results/bandwidth-video.md).
REFERENCE_PIXELS = 928 * 960
CRF_PER_DOUBLING = 3
CRF_MAX_RAISE = 6
# Updates on their way at most: 1 is one for each request of the browser (noVNC asks for
# the next as soon as it has read one), 2 where the network's round trip is long. One
# showed 9.3-10.8 of napari's 14.5 pictures a second over a 10 Mbit/s 40 ms link, two all of
# them; but two made a key's picture 12-18% later on loopback in 3 of 4 runs
# (benchmarks/results/bandwidth-video.md). The round trip is a websocket ping's: the
# browser's network code answers it, so the page's decoding is not in it.
WINDOW = 1
WINDOW_FAR = 2
FAR_SECONDS = 0.02
# A ping this often while the bridge runs; the median of the last few round trips counts.
PING_SECONDS = 1.0
PING_SAMPLES = 5
# The status API's figures of a video stream (CPU, pictures) cover the last this many seconds.
RECENT_SECONDS = 10.0


class Recent:
    """How fast counters that only grow (CPU seconds, pictures) grew over the last
    ``RECENT_SECONDS``: their totals are noted after each update; between two notes they
    stood still."""

    def __init__(self, now: float) -> None:
        self.born = now
        self._notes: deque[tuple[float, tuple[float, ...]]] = deque()

    def note(self, now: float, totals: tuple[float, ...]) -> None:
        self._notes.append((now, totals))
        self._forget(now)

    def rates(self, now: float, totals: tuple[float, ...]) -> tuple[float, ...]:
        """Each counter's growth per second over the last RECENT_SECONDS (or since the
        start, if younger), ``totals``: their values now."""
        self._forget(now)
        start = now - RECENT_SECONDS
        then = self._notes[0][1] if self._notes and self._notes[0][0] <= start else None
        span = max(min(RECENT_SECONDS, now - self.born), 1e-3)
        return tuple((v - (then[k] if then else 0.0)) / span for k, v in enumerate(totals))

    def _forget(self, now: float) -> None:
        """Notes older than the window's start but its last (the totals at the start)."""
        start = now - RECENT_SECONDS
        while len(self._notes) > 1 and self._notes[1][0] <= start:
            self._notes.popleft()


@dataclass(frozen=True)
class Box:
    x: int
    y: int
    w: int
    h: int

    @property
    def area(self) -> int:
        return self.w * self.h

    def union(self, other: Box) -> Box:
        x, y = min(self.x, other.x), min(self.y, other.y)
        right = max(self.x + self.w, other.x + other.w)
        bottom = max(self.y + self.h, other.y + other.h)
        return Box(x, y, right - x, bottom - y)

    def contains(self, other: Box) -> bool:
        return (
            self.x <= other.x
            and self.y <= other.y
            and other.x + other.w <= self.x + self.w
            and other.y + other.h <= self.y + self.h
        )


def bounding(boxes: list[Box]) -> Optional[Box]:
    out: Optional[Box] = None
    for box in boxes:
        out = box if out is None else out.union(box)
    return out


def near(a: Box, b: Box, gap: int) -> bool:
    """``a`` and ``b`` overlap or are at most ``gap`` pixels apart."""
    return (
        a.x - gap <= b.x + b.w
        and b.x - gap <= a.x + a.w
        and a.y - gap <= b.y + b.h
        and b.y - gap <= a.y + a.h
    )


def clusters(boxes: list[Box]) -> list[Box]:
    """The bounding boxes of groups of ``boxes`` within ``CLUSTER_GAP`` of each other
    (napari's canvas is one, its slider and layer thumbnail others); more than
    ``CLUSTER_MAX_BOXES`` boxes are one group (the pairwise test is quadratic)."""
    if len(boxes) > CLUSTER_MAX_BOXES:
        whole = bounding(boxes)
        return [whole] if whole is not None else []
    groups: list[Box] = []
    for box in boxes:
        merged = True
        while merged:
            merged = False
            for group in groups:
                if near(group, box, CLUSTER_GAP):
                    groups.remove(group)
                    box = box.union(group)
                    merged = True
                    break
        groups.append(box)
    return groups


def timed(encoder: H264Encoder, pixels: np.ndarray) -> tuple[bytes, float]:
    """One stripe's picture and the CPU seconds its thread spent on it."""
    started = time.thread_time()
    data = encoder.encode(pixels)
    return data, time.thread_time() - started


def _clip(box: Box, width: int, height: int) -> Box:
    x, y = min(box.x, width), min(box.y, height)
    return Box(x, y, max(0, min(box.w, width - x)), max(0, min(box.h, height - y)))


def bands(box: Box) -> list[Box]:
    """``box`` in horizontal bands of about ``BAND_PIXELS`` (the still picture's pieces)."""
    rows = max(ALIGN, BAND_PIXELS // max(1, box.w) // ALIGN * ALIGN)
    return [
        Box(box.x, y, box.w, min(rows, box.y + box.h - y))
        for y in range(box.y, box.y + box.h, rows)
    ]


def stripes(area: Box, count: int = STRIPES) -> list[Box]:
    """``area`` in up to ``count`` horizontal stripes of ``ALIGN``-aligned heights (the last
    takes the rest, even as the area's), each at least ``STRIPE_MIN_ROWS`` high."""
    count = max(1, min(count, area.h // STRIPE_MIN_ROWS))
    rows = max(ALIGN, area.h // count // ALIGN * ALIGN)
    tops = [area.y + k * rows for k in range(count)]
    return [
        Box(area.x, top, area.w, (rows if k < count - 1 else area.y + area.h - top))
        for k, top in enumerate(tops)
    ]


def crf_for(area: Box, crf: int) -> int:
    """The x264 CRF of a video area, ``crf`` (video_crf) raised for a large area."""
    doublings = math.log2(max(area.area, 1) / REFERENCE_PIXELS)
    raise_by = round(min(CRF_MAX_RAISE, max(0.0, CRF_PER_DOUBLING * doublings)))
    return min(51, crf + raise_by)


def video_box(box: Box, width: int, height: int) -> Optional[Box]:
    """``box`` grown to ``ALIGN`` pixels and cut to the screen, with an even size (what
    H.264 in 4:2:0 needs); None if nothing of it is left."""
    x, y = box.x // ALIGN * ALIGN, box.y // ALIGN * ALIGN
    right = min(width, -(-(box.x + box.w) // ALIGN) * ALIGN)
    bottom = min(height, -(-(box.y + box.h) // ALIGN) * ALIGN)
    w, h = (right - x) // 2 * 2, (bottom - y) // 2 * 2
    if w < 16 or h < 16:
        return None
    return Box(x, y, w, h)


class Plan:
    """What the bridge sends next, decided on the event loop from the changes since the
    last update (pure: the clock is passed in)."""

    def __init__(self, video: bool) -> None:
        self.video = video  # the page decodes H.264 and the server may send it
        self.area: Optional[Box] = None  # the current video context
        self.new_context = False
        self.last_motion: Optional[float] = None
        self.still_after = STILL_SECONDS  # seconds without change that make the area still
        self.lossy: Optional[Box] = None  # drawn as video, not yet sent exactly
        self.refresh: list[Box] = []  # bands of the still picture still to send exactly
        self.moved: Optional[Box] = None  # sent as video since the area last stopped

    def reset(self) -> None:
        """A resize: every context is gone, the whole screen comes losslessly."""
        self.area = None
        self.lossy = None
        self.refresh = []
        self.moved = None

    def decide(
        self, dirty: list[Box], now: float, width: int, height: int
    ) -> tuple[Optional[Box], list[Box]]:
        """(the area to send as video or None, the boxes to send losslessly)."""
        lossless: list[Box] = []
        video_area = None
        if self.video and dirty:
            outside = [b for b in dirty if self.area is None or not self.area.contains(b)]
            big = [c for c in clusters(outside) if c.area >= VIDEO_MIN_PIXELS]
            if big:
                grown = bounding(big if self.area is None else [self.area, *big])
                area = video_box(grown, width, height) if grown is not None else None
                if area is not None:
                    if self.lossy is not None and not area.contains(self.lossy):
                        lossless.append(self.lossy)  # the old context's picture
                        self.lossy = None
                    self.area, self.new_context, self.moved = area, True, None
            if self.area is not None:
                area = self.area
                inside = [b for b in dirty if area.contains(b)]
                change = bounding(inside)
                # A small change to a still (exact) area stays exact: as video it would
                # turn the whole area lossy again for a blinking caret.
                if change is not None and (
                    self.lossy is not None or change.area >= VIDEO_MIN_PIXELS
                ):
                    gap = None if self.last_motion is None else now - self.last_motion
                    self.still_after = (
                        STILL_SECONDS
                        if gap is None or gap >= STILL_MAX_SECONDS
                        else min(STILL_MAX_SECONDS, max(STILL_SECONDS, STILL_GAP_FACTOR * gap))
                    )
                    video_area, self.last_motion, self.lossy = area, now, area
                    self.moved = change if self.moved is None else self.moved.union(change)
                    self.refresh = []  # moving again: the whole area is due later
                    dirty = [b for b in dirty if not area.contains(b)]
        lossless += dirty
        if (
            video_area is None
            and self.lossy is not None
            and self.last_motion is not None
            and now - self.last_motion >= self.still_after
        ):
            # The context stays: the next motion in the same area is a P-picture, unless
            # the motion covered little of it (then the next one starts a smaller area).
            self.refresh = bands(self.lossy)
            self.lossy = None
            moved = self.moved and video_box(self.moved, width, height)
            if self.area is not None and (not moved or moved.area < SHRINK_BELOW * self.area.area):
                self.area = None
            self.moved = None
        if video_area is None and self.refresh:
            # One band an update: a key pressed meanwhile waits for one band, not all.
            lossless.append(self.refresh.pop(0))
        return video_area, lossless

    def refresh_due(self, now: float) -> Optional[float]:
        """Seconds until the still picture is due losslessly (None: nothing lossy; its
        further bands go as the browser asks for more)."""
        if self.lossy is None:
            return None
        last = now if self.last_motion is None else self.last_motion
        return max(0.0, last + self.still_after - now)


# Bytes read from Xvnc at most in one go: a whole 1920x1080 Raw picture (8.3 MB) took 4.5-5.6
# ms in asyncio's 256 KB reads and 3.7-3.9 ms in reads of up to this many (on 2 cores).
READ_BYTES = 4 << 20


class XvncProtocol(asyncio.BufferedProtocol):
    """Xvnc's bytes, read straight into one buffer (Raw pictures are megabytes)."""

    def __init__(self, bridge: VideoBridge) -> None:
        self.bridge = bridge
        self.buffer = memoryview(bytearray(READ_BYTES))

    def get_buffer(self, sizehint: int) -> memoryview:
        return self.buffer

    def buffer_updated(self, nbytes: int) -> None:
        self.bridge.from_xvnc(self.buffer[:nbytes])

    def connection_lost(self, exc: Optional[Exception]) -> None:
        self.bridge.close(f"VNC connection closed: {exc or 'by the server'}")


class RoundTrip:
    """The network's round trip to the browser, from websocket pings (``ping`` gives the
    payload of the next, ``pong`` takes the answer), and the window it calls for."""

    def __init__(self) -> None:
        self._sent: dict[bytes, float] = {}
        self._count = 0
        self.samples: deque[float] = deque(maxlen=PING_SAMPLES)

    def ping(self, now: float) -> bytes:
        self._count += 1
        payload = b"napari-desktop %d" % self._count
        # Unanswered pings older than the last few are forgotten (a browser may skip some).
        for old in list(self._sent)[: max(0, len(self._sent) - PING_SAMPLES)]:
            del self._sent[old]
        self._sent[payload] = now
        return payload

    def pong(self, payload: bytes, now: float) -> None:
        sent = self._sent.pop(bytes(payload), None)  # others: not ours (tornado's keepalive)
        if sent is not None:
            self.samples.append(now - sent)

    def median(self) -> Optional[float]:
        return statistics.median(self.samples) if self.samples else None

    def window(self) -> int:
        rtt = self.median()
        return WINDOW_FAR if rtt is not None and rtt >= FAR_SECONDS else WINDOW


class VideoBridge:
    """The desktop websocket of one tab in video mode (``handler``: its tornado handler)."""

    def __init__(self, handler: Any, reader: RfbInput, crf: int, encoder: str = "auto") -> None:
        self.handler = handler
        self.reader = reader
        self.crf = crf
        self.encoder = encoder  # video_encoder: auto, x264 or nvenc
        self.codec_name = ""  # what encoded the last area (for the log)
        self.xvnc = XvncReader()
        self.client = ClientMessages()
        self.plan = Plan(video=True)
        self.tight = TightEncoder()
        # The H.264 streams of the video area, one a stripe.
        self.encoders: list[tuple[Box, H264Encoder]] = []
        self.transport: Optional[asyncio.Transport] = None
        self.executor = ThreadPoolExecutor(1, thread_name_prefix="napari-desktop-video")
        # The other stripes' encoders run here while the update's thread encodes the first.
        self.stripe_pool = ThreadPoolExecutor(
            max(1, STRIPES - 1), thread_name_prefix="napari-desktop-stripe"
        )
        self._handshake = 0  # bytes of the browser's handshake read
        self._client_ready = False  # the browser sent ClientInit
        self._init_sent = False
        self._dirty: list[Box] = []  # changed since the last update sent
        self._arriving: list[Box] = []  # of the update Xvnc is sending now
        self._pseudo: list[bytes] = []
        self._have_picture = False
        self._outstanding = False  # an update request to Xvnc waits for its answer
        self._encoding = False  # an update is being encoded in the thread
        self._updates_sent = 0
        self.made = 0  # updates made so far (their number, for video_room.py)
        self._changed_at: Optional[float] = None  # Xvnc's first update not sent yet
        # Seconds from Xvnc's update to its picture sent, the last thousand (for the log).
        self.lags: deque[float] = deque(maxlen=1000)
        self._asked_at = 0.0
        self._unsent = 0
        self._wake = asyncio.Event()
        self._closed = False
        self._task: Optional[asyncio.Task[None]] = None
        self._pinger: Optional[asyncio.Task[None]] = None
        self.round_trip = RoundTrip()
        self.sent = {
            "h264": 0,
            "tight": 0,
            "gradient": 0,
            "frames": 0,
            "encode_s": 0.0,
            "cpu_s": 0.0,  # CPU time of the encoding threads (thread_time)
            "xvnc_updates": 0,
        }
        self.recent = Recent(time.monotonic())

    async def open(self, socket_path: str) -> None:
        sock = await connect_unix(socket_path)
        loop = asyncio.get_running_loop()
        transport, _ = await loop.create_unix_connection(lambda: XvncProtocol(self), sock=sock)
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport
        self._send(VERSION)
        self._task = asyncio.ensure_future(self._run())
        self._pinger = asyncio.ensure_future(self._ping())

    async def _ping(self) -> None:
        """A websocket ping a second, for the round trip (``pong`` takes the answers)."""
        while not self._closed:
            try:
                self.handler.ping(self.round_trip.ping(time.monotonic()))
            except (WebSocketClosedError, StreamClosedError):  # tornado's ping does not wrap
                return  # the latter as write_message does; on_close closes the bridge
            await asyncio.sleep(PING_SECONDS)

    def pong(self, payload: bytes) -> None:
        """The browser answered a ping (the handler's ``on_pong``)."""
        self.round_trip.pong(payload, time.monotonic())

    # browser -> bridge -> Xvnc
    def from_browser(self, data: bytes) -> None:
        try:
            messages = self.reader.messages(data)
        except RfbProtocolError as err:
            self.close(str(err), 1008)
            return
        for kind, message in messages:
            if kind == HANDSHAKE_BYTES:
                self._browser_handshake(len(message))
            elif kind == PASSTHROUGH:
                self.close("a client message the video path cannot read", 1008)
                return
            else:
                try:
                    answered = self.client.take(message)
                except RfbStreamError as err:
                    self.close(str(err), 1008)
                    return
                if not answered:
                    self._to_xvnc(message)  # input: at once, never behind the picture
                elif kind == 2:  # SetEncodings: what the page decodes
                    self.plan.video = H264 in self.client.encodings
                    self._to_xvnc(client_init_request(self.client.encodings))
                    if not self._outstanding:
                        self._request_xvnc(incremental=self._have_picture)
        if self.client.requests:
            self._wake.set()

    def _browser_handshake(self, count: int) -> None:
        """The browser's version (12 bytes), security type (1) and ClientInit (1)."""
        before, self._handshake = self._handshake, self._handshake + count
        if before < 12 <= self._handshake:
            self._send(SECURITY_TYPES)
        if before < 13 <= self._handshake:
            self._send(SECURITY_OK)
        if self._handshake >= 14:
            self._client_ready = True
            self._answer_init()

    def _answer_init(self) -> None:
        if self._init_sent or not self._client_ready or self.xvnc.init is None:
            return
        self._init_sent = True
        self._send(server_init(self.xvnc.init))

    def _to_xvnc(self, data: bytes) -> None:
        if self.transport is not None and not self.transport.is_closing():
            self.transport.write(data)

    def _request_xvnc(self, incremental: bool = True) -> None:
        height, width = self.xvnc.screen.shape[:2]
        self._outstanding = True
        self._asked_at = time.monotonic()
        self._to_xvnc(update_request(incremental, 0, 0, width, height))

    # Xvnc -> bridge
    def from_xvnc(self, data: bytes | memoryview) -> None:
        try:
            reply, events = self.xvnc.feed(data)
        except RfbStreamError as err:
            self.close(str(err), 1011)
            return
        if reply:
            self._to_xvnc(reply)
        self._answer_init()
        for event in events:
            if isinstance(event, Pixels):
                self._arriving.append(Box(event.x, event.y, event.w, event.h))
            elif isinstance(event, Pseudo):
                self._pseudo.append(event.data)
                if event.resized:
                    self.plan.reset()
                    self.encoders = []
                    self._dirty, self._arriving = [], []
            elif isinstance(event, Message):
                self._send(event.data)
            elif isinstance(event, UpdateEnd):
                self.sent["xvnc_updates"] += bool(self._arriving)
                if self._arriving and self._changed_at is None:
                    self._changed_at = time.monotonic()
                self._dirty += self._arriving  # whole updates only: no tearing
                self._arriving = []
                self._outstanding = False
                self._have_picture = True
                if self._encoding:
                    # The next picture travels while this one is encoded (the browser is
                    # watching: it asked for what is being encoded).
                    self._request_xvnc()
                self._wake.set()

    # bridge -> browser
    def _send(self, data: bytes) -> None:
        try:
            sent = self.handler.write_message(data, binary=True)
        except WebSocketClosedError:
            self.close("the browser went away")
            return
        size = len(data)
        self._unsent += size
        sent.add_done_callback(lambda _: self._flushed(size))

    def _flushed(self, size: int) -> None:
        self._unsent -= size
        self._wake.set()

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        while not self._closed:
            due = self.plan.refresh_due(time.monotonic())
            if due is not None and (not self._credit() or self._unsent > HIGH_WATER_BYTES):
                due = None  # the browser's next request (or its taking bytes) wakes this loop
            if self._outstanding and self._credit():
                again = self._asked_at + ASK_AGAIN_SECONDS - time.monotonic()
                due = max(0.0, again if due is None else min(due, again))
            try:
                await asyncio.wait_for(self._wake.wait(), due if due is not None else None)
            except asyncio.TimeoutError:
                pass
            self._wake.clear()
            if self._closed:
                return
            if not self._credit() or not self._have_picture or not self._init_sent:
                continue
            if self._unsent > HIGH_WATER_BYTES:
                continue  # the browser has not taken the last update yet
            if self._outstanding and time.monotonic() - self._asked_at >= ASK_AGAIN_SECONDS:
                # A safety net, not an observed TigerVNC fault: a request left unanswered
                # this long is sent again (repeated requests cost nothing, Xvnc answers once).
                self._request_xvnc()
            changed_at, self._changed_at = self._changed_at, None
            job = self._next_update()
            if job is not None:
                self._updates_sent += 1
                self.made += 1
                number = self.made
                started = time.monotonic()
                if not self._outstanding:
                    self._request_xvnc()
                self._encoding = True
                try:
                    update = await loop.run_in_executor(self.executor, job)
                except ENCODE_ERRORS as err:
                    self.handler.log.warning("%s video: encoding failed: %r", PREFIX, err)
                    self.close("the video encoder failed", 1011)
                    return
                finally:
                    self._encoding = False
                self.sent["encode_s"] += time.monotonic() - started
                self.recent.note(time.monotonic(), (self.sent["cpu_s"], self.sent["frames"]))
                if self._closed:
                    return
                self._deliver(update, number)
                self._log_encoder()
                if changed_at is not None:
                    self.lags.append(time.monotonic() - changed_at)
            if not self._outstanding:
                self._request_xvnc()

    def _log_encoder(self) -> None:
        """The log says which encoder makes this tab's H.264, and again when it changes
        (NVENC, or x264 and why not NVENC)."""
        names = sorted({enc.codec_name for _, enc in self.encoders if enc.codec_name})
        name = " and ".join(names)
        if not name or name == self.codec_name:
            return
        self.codec_name = name
        problem = last_nvenc_problem()
        why = f" ({problem})" if self.encoder == "auto" and NVENC not in names and problem else ""
        self.handler.log.info("%s video: H.264 by %s%s", PREFIX, name, why)

    @property
    def closed(self) -> bool:
        return self._closed

    def figures(self) -> dict[str, Any]:
        """For the status API: the encoder and, over the last RECENT_SECONDS, the share of
        a CPU core its encoding took and the H.264 pictures a second."""
        cpu, pictures = self.recent.rates(
            time.monotonic(), (self.sent["cpu_s"], self.sent["frames"])
        )
        return {
            "encoder": self.codec_name or None,
            "cpu_cores": round(cpu, 3),
            "pictures_per_s": round(pictures, 1),
        }

    def _deliver(self, update: bytes, number: int) -> None:
        """A FramebufferUpdate made (``number``: made so far) goes to the browser."""
        self._send(update)

    def _tight_encoder(self) -> TightEncoder:
        """The encoder of the next update's lossless rectangles (this tab's own)."""
        return self.tight

    def _credit(self) -> int:
        """How many more updates may go before the browser asks again."""
        if not self.client.requests:
            return 0
        window = self.round_trip.window()
        return max(0, self.client.requests + window - 1 - self._updates_sent)

    def _next_update(self) -> Optional[Any]:
        """The work of the next FramebufferUpdate, as a function for the encoding thread
        (the pixels it needs are copied here, on the loop), or None if there is nothing."""
        screen = self.xvnc.screen
        height, width = screen.shape[:2]
        full = [_clip(Box(*box), width, height) for box in self.client.full]
        self.client.full = []
        dirty, self._dirty = self._dirty, []
        area, exact = self.plan.decide(dirty, time.monotonic(), width, height)
        exact += [box for box in full if box.area]
        pseudo, self._pseudo = self._pseudo, []
        if area is None and not exact and not pseudo:
            return None
        new_context = False
        streams: list[tuple[Box, H264Encoder, np.ndarray]] = []
        if area is not None:
            new_context, self.plan.new_context = self.plan.new_context, False
            if new_context or not self.encoders:
                crf = crf_for(area, self.crf)
                self.encoders = [
                    (b, H264Encoder(b.w, b.h, crf, self.encoder)) for b in stripes(area)
                ]
                new_context = True
            streams = [
                (b, encoder, screen[b.y : b.y + b.h, b.x : b.x + b.w].copy())
                for b, encoder in self.encoders
            ]
        pieces = [(b, screen[b.y : b.y + b.h, b.x : b.x + b.w].copy()) for b in exact]
        tight, sent, pool = self._tight_encoder(), self.sent, self.stripe_pool

        def job() -> bytes:
            started = time.thread_time()
            rects = list(pseudo)
            if streams:
                # The other stripes in the pool while this thread encodes the first.
                others = [pool.submit(timed, enc, pixels) for _, enc, pixels in streams[1:]]
                first = streams[0][1].encode(streams[0][2])
                done = [future.result() for future in others]
                sent["cpu_s"] += sum(cpu for _, cpu in done)
                datas = [first] + [data for data, _ in done]
                for k, ((box, _, _), data) in enumerate(zip(streams, datas)):
                    # A new area: the first stripe drops every old context in the browser
                    # (ResetAllContexts), each stripe starts its own with an IDR.
                    flags = (
                        (H264_RESET_CONTEXT | (H264_RESET_ALL if k == 0 else 0))
                        if new_context
                        else 0
                    )
                    rects.append(h264_rect(box.x, box.y, box.w, box.h, data, flags))
                    sent["h264"] += len(data)
                sent["frames"] += 1
            for box, pixels in pieces:
                for rect in tight.rects(pixels, box.x, box.y):
                    sent["tight"] += len(rect)
                    if rect[12] & 0xF0 == TIGHT_GRADIENT_STREAM:  # its reset bits aside
                        sent["gradient"] += len(rect)
                    rects.append(rect)
            update = framebuffer_update(rects)
            sent["cpu_s"] += time.thread_time() - started
            return update

        return job

    def close(self, why: str, code: int = 1000) -> None:
        if self._closed:
            return
        self._closed = True
        self._wake.set()
        rtt = self.round_trip.median()
        self.handler.log.info(
            "%s video: closed (%s); %s updates from Xvnc; sent %s KB H.264 (%s) in %s pictures, "
            "%s KB Tight (%s KB of it through the gradient filter), %.1f s encoding "
            "(%.1f s of CPU); "
            "Xvnc's update to sent: median %.1f ms; "
            "round trip to the browser: median %s",
            PREFIX,
            why,
            self.sent["xvnc_updates"],
            self.sent["h264"] // 1024,
            self.codec_name or "none",
            self.sent["frames"],
            self.sent["tight"] // 1024,
            self.sent["gradient"] // 1024,
            self.sent["encode_s"],
            self.sent["cpu_s"],
            1000 * statistics.median(self.lags) if self.lags else 0.0,
            "not measured" if rtt is None else f"{1000 * rtt:.2f} ms",
        )
        if self._pinger is not None:
            self._pinger.cancel()
        if self.transport is not None:
            self.transport.close()
        self.executor.shutdown(wait=False)
        self.stripe_pool.shutdown(wait=False)
        try:
            self.handler.close(code, why[:120])
        except WebSocketClosedError:
            pass
