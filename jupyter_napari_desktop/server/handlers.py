"""Thin authenticated handlers; every URL lives under ``{base_url}napari-desktop/``.

- ``napari-desktop/``            the desktop page (``?app=napari`` or ``?app=desktop``)
- ``napari-desktop/static/...``  its styles and icon (the script is in the page itself)
- ``napari-desktop/websockify``  websocket to the VNC unix socket (jupyter-server-proxy)
- ``napari-desktop/api/...``     JSON: info, status, start, open, restart, stop, screen; the
  notebook's layers, transfers, screenshot and viewer (exchange.py)
"""

from __future__ import annotations

import asyncio
import functools
import json
import re
import time
import urllib.parse
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any, Optional

import jinja2
from jupyter_server.base.handlers import APIHandler, AuthenticatedFileHandler, JupyterHandler
from jupyter_server.utils import url_path_join
from jupyter_server_proxy.rawsocket import RawSocketHandler
from tornado import web
from tornado.log import app_log, gen_log
from tornado.websocket import WebSocketHandler

from .._version import __version__
from ..config import NapariDesktop
from ..launch import DesktopError
from .access import MAX_LINK_SECONDS, OWNER, ViewLink, user_name
from .errors import Refused, http_status, shorten
from .exchange import Exchange
from .manager import PREFIX, DesktopManager, connect_unix, preflight
from .napari_link import DATA_TYPES, LAYER_TYPES
from .pacing import PacedSocketProtocol, TokenBucket
from .paths import resolve_in_root
from .rfb_input import RfbInput, RfbProtocolError

NAMESPACE = "napari-desktop"
DEFAULT_LINK_SECONDS = 3600
STATIC_DIR = Path(__file__).resolve().parent / "static"
TEMPLATE_DIR = Path(__file__).resolve().parent / "templates"
# Our own pages (autoescaped); the server's Jinja environment holds Jupyter's templates.
TEMPLATES = jinja2.Environment(
    loader=jinja2.FileSystemLoader(TEMPLATE_DIR), autoescape=True, undefined=jinja2.StrictUndefined
)
# The page's script (noVNC bundled, no CDN), put into the page itself: a module script
# loaded by URL is fetched in CORS mode, which a JupyterHub single-user server (>= 4.1)
# treats as anonymous unless it carries the XSRF token, so under a hub it was answered
# with login redirects and the page stayed blank. A classic script cannot hold noVNC's
# top-level await; the token in the script's URL would end up in logs.
PAGE_SCRIPT = STATIC_DIR / "build" / "desktop.js"
APPS = ("napari", "desktop")
MAX_PATHS = 100
# Query arguments never written to the log: Jupyter's token and a view-only link's.
SECRET_ARGUMENTS = ("token", "_xsrf")
# A JSON body nested deeper than this is refused (napari's settings need a few levels).
MAX_JSON_DEPTH = 32
# Whom the owner hands control at once, and a user name's length (JupyterHub's are short).
MAX_CONTROL_USERS = 100
MAX_USER_NAME = 256
COEXISTING_TOOLS = ("jupyter-remote-desktop-proxy",)
LAYER_FIELDS = (
    "name",
    "type",
    "shape",
    "dtype",
    "multiscale",
    "levels",
    "lazy",
    "visible",
    "opacity",
    "colormap",
)
DIMS_FIELDS = ("ndim", "ndisplay", "current_step", "range", "axis_labels")
CAMERA_FIELDS = ("center", "zoom", "angles", "perspective")


def installed_tools() -> list[str]:
    """Other browser-desktop tools installed beside us (their launcher cards coexist)."""
    found = []
    for name in COEXISTING_TOOLS:
        try:
            version(name)
        except PackageNotFoundError:
            continue
        found.append(name)
    return found


@functools.lru_cache(maxsize=2)
def read_page_script(path: Path, mtime_ns: int) -> str:
    """The bundle as it may stand inside ``<script>``: "</script" and "<!--" would end or
    change the element, so their "<" is written as the JavaScript escape \\x3C (the same
    character in strings, regular expressions and template literals)."""
    text = path.read_text(encoding="utf-8")
    return re.sub(r"<(?=/script|!--)", r"\\x3C", text, flags=re.IGNORECASE)


def page_script() -> str:
    """The page's script, read again when the file changes (a rebuild in development)."""
    return read_page_script(PAGE_SCRIPT, PAGE_SCRIPT.stat().st_mtime_ns)


class DesktopMixin:
    """Access to the one DesktopManager of this server."""

    settings: dict[str, Any]

    @property
    def manager(self) -> DesktopManager:
        manager: DesktopManager = self.settings["napari_desktop_manager"]
        return manager

    @property
    def user(self) -> str:
        """The name of who sent this request (under JupyterHub: the visitor, not the owner)."""
        return user_name(getattr(self, "current_user", None))

    def _request_summary(self) -> str:
        """The request as tornado logs it (an HTTPError's warning, a slow request), its
        secrets scrubbed: a view-only link's or Jupyter's ``token``."""
        request = self.request  # type: ignore[attr-defined]
        return f"{request.method} {scrub_uri(request.uri)} ({request.remote_ip})"


