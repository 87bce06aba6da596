"""Configuration of the napari desktop: the ``c.NapariDesktop`` options.

Every option is read from ``jupyter_server_config.py`` (or ``.json``), e.g.::

    c.NapariDesktop.session = "minimal"
    c.NapariDesktop.geometry = "1600x900"

A bad value stops the server at start with a message that names the option, the value
and the accepted forms.
"""

from __future__ import annotations

import os
import re
from typing import Any

from traitlets import (
    Bool,
    Dict,
    Enum,
    Float,
    Int,
    List,
    TraitError,
    Unicode,
    default,
    validate,
)
from traitlets.config import Configurable

GEOMETRY_RE = re.compile(r"^(\d{3,5})x(\d{3,5})$")
ENV_NAME_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
MIN_SIZE = (320, 200)
MAX_SIZE = (7680, 4320)


def bad_value(option: str, value: object, accepted: str) -> TraitError:
    """The one error every validator raises: option, value, accepted forms."""
    return TraitError(f"c.NapariDesktop.{option} = {value!r} is not valid: {accepted}")


def parse_geometry(value: str) -> tuple[int, int]:
    """Turn ``"1920x1080"`` into ``(1920, 1080)``; raise ValueError with the accepted form."""
    match = GEOMETRY_RE.match(value.strip())
    if not match:
        raise ValueError("expected WIDTHxHEIGHT in pixels, e.g. '1920x1080'")
    width, height = int(match.group(1)), int(match.group(2))
    if not (MIN_SIZE[0] <= width <= MAX_SIZE[0] and MIN_SIZE[1] <= height <= MAX_SIZE[1]):
        raise ValueError(
            f"width must be {MIN_SIZE[0]}-{MAX_SIZE[0]} and height {MIN_SIZE[1]}-{MAX_SIZE[1]}"
        )
    return width, height


# The options that take a whole number or seconds, and their accepted range (inclusive).
WHOLE_NUMBERS = {
    "frame_rate": (1, 120),
    "quality": (0, 9),
    "compression": (0, 9),
    "first_display": (0, 9000),
    "transfer_limit_mb": (1, 1_000_000),
    "keep_sessions": (1, 100),
    "video_crf": (10, 51),
}
SECONDS = {"startup_timeout": (1, 600), "open_timeout": (1, 3600), "save_delay": (0.5, 600)}


