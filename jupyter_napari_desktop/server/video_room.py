"""The video path for a view-only link: one encoder for the whole room.

A tab of a view-only link whose page decodes H.264 joins its desktop's room, and so does a
JupyterHub visitor's tab while the visitor only watches. The room has
one connection to Xvnc and one bridge (video.py), so the picture is read, planned and
encoded once, however many watch; every viewer gets the same updates:

- The room is the bridge's browser: it asks for the next update while a viewer waits for
  one. Its lossless rectangles reset their zlib streams (``TightEncoder(reset=True)``,
  one an update): a viewer decodes them whatever it got before.
- A viewer that joins, or whose websocket holds more than ``HIGH_WATER_BYTES`` not yet
  taken (a slow laptop: it skips updates meanwhile), gets an exact picture of the whole
  screen of its own, then the updates made after that picture; the bridge starts its
  H.264 contexts afresh (an IDR) for the next moving picture, which the viewer could not
  decode otherwise. Viewers that join together share one picture.
- The room does not ask Xvnc for the cursor's shape, so Xvnc draws the pointer into the
  picture: the room sees where the presenter points.
- Nothing a viewer sends reaches Xvnc: the room answers its handshake and reads its pixel
  format, encodings and update requests; its input is dropped (rfb_input) and counted.
  Clipboard and bell are not passed on.

When the last viewer leaves, the room closes its Xvnc connection: nothing is encoded for
nobody. When Xvnc goes away, every viewer's websocket closes (its page reconnects).
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import os
import struct
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Callable, Optional

import numpy as np
from tornado.websocket import WebSocketClosedError

from .manager import PREFIX
from .rfb_input import HANDSHAKE_BYTES, RfbInput, RfbProtocolError
from .video import HIGH_WATER_BYTES, STRIPES, WINDOW_FAR, VideoBridge
from .video_rfb import (
    DESKTOP_NAME,
    DESKTOP_SIZE,
    EXT_DESKTOP_SIZE,
    H264,
    LAST_RECT,
    PIXEL_FORMAT,
    SECURITY_OK,
    SECURITY_TYPES,
    SET_ENCODINGS,
    SET_PIXEL_FORMAT,
    TIGHT,
    VERSION,
    ClientMessages,
    RfbStreamError,
    ServerInit,
    TightEncoder,
    framebuffer_update,
    rect_header,
    server_init,
    update_request,
)

# What the room asks the bridge for: no cursor shape (Xvnc draws the pointer in the picture).
ROOM_ENCODINGS = [H264, TIGHT, DESKTOP_SIZE, EXT_DESKTOP_SIZE, DESKTOP_NAME, LAST_RECT]
# Updates a viewer gets beyond those its page asked for: a page asks for the next update
# when it has drawn one, so over a far network (100 ms of round trip: a workshop's viewers
# at home) it would get one update a round trip; one more in flight keeps the picture
# moving meanwhile (video.py's WINDOW_FAR for one tab), and what a viewer has not taken
# yet is bounded by HIGH_WATER_BYTES.
ROOM_AHEAD = WINDOW_FAR - 1
# A viewer asking for the whole picture again within this many seconds gets updates only.
WHOLE_EVERY = 2.0
# The niceness of the room's encoding threads (video.py's own run at the server's).
ROOM_NICE = 10
# The browser's side of the handshake: version, security type None, ClientInit (shared).
ROOM_HANDSHAKE = VERSION + bytes([1, 1])


def whole_picture(screen: np.ndarray) -> bytes:
    """The whole screen, exactly, as one update any viewer decodes (its size first)."""
    height, width = screen.shape[:2]
    rects = [rect_header(0, 0, width, height, DESKTOP_SIZE)]
    rects += TightEncoder(reset=True).rects(screen, 0, 0)
    return framebuffer_update(rects)


def background() -> None:
    """This thread (Linux: each thread has its own nice value) runs at ``ROOM_NICE``."""
    with contextlib.suppress(OSError, AttributeError):
        os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), ROOM_NICE)


class RoomBridge(VideoBridge):
    """The room's bridge: its browser is the room (no websocket, no pings)."""

    def __init__(self, room: Room, crf: int, encoder: str) -> None:
        super().__init__(room, RfbInput(control=False), crf, encoder)
        self.room = room
        # The room's encoding yields the CPU to the presenter's napari, Xvnc and page.
        self.executor = ThreadPoolExecutor(
            1, thread_name_prefix="napari-desktop-room", initializer=background
        )
        self.stripe_pool = ThreadPoolExecutor(
            max(1, STRIPES - 1), thread_name_prefix="napari-desktop-room", initializer=background
        )

    async def _ping(self) -> None:
        return  # the room answers at once: one update at a time

    def _send(self, data: bytes) -> None:
        """The handshake's answers to the room, Xvnc's clipboard and bell: nobody's."""

    def _deliver(self, update: bytes, number: int) -> None:
        self.room.deliver(update, number)

    def _tight_encoder(self) -> TightEncoder:
        return TightEncoder(reset=True)

    def _answer_init(self) -> None:
        sent = self._init_sent
        super()._answer_init()
        if self._init_sent and not sent:
            self.room.bridge_ready()

    def from_xvnc(self, data: bytes | memoryview) -> None:
        had = self._have_picture
        super().from_xvnc(data)
        if self._have_picture and not had:
            self.room.picture_ready()