def scrub_uri(uri: str) -> str:
    """``uri`` with the value of every SECRET_ARGUMENTS argument (``token``, ``_xsrf``, in
    any case) in its query replaced."""
    path, mark, query = uri.partition("?")
    if not mark:
        return uri
    parts = []
    for part in query.split("&"):
        key, equals, _ = part.partition("=")
        secret = equals and urllib.parse.unquote_plus(key).lower() in SECRET_ARGUMENTS
        parts.append(f"{key}=[secret]" if secret else part)
    return f"{path}?{'&'.join(parts)}"


def video_offered(config: NapariDesktop) -> bool:
    """Whether this server sends H.264 to a page that can decode it (video.py)."""
    if config.video == "off":
        return False
    from .video_codec import available

    return available(config.video_encoder) is None


def desktop_page_config(manager: DesktopManager, base: str, **fields: Any) -> dict[str, Any]:
    """The JSON the desktop page reads (labextension/desktop/page-config.ts): the server's
    settings, then ``fields`` (the page's app, XSRF token, who is looking, ...)."""
    config = manager.config
    return {
        "baseUrl": base,
        "apiUrl": url_path_join(base, NAMESPACE, "api") + "/",
        "websocketPath": url_path_join(base, NAMESPACE, "websockify"),
        "app": "napari",
        "xsrfToken": "",
        "quality": config.quality,
        "compression": config.compression,
        "adaptiveQuality": config.adaptive_quality,
        "uploadDir": config.upload_dir,
        "hidpi": config.hidpi,
        # The page asks for the video path (?video=h264) only if the server can send it.
        "video": video_offered(config),
        "version": __version__,
        # Whose desktop, and whether this visitor may change it (access.py).
        "owner": manager.access.owner,
        "user": "",
        "role": "owner",
        **fields,
    }


class DesktopPageHandler(DesktopMixin, JupyterHandler):
    """The desktop page, or a readable error page if the desktop cannot start here."""

    def get_template(self, name: str) -> jinja2.Template:
        return TEMPLATES.get_template(name)

    @web.authenticated
    def get(self) -> None:
        app = self.get_argument("app", "desktop")
        if app not in APPS:
            raise web.HTTPError(400, f"app must be one of {', '.join(APPS)}, not {app!r}")
        base = self.base_url
        static = url_path_join(base, NAMESPACE, "static")
        title = "napari — Desktop" if app == "napari" else "Desktop"
        self.set_header("Cache-Control", "no-store")
        self.set_header("X-Frame-Options", "SAMEORIGIN")
        problems = preflight(self.manager.config)
        try:
            script = page_script()
        except OSError as err:
            problems.append(
                DesktopError(
                    f"The desktop page's script {PAGE_SCRIPT} cannot be read: {err.strerror}",
                    "reinstall jupyter-napari-desktop with pip (its build makes the script; "
                    "from a checkout: labextension/README.md's Build)",
                )
            )
        if problems:
            self.set_status(503)
            self.finish(
                self.render_template(
                    "error.html", page_title=title, static_base=static, problems=problems
                )
            )
            return
        page_config = desktop_page_config(
            self.manager,
            base,
            app=app,
            xsrfToken=self.xsrf_token.decode("ascii"),
            user=self.user,
            role=self.manager.access.role(self.user),
        )
        page = self.render_template(
            "desktop.html",
            page_title=title,
            static_base=static,
            asset_version=__version__,
            page_config=page_config,
            page_script=script,
        )
        self.finish(page)


class DesktopAPIHandler(DesktopMixin, APIHandler):
    """JSON in, JSON out; errors as {"error": {"message", "fix"}} with a clear status.

    Handlers raise: a DesktopError (a Refused with its status, 503 for what cannot start)
    or tornado's HTTPError for bad input; ``write_error`` answers once."""

    viewers_may_post = False  # a handler that answers a viewer's POST itself

    async def prepare(self) -> None:  # type: ignore[override]
        """Only the owner (and whoever the owner handed control) changes the desktop."""
        await super().prepare()
        if self._finished or self.request.method in ("GET", "HEAD", "OPTIONS"):
            return
        if self.viewers_may_post or self.current_user is None:
            return  # (no user: @web.authenticated answers 403)
        if not self.manager.access.may_control(self.user):
            raise Refused(
                403,
                f"{self.user} may only watch {self.manager.access.owner}'s desktop",
                f"ask {self.manager.access.owner} to hand you control",
            )

    def require_owner(self, doing: str) -> None:
        """Refused 403 unless the desktop's owner sent this (handing control, links)."""
        if self.manager.access.role(self.user) != OWNER:
            raise Refused(403, f"only the desktop's owner {doing}", "ask the owner")

    def json_body(self) -> dict[str, Any]:
        if not self.request.body:
            return {}
        try:
            body = json.loads(self.request.body)
        except (ValueError, RecursionError):  # RecursionError: nested too deep to parse
            raise web.HTTPError(
                400, 'the request body must be JSON, e.g. {"app": "napari"}'
            ) from None
        if not isinstance(body, dict):
            raise web.HTTPError(400, "the request body must be a JSON object")
        if json_depth(body) > MAX_JSON_DEPTH:
            raise web.HTTPError(
                400, f"the request body is nested more than {MAX_JSON_DEPTH} levels deep"
            )
        return body

    def log_exception(self, typ: Any, value: Any, tb: Any) -> None:
        """A DesktopError is an answer, not a crash: one line, no traceback."""
        if isinstance(value, web.HTTPError):
            # As tornado logs it, shortened: the message may echo what a client sent.
            message = value.get_message()
            if message:
                gen_log.warning(
                    "%d %s: %s", value.status_code, self._request_summary(), shorten(message)
                )
            return
        if not isinstance(value, DesktopError):
            super().log_exception(typ, value, tb)
            return
        status = http_status(value)
        log = self.log.warning if status >= 500 else self.log.info
        log("%s %s %s: %s (%s)", PREFIX, status, self.request.path, value.message, value.fix)
        if value.detail:
            self.log.debug("%s %s", PREFIX, value.detail)

    def write_error(self, status_code: int, **kwargs: Any) -> None:
        exc = kwargs.get("exc_info", (None, None, None))[1]
        if isinstance(exc, DesktopError):
            self.set_status(http_status(exc))
            self.finish({"error": exc.as_json()})
            return
        message = (exc.get_message() or "") if isinstance(exc, web.HTTPError) else ""
        self.finish(
            {
                "error": {
                    "message": shorten(message) or self._reason,
                    "fix": "see the API description in the README",
                }
            }
        )