class NapariDesktop(Configurable):
    """The browser desktop (TigerVNC + XFCE) with napari, one per Jupyter server."""

    geometry = Unicode(
        "1920x1080",
        config=True,
        help="""Initial size of the remote screen, WIDTHxHEIGHT in pixels (default 1920x1080).
        The desktop page resizes the screen to the browser window once it connects, so this
        only matters for the first frame and for clients that cannot resize.""",
    )

    depth = Enum(
        [16, 24, 32],
        default_value=24,
        config=True,
        help="Colour depth of the X screen in bits (16, 24 or 32; default 24).",
    )

    session = Enum(
        ["xfce", "minimal"],
        default_value="xfce",
        config=True,
        help="""Which desktop session runs inside the VNC server.
        'xfce' (default): a full XFCE desktop (dbus-launch xfce4-session) with screen lock and
        power management turned off, napari in the application menu and on the desktop.
        'minimal': only a window manager (openbox, or xfwm4 if openbox is missing) and
        napari; about a quarter of XFCE's idle memory, for
        workshops on small machines. A script in `xstartup` or ~/.vnc/xstartup wins over this.""",
    )

    xstartup = Unicode(
        "",
        config=True,
        help="""Path of an executable script that starts the desktop session instead of the
        built-in 'xfce'/'minimal' sessions (it runs with DISPLAY set; the desktop ends when it
        exits). Empty (default): use the user's ~/.vnc/xstartup if it exists and is executable,
        else the session chosen by `session`.""",
    )

    vnc_server = Unicode(
        "Xvnc",
        config=True,
        help="""The TigerVNC X server: a command name looked up on PATH or an absolute path
        (default 'Xvnc', from the Debian/Ubuntu package tigervnc-standalone-server). It only
        ever listens on a private unix socket; no TCP port is opened.""",
    )

    render_node = Unicode(
        "auto",
        config=True,
        help="""GPU for the desktop's OpenGL: the DRM render node that Xvnc gets as
        -rendernode (DRI3, TigerVNC 1.14 or newer), so napari draws on the GPU instead of
        with Mesa's llvmpipe on the CPU. 'auto' (default): the first /dev/dri/renderD*
        device, if Xvnc is 1.14 or newer and this user may read and write the device (on
        Debian: the groups render or video), else none. A path such as
        '/dev/dri/renderD129': that device (Xvnc must be 1.14 or newer). 'off': none, always
        the CPU. In a container the device must be passed in (docker run --device
        /dev/dri). `jupyter napari-desktop doctor` says which renderer napari gets and
        why.""",
    )

    frame_rate = Int(
        60,
        config=True,
        help="""Most screen updates per second the VNC server sends (1-120, default 60,
        TigerVNC's own default). napari rarely draws faster; with 30, about 13% of its frames
        at 1280x800 never reached the browser (benchmarks/). Lower it to save CPU and
        bandwidth on shared machines.""",
    )

    quality = Int(
        2,
        config=True,
        help="""Default quality level the desktop page asks for while the picture moves
        (noVNC's 0-9: TigerVNC's JPEG quality and chroma subsampling; default 2, JPEG 41 with
        4:2:0; noVNC's own default is 6). With `adaptive_quality` the still picture is then
        sent again losslessly, so a low level only blurs motion. Users can change it on the
        page.""",
    )

    compression = Int(
        2,
        config=True,
        help="""Default compression level the desktop page asks for (0 = fastest,
        9 = smallest; default 2). Users can change it on the page.""",
    )

    adaptive_quality = Bool(
        True,
        config=True,
        help="""Lossy only while the picture moves (default True). While updates arrive the
        desktop page asks for JPEG at `quality`, without TigerVNC's own near-lossless re-sends
        of moving areas (JPEG 100, whenever the link has room: on a fast link most of the
        bytes, also between two frames); 0.3 s after the picture and the input stopped it
        asks for the part of the screen drawn meanwhile again without a quality level, which
        TigerVNC sends losslessly, so a still image is shown pixel for pixel. Measured with
        napari playing a fluorescence-like stack at 1920x1080: 0.6 of the bytes of noVNC's
        level 6 with TigerVNC's re-sends, one frame shown per napari draw
        (benchmarks/results/bandwidth-quick.md). False: always `quality` and TigerVNC's
        re-sends, as plain noVNC does (never exact: about 53 dB PSNR).""",
    )

    max_mbit_per_s = Float(
        0.0,
        config=True,
        help="""Most megabits per second one browser tab receives from the desktop, on
        average (default 0: no limit; otherwise 0.5-10000). Half a second's worth goes at
        once, so a key press after a pause is answered as fast as without a limit; under a
        sustained stream the VNC server's congestion control sends fewer frames. For a room
        on one Wi-Fi: this times the users who move pictures at once is what the desktops
        can take of it (napari playing a 1920x1080 fluorescence-like stack took 6.6 Mbit/s
        at 13 frames/s; with 4, 7 frames/s: benchmarks/). Input is never limited.""",
    )

    video = Enum(
        ["off", "auto"],
        default_value="off",
        config=True,
        help="""H.264 for the moving part of the screen (the video path, docs/video.md).
        'auto': where PyAV is installed (pip install av, the [video] extra; its
        wheels bundle FFmpeg with libx264, GPL in effect) and the page can decode it (a
        browser with WebCodecs H.264, on HTTPS or localhost), the server sends the area of
        the screen that keeps changing as H.264 to noVNC, small changes and, 0.3 s after the
        picture stopped (up to 0.6 s when napari draws slowly), that area again losslessly,
        so a still picture stays exact. The page goes back to the usual path by itself when
        the browser's decoder fails. A view-only link's tabs share one encoder (the
        room sees the presenter's pointer). The images of docker/ have PyAV.
        'off' (default): TigerVNC's Tight encoding passed through, as before.""",
    )

    video_crf = Int(
        20,
        config=True,
        help="""Picture quality of the video path while it moves: x264's constant rate
        factor, 10 (near lossless, most bytes) to 51 (smallest, blocky); default 20. Each 6
        more halves the bytes, roughly; at 20 every napari frame of a dark fluorescence or
        labels stack shows (1.8-2.1 Mbit/s at 1920x1080, 0.2-0.3 of noVNC's defaults;
        benchmarks/results/bandwidth-video.md), above it small changes between two frames
        are quantized away and the picture skips frames. This is the factor of a moving
        area the size of napari's canvas on a 1920x1080 screen; a larger one (a ratio-2 or
        4K screen: napari's picture enlarged more) gets 3 more for each doubling of its
        pixels, at most 6 more (at 3840x2160 a quarter of the bytes, every frame shown).
        The still picture is exact whatever this is.""",
    )

    video_encoder = Enum(
        ["auto", "x264", "nvenc"],
        default_value="auto",
        config=True,
        help="""Which encoder makes the video path's H.264. 'auto' (default): NVENC on an
        NVIDIA GPU where FFmpeg can open it (PyAV's wheels have it; the driver must be
        there: in a container the NVIDIA Container Toolkit, --gpus all), else x264 on the
        CPU; after NVENC failed to open (no driver, or the GPU's limit of encoding
        sessions) x264 encodes for 5 minutes before NVENC is tried again. 'x264': always
        the CPU. 'nvenc': only NVENC; where it does not open, pages are not offered the
        video path (`jupyter-napari-desktop doctor` says why). NVENC keeps a constant
        quantizer of video_crf.""",
    )

    startup_timeout = Float(
        30.0,
        config=True,
        help="""Seconds to wait for the VNC server to accept connections before the start is
        reported as failed (default 30; 1-600).""",
    )

    open_timeout = Float(
        60.0,
        config=True,
        help="""Seconds an "Open in napari" request (POST napari-desktop/api/open) waits for
        napari's reader before it answers 504 (default 60; 1-3600). The read goes on inside
        napari, without blocking its window, and the layer appears when it ends; raise this
        for large files on slow network storage.""",
    )

    transfer_limit_mb = Int(
        2048,
        config=True,
        help="""Largest array, in MB (10**6 bytes), that a notebook may send to the desktop's
        napari or fetch from it with desktop_viewer() or napari-desktop/api/layers (default
        2048; 1-1000000). Larger requests are refused with 413. Arrays travel as .npy files in
        the desktop's private directory (0700, files 0600, removed after use), never over the
        network: while one moves it takes its size on the disk of `runtime_dir` (RAM if that
        is a tmpfs such as /run/user) and in napari's memory, so keep this below what the
        machine can hold twice.""",
    )

    upload_dir = Unicode(
        "",
        config=True,
        help="""Folder, relative to the Jupyter root directory, into which files dropped on
        the desktop page are uploaded (then opened in napari), e.g. 'uploads'. Empty
        (default): the root folder itself, the one JupyterLab's file browser shows first.
        Created on the first upload if missing. It must stay inside the root: absolute
        paths, '..' and hidden ('.x') parts are refused. Uploads go through Jupyter's own
        contents API, with the same permissions as the file browser's upload.""",
    )

    hidpi = Enum(
        ["crisp", "light"],
        default_value="crisp",
        config=True,
        help="""How the desktop page uses a HiDPI screen (a browser devicePixelRatio above
        1, e.g. 2 on a Retina laptop). 'crisp' (default): the remote screen gets the
        window's device pixels (e.g. 2880x1600 for a 1440x800 window at ratio 2), napari
        and the session draw at that scale (192 dpi at ratio 2, over XSETTINGS), so napari
        has its usual size and is sharp; a redraw sends about 2x the bytes at ratio 2
        (benchmarks/results/hidpi.md). 'light': the remote screen gets the window's CSS
        pixels and the browser enlarges it, blurred, with the bytes of ratio 1. Users can
        switch on the page; at ratio 1 both are the same.""",
    )

    first_display = Int(
        1,
        config=True,
        help="""Lowest X display number to try (default 1). The first free number from here
        is used; locks left by dead X servers are cleaned, so numbers do not creep upward.""",
    )

    runtime_dir = Unicode(
        "",
        config=True,
        help="""Directory in which the private (0700) per-desktop directory with the VNC
        socket, X authority and logs is created. Empty (default): $XDG_RUNTIME_DIR if set and
        writable, else the system temporary directory. Keep the path short: unix socket paths
        are limited to about 100 characters.""",
    )

    owner = Unicode(
        config=True,
        help="""The user name whose desktop this is; everyone else the Jupyter server lets in
        gets the desktop view-only (they see it; their keys, pointer, clipboard and resizes
        are dropped by the server, and the API's changes answer 403) until the owner hands
        them control. Default: $JUPYTERHUB_USER, the hub user this single-user server
        belongs to (visitors come through JupyterHub's sharing or an admin's access).
        Empty (a server without JupyterHub): everyone who logs in is the owner.""",
    )

    @default("owner")
    def _default_owner(self) -> str:
        return os.environ.get("JUPYTERHUB_USER", "")

    autostart_napari = Bool(
        True,
        config=True,
        help="""Start napari, maximized, as soon as the desktop starts (default True).
        The 'napari' launcher card always starts napari if it is not running.""",
    )

    prestart = Bool(
        False,
        config=True,
        help="""Start the desktop (and napari, see `autostart_napari`) when the Jupyter
        server starts, so the first click shows napari at once (default False). Costs the
        desktop's memory even for users who never open it.""",
    )

    restore = Bool(
        True,
        config=True,
        help="""Bring napari's last session back when napari starts (default True): every
        layer in its order and settings, painted labels, points and shapes, arrays sent from
        notebooks, files opened (by their path), dims and camera, after Stop desktop, a
        crash, a server restart or a new container on the same home. False: napari always
        starts empty (the session is still saved, see `session_dir`, and can be opened in a
        notebook). The desktop page has a 'Start empty' button for one start.""",
    )

    session_dir = Unicode(
        "",
        config=True,
        help="""Folder in which napari's session is saved as it happens, one sub-folder per
        napari run (session.json and the layers' data as .npy files). Empty (default):
        napari-sessions in the Jupyter root directory when the root is the user's home or
        inside it (JupyterLab's file browser shows it), else ~/napari-sessions; either way
        it lives as long as the home does (a persistent volume on JupyterHub). Absolute
        path or ~; keep it off /tmp and off the private runtime directory, which end with
        the desktop. Painted labels are as
        large on disk as in memory (a 50x512x512 uint32 layer: 52 MB).""",
    )

    keep_sessions = Int(
        5,
        config=True,
        help="""How many napari sessions (runs) to keep in `session_dir`, newest first
        (default 5; 1-100). Older ones are removed when a new one is first saved; unchanged
        data shared by sessions is stored once (hard links).""",
    )

    save_delay = Float(
        3.0,
        config=True,
        help="""Seconds after the last edit in napari before its session is saved (default
        3; 0.5-600). A save waits for a brush stroke to end; only layers whose data changed
        are written again.""",
    )

    napari_python = Unicode(
        "",
        config=True,
        help="""Python interpreter of the environment napari is installed in, e.g.
        '/opt/conda/envs/napari/bin/python'. Empty (default): the server's own Python if it
        can import napari, else the Python named in the first line of `napari` found on PATH.""",
    )

    napari_command = List(
        Unicode(),
        default_value=[],
        config=True,
        help="""Full command that starts napari, as a list, e.g. ['napari'] or
        ['conda', 'run', '-n', 'napari', 'napari']. Overrides `napari_python`; the window is
        then not maximized by us and `napari_args` is appended as given. Empty (default): run
        napari through the built-in helper with `napari_python`.""",
    )

    napari_args = List(
        Unicode(),
        default_value=[],
        config=True,
        help="""Extra arguments for napari, e.g. paths of images to open when napari starts
        (default: none). A file opened here that the restored session has too stays one
        layer, with the session's settings (see `restore`).""",
    )

    napari_wrapper = List(
        Unicode(),
        default_value=[],
        config=True,
        help="""Command put in front of napari, e.g. ['vglrun'] to render OpenGL on the GPU
        through VirtualGL. Ignored, with a warning in the log, when its first word is not
        found on PATH (napari then renders with Mesa llvmpipe). Default: none.""",
    )

    extra_env = Dict(
        value_trait=Unicode(),
        default_value={},
        config=True,
        help="""Extra environment variables for everything started inside the desktop
        (session and napari), e.g. {'NAPARI_ASYNC': '1'}. Names must be valid shell names.""",
    )

    @validate("geometry")
    def _valid_geometry(self, proposal: dict[str, Any]) -> str:
        value = proposal["value"]
        try:
            parse_geometry(value)
        except ValueError as err:
            raise bad_value("geometry", value, str(err)) from None
        return str(value).strip()

    @validate(*WHOLE_NUMBERS)
    def _valid_whole_number(self, proposal: dict[str, Any]) -> int:
        name = proposal["trait"].name
        return self._int_between(name, proposal["value"], *WHOLE_NUMBERS[name])

    @validate(*SECONDS)
    def _valid_seconds(self, proposal: dict[str, Any]) -> float:
        name = proposal["trait"].name
        return self._seconds_between(name, proposal["value"], *SECONDS[name])

    @validate("max_mbit_per_s")
    def _valid_max_mbit_per_s(self, proposal: dict[str, Any]) -> float:
        value = float(proposal["value"])
        if value != 0 and not 0.5 <= value <= 10000:
            raise bad_value("max_mbit_per_s", value, "0 (no limit) or megabits from 0.5 to 10000")
        return value

    @validate("upload_dir")
    def _valid_upload_dir(self, proposal: dict[str, Any]) -> str:
        value = proposal["value"]
        accepted = (
            "a folder relative to the Jupyter root directory, e.g. 'uploads' or "
            "'data/uploads', without '..' or hidden ('.x') parts (empty for the root itself)"
        )
        text = value.strip().replace("\\", "/")
        if text.startswith(("/", "~")) or "\0" in text:
            raise bad_value("upload_dir", value, accepted)
        parts = [part for part in text.split("/") if part not in ("", ".")]
        if any(part == ".." or part.startswith(".") for part in parts):
            raise bad_value("upload_dir", value, accepted)
        return "/".join(parts)

    @validate("vnc_server")
    def _valid_vnc_server(self, proposal: dict[str, Any]) -> str:
        value = proposal["value"].strip()
        if not value:
            raise bad_value(
                "vnc_server", proposal["value"], "a command name such as 'Xvnc' or an absolute path"
            )
        return str(value)

    @validate("render_node")
    def _valid_render_node(self, proposal: dict[str, Any]) -> str:
        value = proposal["value"].strip()
        if value in ("auto", "off") or re.fullmatch(r"/dev/\S+", value):
            return str(value)
        raise bad_value(
            "render_node",
            proposal["value"],
            "'auto', 'off' or the path of a DRM render node, e.g. '/dev/dri/renderD128'",
        )

    @validate("xstartup", "napari_python", "runtime_dir", "session_dir")
    def _valid_absolute_or_empty(self, proposal: dict[str, Any]) -> str:
        name = proposal["trait"].name
        value = proposal["value"]
        if value and not value.startswith(("/", "~")):
            raise bad_value(name, value, "an absolute path (or empty for the default)")
        return str(value)

    @validate("extra_env")
    def _valid_extra_env(self, proposal: dict[str, Any]) -> dict[str, str]:
        value = proposal["value"]
        for name in value:
            if not ENV_NAME_RE.match(name):
                raise bad_value(
                    "extra_env",
                    value,
                    f"variable name {name!r} must be letters, digits and _ "
                    "and not start with a digit",
                )
        return dict(value)

    @staticmethod
    def _int_between(option: str, value: int, low: int, high: int) -> int:
        if not low <= value <= high:
            raise bad_value(option, value, f"a whole number from {low} to {high}")
        return int(value)

    @staticmethod
    def _seconds_between(option: str, value: float, low: float, high: float) -> float:
        if not low <= value <= high:
            raise bad_value(option, value, f"a number of seconds from {low:g} to {high:g}")
        return float(value)