class Viewer:
    """One websocket in the room (``handler``: its tornado handler; ``user``: a JupyterHub
    visitor's name, empty for a view-only link's viewer)."""

    def __init__(self, handler: Any, user: str = "") -> None:
        self.handler = handler
        self.user = user
        self.reader = RfbInput(control=False)
        self.client = ClientMessages()
        self.handshake = 0
        self.init_sent = False
        self.client_ready = False
        # new (no picture asked for yet), syncing (its whole picture is being made), live,
        # behind (skipping updates until its websocket took what it holds)
        self.state = "new"
        self.after = 0  # updates made before its whole picture: not for it
        self.pending: list[bytes] = []  # made after its picture, while that was encoded
        self.unsent = 0
        self.updates = 0  # updates sent to it
        self.pictures = 0  # whole pictures sent to it
        self.whole_at = -math.inf  # when it last asked for a whole picture (and got one)


class Room:
    """The viewers of one desktop's view-only links on the video path."""

    def __init__(
        self, socket_path: str, crf: int, encoder: str, log: Any, gone: Callable[[Room], None]
    ):
        self.socket_path = socket_path
        self.log = log
        self._gone = gone
        self.viewers: dict[int, Viewer] = {}
        self.bridge = RoomBridge(self, crf, encoder)
        self.closed = False
        self._ready = False  # the bridge has Xvnc's ServerInit and asked for pictures
        # Whole pictures being made: (updates made before it, its encoding).
        self._picture: Optional[tuple[int, asyncio.Future[bytes]]] = None
        self.stats = {"viewers": 0, "pictures": 0, "skipped": 0, "bytes": 0}

    async def open(self) -> None:
        await self.bridge.open(self.socket_path)
        self.bridge.from_browser(ROOM_HANDSHAKE)

    # -- the bridge's side ------------------------------------------------------------
    def bridge_ready(self) -> None:
        """The bridge has Xvnc's ServerInit: ask for the room's pictures, greet viewers."""
        encodings = struct.pack(
            f">BxH{len(ROOM_ENCODINGS)}i", SET_ENCODINGS, len(ROOM_ENCODINGS), *ROOM_ENCODINGS
        )
        self.bridge.from_browser(struct.pack(">Bxxx", SET_PIXEL_FORMAT) + PIXEL_FORMAT + encodings)
        self._ready = True
        for viewer in list(self.viewers.values()):
            self._answer_init(viewer)

    def picture_ready(self) -> None:
        """The bridge has the screen: viewers waiting for their whole picture get it."""
        for viewer in list(self.viewers.values()):
            if viewer.state == "waiting":
                self._sync(viewer)

    def deliver(self, update: bytes, number: int) -> None:
        """An update the bridge made: to every viewer that can take it."""
        for viewer in list(self.viewers.values()):
            if viewer.state == "syncing":
                if number > viewer.after:
                    viewer.pending.append(update)
            elif viewer.state == "live":
                if viewer.unsent > HIGH_WATER_BYTES:
                    viewer.state = "behind"  # its whole picture once it took what it has
                    self.stats["skipped"] += 1
                else:
                    self._send(viewer, update)
                    viewer.updates += 1
            elif viewer.state == "behind":
                self.stats["skipped"] += 1
        self._pump()

    def close(self, code: int, why: str) -> None:
        """The bridge closed (Xvnc went away, the encoder failed, the last viewer left)."""
        if self.closed:
            return
        self.closed = True
        self.log.info(
            "%s view-only video room closed (%s): %s viewers, %s whole pictures, "
            "%s updates skipped for slow viewers, %s KB sent",
            PREFIX,
            why,
            self.stats["viewers"],
            self.stats["pictures"],
            self.stats["skipped"],
            self.stats["bytes"] // 1024,
        )
        self._gone(self)
        for viewer in list(self.viewers.values()):
            viewer.handler.close(code, why[:120])
        self.viewers.clear()

    # -- the viewers' side ------------------------------------------------------------
    def join(self, handler: Any, user: str = "") -> Viewer:
        viewer = Viewer(handler, user)
        self.viewers[id(handler)] = viewer
        self.stats["viewers"] += 1
        self._send(viewer, VERSION)
        return viewer

    def leave(self, handler: Any) -> None:
        viewer = self.viewers.pop(id(handler), None)
        if viewer is not None and viewer.reader.dropped:
            self.log.info(
                "%s view-only: dropped from a link's viewer: %s", PREFIX, viewer.reader.dropped
            )
        if not self.viewers and not self.closed:
            self.bridge.close("nobody watches")

    def hand(self, may_control: Callable[[str], bool]) -> None:
        """Control was handed: a JupyterHub visitor who may now type leaves the room (its
        page reconnects, on a bridge of its own that passes its input on)."""
        for viewer in list(self.viewers.values()):
            if viewer.user and may_control(viewer.user):
                viewer.handler.close(1000, "you have control now: reconnecting")

    def from_viewer(self, viewer: Viewer, data: bytes) -> None:
        if self.closed:
            return  # its websocket is closing
        try:
            messages = self.viewer_messages(viewer, data)
        except (RfbProtocolError, RfbStreamError) as err:
            self.log.warning("%s view-only video: a viewer closed: %s", PREFIX, err)
            viewer.handler.close(1008, str(err)[:120])
            return
        if messages and viewer.client.full:
            viewer.client.full = []
            now = time.monotonic()
            # The whole picture, exactly: at start, then at most one in WHOLE_EVERY seconds
            # (each costs an encoding and the room an IDR; a page asks again rarely).
            if viewer.state != "syncing" and now - viewer.whole_at >= WHOLE_EVERY:
                viewer.whole_at = now
                self._sync(viewer)
        self._pump()

    def viewer_messages(self, viewer: Viewer, data: bytes) -> int:
        """Reads what a viewer sent; how many of its messages the room took."""
        taken = 0
        for kind, message in viewer.reader.messages(data):
            if kind == HANDSHAKE_BYTES:
                before = viewer.handshake
                viewer.handshake += len(message)
                if before < 12 <= viewer.handshake:
                    self._send(viewer, SECURITY_TYPES)
                if before < 13 <= viewer.handshake:
                    self._send(viewer, SECURITY_OK)
                if viewer.handshake >= 14:
                    viewer.client_ready = True
                    self._answer_init(viewer)
                continue
            viewer.client.take(message)  # only pixel format, encodings, requests get here
            if kind == SET_ENCODINGS and H264 not in viewer.client.encodings:
                raise RfbStreamError("this page does not decode H.264; reload it")
            taken += 1
        return taken

    def _answer_init(self, viewer: Viewer) -> None:
        init = self.bridge.xvnc.init
        if viewer.init_sent or not viewer.client_ready or not self._ready or init is None:
            return
        viewer.init_sent = True
        height, width = self.bridge.xvnc.screen.shape[:2]
        self._send(viewer, server_init(ServerInit(width, height, init.name)))

    def _sync(self, viewer: Viewer) -> None:
        """Make (or share) a whole picture for ``viewer``; updates after it follow it."""
        bridge = self.bridge
        if not bridge._have_picture:
            viewer.state = "waiting"
            return
        viewer.state, viewer.after, viewer.pending = "syncing", bridge.made, []
        if self._picture is None or self._picture[0] != bridge.made:
            screen = bridge.xvnc.screen.copy()
            # The next moving picture starts new H.264 contexts: an IDR this viewer decodes.
            bridge.plan.new_context = True
            loop = asyncio.get_running_loop()
            self._picture = (
                bridge.made,
                loop.run_in_executor(bridge.executor, self._whole_picture, screen),
            )
            self.stats["pictures"] += 1
        self._picture[1].add_done_callback(lambda done: self._picture_made(viewer, done))

    def _whole_picture(self, screen: np.ndarray) -> bytes:
        """whole_picture in the bridge's thread, its CPU time counted as the bridge's."""
        started = time.thread_time()
        picture = whole_picture(screen)
        self.bridge.sent["cpu_s"] += time.thread_time() - started
        return picture

    def _picture_made(self, viewer: Viewer, done: asyncio.Future[bytes]) -> None:
        """A whole picture is encoded: to ``viewer``, then what was made after it."""
        if self.viewers.get(id(viewer.handler)) is not viewer or viewer.state != "syncing":
            return
        err = done.exception()
        if err is not None:
            self.log.warning("%s view-only video: a whole picture failed: %r", PREFIX, err)
            viewer.handler.close(1011, "the picture could not be encoded")
            return
        self._send(viewer, done.result())
        viewer.pictures += 1
        for update in viewer.pending:
            self._send(viewer, update)
        viewer.updates += 1 + len(viewer.pending)
        viewer.state, viewer.pending = "live", []
        self._pump()

    def _send(self, viewer: Viewer, data: bytes) -> None:
        try:
            sent = viewer.handler.write_message(data, binary=True)
        except WebSocketClosedError:  # its on_close takes it out of the room
            return
        size = len(data)
        viewer.unsent += size
        self.stats["bytes"] += size
        sent.add_done_callback(lambda _: self._flushed(viewer, size))

    def _flushed(self, viewer: Viewer, size: int) -> None:
        viewer.unsent -= size
        if viewer.state == "behind" and viewer.unsent == 0 and id(viewer.handler) in self.viewers:
            self._sync(viewer)
        self._pump()

    def _pump(self) -> None:
        """Ask the bridge for the next update while a live viewer waits for one, or has
        taken the last one and its page's next request is still on its way (ROOM_AHEAD)."""
        bridge = self.bridge
        if self.closed or not self._ready or bridge.client.requests > bridge._updates_sent:
            return
        if any(
            v.state == "live"
            and v.client.requests + ROOM_AHEAD > v.updates
            and v.unsent <= HIGH_WATER_BYTES
            for v in self.viewers.values()
        ):
            height, width = bridge.xvnc.screen.shape[:2]
            bridge.from_browser(update_request(True, 0, 0, width, height))