class InfoHandler(DesktopAPIHandler):
    _track_activity = False  # polled by pages: not a sign of a person

    @web.authenticated
    def get(self) -> None:
        self.finish({"version": __version__, "coexisting": installed_tools()})


class StatusHandler(DesktopAPIHandler):
    _track_activity = False

    @web.authenticated
    async def get(self) -> None:
        self.finish(await self.manager.status())


class StartHandler(DesktopAPIHandler):
    """Start the desktop (and napari for app=napari); answer with its status. A viewer's
    page asks too: it gets the status of a running desktop, and 409 if there is none."""

    viewers_may_post = True

    @web.authenticated
    async def post(self) -> None:
        if not self.manager.access.may_control(self.user):
            if not self.manager.running():
                owner = self.manager.access.owner
                raise Refused(409, f"{owner}'s desktop is not running", f"ask {owner} to open it")
            self.finish(await self.manager.status())
            return
        body = self.json_body()
        app = body.get("app", "desktop")
        if app not in APPS:
            raise web.HTTPError(400, f"'app' must be one of {', '.join(APPS)}, not {app!r}")
        await self.manager.start(app, reconnect=bool(body.get("reconnect")))
        if app == "napari" and body.get("wait"):
            await self.manager.napari.socket(start=True)  # until napari answers
        self.finish(await self.manager.status())


class OpenHandler(DesktopAPIHandler):
    """Open files of the server's root directory as layers in the desktop's napari."""

    @web.authenticated
    async def post(self) -> None:
        body = self.json_body()
        paths, plugin, layer_type = body.get("paths"), body.get("plugin"), body.get("layer_type")
        if (
            not isinstance(paths, list)
            or not paths
            or len(paths) > MAX_PATHS
            or not all(isinstance(p, str) for p in paths)
        ):
            raise web.HTTPError(
                400, f"'paths' must be a list of 1 to {MAX_PATHS} root-relative file paths"
            )
        if plugin is not None and (not isinstance(plugin, str) or len(plugin) > 200):
            raise web.HTTPError(400, "'plugin' must be a napari plugin name or null")
        if layer_type is not None and layer_type not in LAYER_TYPES:
            raise web.HTTPError(400, f"'layer_type' must be one of {', '.join(LAYER_TYPES)}")
        root = Path(self.settings.get("server_root_dir") or ".").expanduser()
        allow_hidden = bool(getattr(self.contents_manager, "allow_hidden", False))
        resolved = []
        for requested in paths:  # a folder's links are checked too: off the event loop
            resolved.append(await asyncio.to_thread(resolve_in_root, root, requested, allow_hidden))
        answer = await self.manager.open(resolved, plugin, layer_type)
        if not answer.get("ok"):
            raise Refused(
                422,
                f"napari cannot read it: {answer.get('error')}",
                "check the file, or name a reader plugin ('plugin') that can read it",
            )
        self.finish({"opened": answer.get("layers", []), "status": await self.manager.status()})


class RestartHandler(DesktopAPIHandler):
    """Restart the desktop; files opened through the API are opened again."""

    @web.authenticated
    async def post(self) -> None:
        await self.manager.restart()
        self.finish(await self.manager.status())


class StopHandler(DesktopAPIHandler):
    """Stop the desktop and everything in it (files in the home directory stay)."""

    @web.authenticated
    async def post(self) -> None:
        await self.manager.stop()
        self.finish(await self.manager.status())


class AccessHandler(DesktopAPIHandler):
    """Who is there: ``GET`` the owner, you, who has control and who is connected;
    ``PUT {"control": ["bob"]}`` (the owner only) hands control to exactly those users."""

    _track_activity = False

    def answer(self) -> dict[str, Any]:
        access = self.manager.access
        return {
            "owner": access.owner or None,
            "you": {"user": self.user, "role": access.role(self.user)},
            "control": sorted(access.handed),
            "people": access.people(),
        }

    @web.authenticated
    def get(self) -> None:
        self.finish(self.answer())

    @web.authenticated
    def put(self) -> None:
        self.require_owner("hands control")
        access = self.manager.access
        users = self.json_body().get("control")
        if (
            not isinstance(users, list)
            or len(users) > MAX_CONTROL_USERS
            or not all(isinstance(u, str) and 0 < len(u) <= MAX_USER_NAME for u in users)
        ):
            raise web.HTTPError(
                400,
                f'"control" must be a list of at most {MAX_CONTROL_USERS} user names (each '
                f'1 to {MAX_USER_NAME} characters), e.g. ["bob"]',
            )
        access.hand(users)
        room = self.manager.video_room
        if room is not None:  # who now has control leaves the room: their page reconnects
            room.hand(access.may_control)
        self.log.info("%s %s hands control to %s", PREFIX, self.user, users or "nobody")
        self.finish(self.answer())


class LinksHandler(DesktopAPIHandler):
    """View-only links (the owner only): ``POST {"expires_in": 3600}`` makes one and answers
    its URL once; ``GET`` lists them (without their tokens)."""

    _track_activity = False

    @web.authenticated
    def get(self) -> None:
        self.require_owner("lists view-only links")
        self.manager.access.sweep_links()
        self.finish({"links": [link.json() for link in self.manager.access.links.values()]})

    @web.authenticated
    def post(self) -> None:
        self.require_owner("makes view-only links")
        seconds = self.json_body().get("expires_in", DEFAULT_LINK_SECONDS)
        if (
            isinstance(seconds, bool)
            or not isinstance(seconds, (int, float))
            or not 60 <= seconds <= MAX_LINK_SECONDS
        ):
            raise web.HTTPError(
                400, f"'expires_in' must be seconds from 60 to {MAX_LINK_SECONDS}, e.g. 3600"
            )
        try:
            link, token = self.manager.access.make_link(float(seconds))
        except ValueError as err:
            raise Refused(409, str(err), "revoke a link you no longer need") from None
        path = url_path_join(self.base_url, NAMESPACE, "watch") + "?token=" + token
        self.log.info("%s %s made view-only link %s", PREFIX, self.user, link.id)
        self.set_status(201)
        self.finish({**link.json(), "path": path})


class LinkHandler(DesktopAPIHandler):
    """``DELETE links/<id>``: the link stops working; its viewers are disconnected now."""

    @web.authenticated
    def delete(self, link_id: str) -> None:
        self.require_owner("revokes view-only links")
        if not self.manager.access.revoke_link(link_id):
            raise web.HTTPError(404, f"no view-only link {link_id!r}")
        self.log.info("%s %s revoked view-only link %s", PREFIX, self.user, link_id)
        self.set_status(204)
        self.finish()


class ScreenHandler(DesktopAPIHandler):
    """The page's screen: ``{"scale": 2}`` (device pixels per CSS pixel) makes napari and the
    session draw at that scale, so a HiDPI laptop gets napari at its usual size, sharp."""

    _track_activity = False  # sent by pages when they connect or move to another screen

    @web.authenticated
    async def put(self) -> None:
        body = self.json_body()
        try:
            answer = await self.manager.set_scale(body.get("scale"))
        except ValueError as err:
            raise web.HTTPError(400, f'{err}; send e.g. {{"scale": 2}}') from None
        self.finish(answer)


class SessionHandler(DesktopAPIHandler):
    """napari's kept sessions: GET lists them (and what napari restored and saved last);
    POST {"action": "empty"} removes napari's layers and begins a new session;
    POST {"action": "open", "session": "latest" | a kept session's name | a folder's
    absolute path (the owner only)} shows that session in napari instead."""

    @web.authenticated
    async def get(self) -> None:
        status = await self.manager.status()
        self.finish(
            {
                "dir": str(self.manager.session_root()),
                "restore": self.manager.config.restore,
                "sessions": self.manager.saved_sessions(),
                "napari": status["napari"]["session"],
            }
        )

    @web.authenticated
    async def post(self) -> None:
        body = self.json_body()
        action, which = body.get("action"), body.get("session", "latest")
        if action == "empty":
            self.finish({"napari": await self.manager.start_empty()})
            return
        if action != "open" or not isinstance(which, str) or not which:
            raise web.HTTPError(
                400,
                'send {"action": "empty"} or {"action": "open", "session": "latest"} '
                "(or a kept session's name, or a session folder's absolute path)",
            )
        if "/" in which:
            self.require_owner("opens a session folder by its path")
        self.finish({"napari": await self.manager.open_session(which)})


def layer_json(info: dict[str, Any]) -> dict[str, Any]:
    return {key: info.get(key) for key in LAYER_FIELDS}


class ExchangeHandler(DesktopAPIHandler):
    """The notebook's verbs (desktop_viewer()): arrays travel as transfer files, see
    exchange.py; refusals answer their status with the message and the fix."""

    @property
    def exchange(self) -> Exchange:
        exchange: Exchange = self.settings["napari_desktop_exchange"]
        return exchange

    def props(self, body: dict[str, Any]) -> dict[str, Any]:
        props = body.get("props") or {}
        if not isinstance(props, dict):
            raise web.HTTPError(400, "'props' must be a JSON object of layer settings")
        return props


class TransfersHandler(ExchangeHandler):
    """A fresh transfer file for an array of ``nbytes`` the client will write."""

    @web.authenticated
    async def post(self) -> None:
        nbytes = self.json_body().get("nbytes", 0)
        if not isinstance(nbytes, int) or isinstance(nbytes, bool) or nbytes < 0:
            raise web.HTTPError(400, "'nbytes' must be the array's size in bytes")
        await self.manager.napari.socket(start=True)
        transfer = self.exchange.make(nbytes)
        self.finish(
            {"transfer": transfer.name, "path": str(transfer.path), "limit": self.exchange.limit}
        )


class TransferHandler(ExchangeHandler):
    @web.authenticated
    def delete(self, name: str) -> None:
        if not self.exchange.remove(name):
            raise Refused(
                404, f"{name[:80]!r} is not a transfer file of this server", "nothing to do"
            )
        self.set_status(204)
        self.finish()


class LayersHandler(ExchangeHandler):
    """GET: napari's layers; POST: a new layer from a transfer file."""

    @web.authenticated
    async def get(self) -> None:
        layers = await self.exchange.layers()
        self.finish({"layers": [layer_json(info) for info in layers]})

    @web.authenticated
    async def post(self) -> None:
        body = self.json_body()
        kind = body.get("type")
        if kind not in DATA_TYPES:
            raise web.HTTPError(400, f"'type' must be one of {', '.join(DATA_TYPES)}")
        answer = await self.exchange.add(kind, body.get("transfer"), self.props(body))
        timing = answer.get("timing") or {}
        self.finish(
            {
                "layer": layer_json(answer["layer"]),
                "timing": {key: timing.get(key) for key in ("read_s", "add_s")},
            }
        )


class LayerHandler(ExchangeHandler):
    """One layer: GET its data (in a transfer file), PUT new data or settings, DELETE."""

    def decode_argument(self, value: bytes, name: Optional[str] = None) -> str:
        """The layer's name in the path: UTF-8 where a lone surrogate passes, as the kernel
        client encodes it. napari takes any Python string as a name (one named in napari's
        window, or after a file whose name is not UTF-8: "a\\udcffb"), and such a layer must
        be reachable too; query arguments are decoded as tornado does."""
        if name is not None:
            return super().decode_argument(value, name)
        try:
            return value.decode("utf-8", "surrogatepass")
        except UnicodeDecodeError:
            raise web.HTTPError(
                400, f"the layer's name in the URL is not UTF-8: {value[:40]!r}"
            ) from None

    @web.authenticated
    async def get(self, name: str) -> None:
        level = self.get_argument("level", "0")
        if not re.fullmatch(r"[0-9]{1,3}", level):
            raise web.HTTPError(400, "'level' must be a whole number (0 = highest resolution)")
        answer = await self.exchange.get(name, int(level))
        fields = ("dtype", "shape", "nbytes", "level", "transfer", "path")
        reply = {key: answer.get(key) for key in fields}
        reply["layer"] = layer_json(answer["layer"])
        if "lengths" in answer:
            reply["lengths"], reply["shape_type"] = answer["lengths"], answer["shape_type"]
        self.finish(reply)

    @web.authenticated
    async def put(self, name: str) -> None:
        body = self.json_body()
        layer = await self.exchange.update(name, body.get("transfer"), self.props(body))
        self.finish({"layer": layer_json(layer)})

    @web.authenticated
    async def delete(self, name: str) -> None:
        await self.exchange.remove_layer(name)
        self.finish({"removed": name})


class ScreenshotHandler(ExchangeHandler):
    """napari's canvas: a PNG, or with ?format=npy a transfer file of its RGBA array."""

    @web.authenticated
    async def get(self) -> None:
        fmt = self.get_argument("format", "png")
        if fmt not in ("png", "npy"):
            raise web.HTTPError(400, "'format' must be png or npy")
        answer, png = await self.exchange.screenshot(fmt)
        if png is not None:
            self.set_header("Content-Type", "image/png")
            self.set_header("Cache-Control", "no-store")
            self.finish(png)
            return
        self.finish({key: answer.get(key) for key in ("shape", "transfer", "path")})


class ViewerHandler(ExchangeHandler):
    """dims, camera and the selected layers: GET reads them, PUT sets what it names."""

    @web.authenticated
    async def get(self) -> None:
        await self.answer(None)

    @web.authenticated
    async def put(self, *args: Any) -> None:
        body = self.json_body()
        unknown = sorted(set(body) - {"dims", "camera", "selected", "reset_view"})
        if unknown:
            raise web.HTTPError(
                400, f"unknown {', '.join(unknown)}: give dims, camera, selected, reset_view"
            )
        await self.answer(body)

    async def answer(self, change: Any) -> None:
        state = await self.exchange.viewer(change)
        dims, camera = state.get("dims") or {}, state.get("camera") or {}
        self.finish(
            {
                "dims": {key: dims.get(key) for key in DIMS_FIELDS},
                "camera": {key: camera.get(key) for key in CAMERA_FIELDS},
                "selected": list(state.get("selected") or []),
                "active": state.get("active"),
            }
        )


def json_depth(value: Any) -> int:
    """How deep lists and objects nest in ``value`` (a scalar: 0), without recursion."""
    deepest, todo = 0, [(value, 1)] if isinstance(value, (dict, list)) else []
    while todo:
        item, depth = todo.pop()
        deepest = max(deepest, depth)
        children = item.values() if isinstance(item, dict) else item
        todo.extend((child, depth + 1) for child in children if isinstance(child, (dict, list)))
    return deepest


def message_bytes(message: Any) -> bytes:
    """A websocket message's bytes (a text message as UTF-8)."""
    return message.encode("utf-8") if isinstance(message, str) else bytes(message)


def client_bytes(handler: Any, reader: Optional[RfbInput], message: Any, who: str) -> bytes:
    """What of a websocket message goes on to the VNC server (rfb_input.py); b"" after
    closing a connection whose stream cannot be read."""
    data = message_bytes(message)
    if reader is None:
        return data
    try:
        return reader.feed(data)
    except RfbProtocolError as err:
        handler.log.warning("%s websocket of %s closed: %s", PREFIX, who, err)
        handler.close(1008, "not a VNC client the desktop can read")
        return b""


async def join_room(
    handler: Any, manager: DesktopManager, socket_path: str, user: str = ""
) -> None:
    """``handler``'s websocket joins the desktop's one video room (video_room.py), opened by
    its first viewer; ``user``: a JupyterHub visitor's name (a link's viewer has none)."""
    from .video_room import Room  # numpy and PyAV: only on the video path

    room = manager.video_room
    opening = room is None or room.closed
    if opening:

        def gone(old: Any) -> None:
            if manager.video_room is old:
                manager.video_room = None

        config = manager.config
        room = Room(socket_path, config.video_crf, config.video_encoder, app_log, gone)
        manager.video_room = room
    assert room is not None
    handler.room, handler.viewer = room, room.join(handler, user)
    if opening:
        try:
            await room.open()
        except OSError as err:
            room.close(1011, f"the desktop's VNC socket: {err}")


class DesktopSocketHandler(DesktopMixin, RawSocketHandler):
    """The VNC websocket: jupyter-server-proxy's raw socket proxy to the private unix socket.

    Authentication (403 without a user) and the origin check come from the proxy's
    handler. The desktop is started, or restarted after Xvnc died, before the upgrade.
    """

    name = "napari-desktop"

    def _record_activity(self) -> None:
        """Screen updates are not activity; input is reported from the X server (app.py)."""

    async def get(self, *args: Any, **kwargs: Any) -> None:
        if self.request.headers.get("Upgrade", "").lower() != "websocket":
            raise web.HTTPError(
                400,
                "This is the desktop's websocket; open "
                + url_path_join(self.base_url, NAMESPACE)
                + "/ in the browser instead",
            )
        origin = self.request.headers.get("Origin")
        if origin is not None and not self.check_origin(origin):
            # Checked before anything starts: a foreign page must not even start a desktop.
            raise web.HTTPError(403, "Cross-origin websocket refused")
        try:
            may_start = self.manager.access.may_control(self.user)
            self.unix_socket = str(await self.manager.connect(may_start))
        except Refused as err:
            raise web.HTTPError(err.status, err.message) from None
        except DesktopError as err:
            raise web.HTTPError(http_status(err), f"{err.message}; fix: {err.fix}") from None
        await super().get(*args, **kwargs)

    async def _create_ws_connection(self, proto: Any) -> Any:
        """Connect to the VNC socket (jupyter-server-proxy's seam for the backend): a burst
        of tabs can fill Xvnc's listen backlog, which must delay a tab, not drop it. The
        screen updates come through a paced protocol (pacing.py) instead of ``proto``."""
        sock = await connect_unix(str(self.unix_socket))
        bucket = TokenBucket.for_mbit(self.manager.config.max_mbit_per_s)
        return await asyncio.get_running_loop().create_unix_connection(
            lambda: PacedSocketProtocol(self, bucket), sock=sock
        )

    rfb_input: Optional[RfbInput] = None
    video: Optional[Any] = None  # video.VideoBridge when the page asked for H.264

    async def open(self, *args: Any, **kwargs: Any) -> None:
        # Small RFB messages (pointer, key, little updates) must not wait for Nagle's algorithm.
        self.set_nodelay(True)
        # What this visitor may send (access.py): a viewer's input never reaches Xvnc.
        self.rfb_input = self.manager.access.join(id(self), self.user)
        config = self.manager.config
        if self.get_query_argument("video", "") == "h264" and video_offered(config):
            if not self.rfb_input.control:
                # A visitor who watches: the room's one encoder, not one of its own (a
                # room of thirty would be thirty encoders). Handed control, it reconnects.
                await join_room(self, self.manager, str(self.unix_socket), self.user)
                self.log.info("%s websocket of %s: the video room", PREFIX, self.user)
                return
            from .video import VideoBridge  # numpy and PyAV: only on the video path

            self.video = VideoBridge(self, self.rfb_input, config.video_crf, config.video_encoder)
            self.manager.video_bridges.add(self.video)
            self.log.info("%s websocket of %s: video path (H.264)", PREFIX, self.user)
            try:
                await self.video.open(str(self.unix_socket))
            except OSError as err:  # Xvnc went away since the upgrade: the page reconnects
                self.video.close(f"the desktop's VNC socket: {err}", 1011)
            return
        await self.proxy_open("localhost", 0, "")

    room: Optional[Any] = None  # video_room.Room where a visitor watches on the video path
    viewer: Optional[Any] = None

    def on_message(self, message: Any) -> None:
        if self.room is not None:
            self.room.from_viewer(self.viewer, message_bytes(message))
            return
        if self.video is not None:
            self.video.from_browser(message_bytes(message))
            return
        data = client_bytes(self, self.rfb_input, message, self.user)
        if data:
            super().on_message(data)

    def on_pong(self, data: bytes) -> None:
        if self.video is not None:
            self.video.pong(data)  # the round trip of its ping

    def on_close(self) -> None:
        watcher = self.manager.access.leave(id(self))
        if watcher is not None and watcher.reader.dropped:
            self.log.info(
                "%s view-only: dropped from %s: %s", PREFIX, watcher.user, watcher.reader.dropped
            )
        if self.video is not None:
            self.video.close("the browser closed the websocket")
            self.manager.video_bridges.discard(self.video)
        if self.room is not None:
            self.room.leave(self)
        super().on_close()

    async def http_get(self, *args: Any) -> None:  # pragma: no cover - refused in get()
        raise web.HTTPError(400)


# The header a view-only link's page sends its token in (its status requests: a proxy or
# JupyterHub in front may log URLs whole; a websocket cannot send headers: ?token= there).
WATCH_HEADER = "X-Napari-Desktop-Watch"


class WatchMixin(DesktopMixin):
    """A view-only link's requests: no Jupyter login, only the link's token (the
    ``X-Napari-Desktop-Watch`` header, or ``?token=``, which the server's request log
    scrubs). They reach the desktop's picture, nothing else."""

    request: Any

    def link(self) -> ViewLink:
        token = self.request.headers.get(WATCH_HEADER) or self.request.query_arguments.get(
            "token", [b""]
        )[-1].decode("utf-8", "replace")
        link = self.manager.access.check_link(token)
        if link is None:
            raise web.HTTPError(
                403, "This view-only link has expired or was revoked; ask for a new one."
            )
        return link


class WatchPageHandler(WatchMixin, web.RequestHandler):
    """The desktop page for a view-only link."""

    def set_default_headers(self) -> None:
        self.set_header("Cache-Control", "no-store")
        self.set_header("X-Frame-Options", "DENY")
        self.set_header("Referrer-Policy", "no-referrer")  # the token stays in this page

    def get(self) -> None:
        self.link()
        base = self.settings.get("base_url", "/")
        owner = self.manager.access.owner
        page_config = desktop_page_config(
            self.manager,
            base,
            apiUrl=url_path_join(base, NAMESPACE, "watch") + "/",
            websocketPath=url_path_join(base, NAMESPACE, "watch", "websockify"),
            uploadDir="",
            hidpi="light",
            role="viewer",
            watchToken=self.get_argument("token"),
        )
        page = TEMPLATES.get_template("desktop.html").render(
            page_title=f"{owner or 'napari'} — view only",
            static_base=url_path_join(base, NAMESPACE, "watch", "static"),
            asset_version=__version__,
            page_config=page_config,
            page_script=page_script(),
        )
        self.finish(page)

    def write_error(self, status_code: int, **kwargs: Any) -> None:
        exc = kwargs.get("exc_info", (None, None, None))[1]
        message = exc.log_message if isinstance(exc, web.HTTPError) else None
        self.set_header("Content-Type", "text/plain; charset=utf-8")
        self.finish(message or self._reason)


class WatchStatusHandler(WatchMixin, web.RequestHandler):
    """What a link's page asks before it connects: is the desktop there?"""

    def get(self) -> None:
        self.set_header("Cache-Control", "no-store")
        self.link()
        if not self.manager.running():
            owner = self.manager.access.owner or "the owner"
            self.set_status(409)
            self.finish(
                {
                    "error": {
                        "message": f"{owner}'s desktop is not running",
                        "fix": f"ask {owner} to open it; this page tries again by itself",
                    }
                }
            )
            return
        self.finish(
            {
                "running": True,
                "generation": self.manager.generation,
                "napari": {"available": True, "running": True, "layers": []},
            }
        )

    def write_error(self, status_code: int, **kwargs: Any) -> None:
        exc = kwargs.get("exc_info", (None, None, None))[1]
        message = exc.log_message if isinstance(exc, web.HTTPError) else self._reason
        self.finish({"error": {"message": message, "fix": "ask for a new link"}})


class WatchStaticHandler(web.StaticFileHandler):
    """The page's styles and icon for a link's page (public files of the package)."""


class WatchSocketHandler(WatchMixin, WebSocketHandler):
    """The picture for a view-only link: the VNC socket, every input dropped (rfb_input)."""

    transport: Optional[asyncio.Transport] = None
    _link: Optional[ViewLink] = None

    @property
    def log(self) -> Any:
        return app_log

    async def get(self, *args: Any, **kwargs: Any) -> None:
        self._link = self.link()
        if not self.manager.running():
            raise web.HTTPError(409, "the desktop is not running")
        await super().get(*args, **kwargs)

    async def open(self, *args: Any, **kwargs: Any) -> None:
        link = self._link
        assert link is not None
        self.set_nodelay(True)
        self.rfb_input = RfbInput(control=False)
        paths = self.manager.paths
        if paths is None:
            self.close(1011, "the desktop is not running")
            return
        link.closers[id(self)] = lambda: self.close(1000, "the view-only link was revoked")
        # The link's end is this connection's end too.
        delay = max(0.0, link.expires - time.time())
        self._expiry = asyncio.get_running_loop().call_later(
            delay, lambda: self.close(1000, "the view-only link expired")
        )
        config = self.manager.config
        if self.get_query_argument("video", "") == "h264" and video_offered(config):
            await join_room(self, self.manager, str(paths.vnc_socket))
            self.log.info("%s view-only link %s: a viewer joined the video room", PREFIX, link.id)
            return
        sock = await connect_unix(str(paths.vnc_socket))
        bucket = TokenBucket.for_mbit(config.max_mbit_per_s)
        self.transport, _ = await asyncio.get_running_loop().create_unix_connection(
            lambda: PacedSocketProtocol(self, bucket), sock=sock
        )
        self.log.info("%s view-only link %s: a viewer connected", PREFIX, link.id)

    room: Optional[Any] = None  # video_room.Room: the links' viewers on the video path
    viewer: Optional[Any] = None

    def on_message(self, message: Any) -> None:
        if self.room is not None:
            self.room.from_viewer(self.viewer, message_bytes(message))
            return
        who = f"view-only link {self._link.id}" if self._link else "a view-only link"
        data = client_bytes(self, self.rfb_input, message, who)
        if data and self.transport is not None:
            self.transport.write(data)

    def on_close(self) -> None:
        if self._link is not None:
            self._link.closers.pop(id(self), None)
        expiry = getattr(self, "_expiry", None)
        if expiry is not None:
            expiry.cancel()
        if self.room is not None:
            self.room.leave(self)
        if self.transport is not None:
            self.transport.close()


def handlers() -> list[tuple[str, type, dict[str, Any]]]:
    """URL patterns (relative to the base URL) and their handlers."""
    static_kwargs = {"path": str(STATIC_DIR)}
    return [
        (rf"/{NAMESPACE}/?", DesktopPageHandler, {}),
        (rf"/{NAMESPACE}/static/(.*)", AuthenticatedFileHandler, static_kwargs),
        (rf"/{NAMESPACE}/websockify/?", DesktopSocketHandler, {}),
        (rf"/{NAMESPACE}/api/info", InfoHandler, {}),
        (rf"/{NAMESPACE}/api/status", StatusHandler, {}),
        (rf"/{NAMESPACE}/api/start", StartHandler, {}),
        (rf"/{NAMESPACE}/api/stop", StopHandler, {}),
        (rf"/{NAMESPACE}/api/open", OpenHandler, {}),
        (rf"/{NAMESPACE}/api/restart", RestartHandler, {}),
        (rf"/{NAMESPACE}/api/screen", ScreenHandler, {}),
        (rf"/{NAMESPACE}/api/access", AccessHandler, {}),
        (rf"/{NAMESPACE}/api/links", LinksHandler, {}),
        (rf"/{NAMESPACE}/api/links/([0-9a-f]+)", LinkHandler, {}),
        (rf"/{NAMESPACE}/watch/?", WatchPageHandler, {}),
        (rf"/{NAMESPACE}/watch/status", WatchStatusHandler, {}),
        (rf"/{NAMESPACE}/watch/websockify/?", WatchSocketHandler, {}),
        (
            rf"/{NAMESPACE}/watch/static/(napari\.svg|build/desktop\.css)",
            WatchStaticHandler,
            static_kwargs,
        ),
        (rf"/{NAMESPACE}/api/layers", LayersHandler, {}),
        (rf"/{NAMESPACE}/api/layers/(.+)", LayerHandler, {}),
        (rf"/{NAMESPACE}/api/transfers", TransfersHandler, {}),
        (rf"/{NAMESPACE}/api/transfers/(.+)", TransferHandler, {}),
        (rf"/{NAMESPACE}/api/screenshot", ScreenshotHandler, {}),
        (rf"/{NAMESPACE}/api/viewer", ViewerHandler, {}),
        (rf"/{NAMESPACE}/api/session", SessionHandler, {}),
    ]
