"""Thin authenticated handlers; every URL lives under ``{base_url}napari-desktop/``.

- ``napari-desktop/``            the desktop page (``?app=napari`` or ``?app=desktop``)
- ``napari-desktop/static/...``  its script and styles (noVNC bundled, no CDN)
- ``napari-desktop/websockify``  websocket to the VNC unix socket (jupyter-server-proxy)
- ``napari-desktop/api/...``     JSON: info, status, start, stop
"""

from __future__ import annotations

import html
import json
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

from jupyter_server.base.handlers import APIHandler, AuthenticatedFileHandler, JupyterHandler
from jupyter_server.utils import url_path_join
from jupyter_server_proxy.rawsocket import RawSocketHandler
from tornado import web

from ._version import __version__
from .launch import DesktopError
from .manager import PREFIX, DesktopManager, preflight

NAMESPACE = "napari-desktop"
STATIC_DIR = Path(__file__).resolve().parent / "static"
TEMPLATE_DIR = Path(__file__).resolve().parent / "templates"
TEMPLATE = TEMPLATE_DIR / "desktop.html"
ERROR_TEMPLATE = TEMPLATE_DIR / "error.html"
APPS = ("napari", "desktop")
COEXISTING_TOOLS = ("jupyter-remote-desktop-proxy",)


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


class DesktopMixin:
    """Access to the one DesktopManager of this server."""

    settings: dict[str, Any]

    @property
    def manager(self) -> DesktopManager:
        manager: DesktopManager = self.settings["napari_desktop_manager"]
        return manager


def render(template: Path, values: dict[str, str]) -> str:
    """Fill ``{{name}}`` slots; every value is HTML-escaped here."""
    text = template.read_text()
    for key, value in values.items():
        text = text.replace("{{" + key + "}}", html.escape(value))
    return text


class DesktopPageHandler(DesktopMixin, JupyterHandler):
    """The desktop page, or a readable error page if the desktop cannot start here."""

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
        if problems:
            self.set_status(503)
            items = "".join(
                f"<li><p class='message'>{html.escape(p.message)}</p>"
                f"<p class='fix'>Fix: {html.escape(p.fix)}</p></li>"
                for p in problems
            )
            page = render(ERROR_TEMPLATE, {"title": title, "static": static})
            self.finish(page.replace("<!--problems-->", items))
            return
        config = self.manager.config
        page_config = {
            "baseUrl": base,
            "apiUrl": url_path_join(base, NAMESPACE, "api") + "/",
            "websocketPath": url_path_join(base, NAMESPACE, "websockify"),
            "app": app,
            "xsrfToken": self.xsrf_token.decode("ascii"),
            "quality": config.quality,
            "compression": config.compression,
            "version": __version__,
        }
        # json.dumps of an object, with "<" escaped, is safe inside <script type=json>.
        config_json = json.dumps(page_config).replace("<", "\\u003c")
        page = render(TEMPLATE, {"title": title, "static": static, "version": __version__})
        self.finish(page.replace("<!--config-->", config_json))


class InfoHandler(DesktopMixin, APIHandler):
    _track_activity = False  # polled by pages: not a sign of a person

    @web.authenticated
    def get(self) -> None:
        self.finish({"version": __version__, "coexisting": installed_tools()})


class StatusHandler(DesktopMixin, APIHandler):
    _track_activity = False

    @web.authenticated
    def get(self) -> None:
        self.finish(self.manager.status())


class StartHandler(DesktopMixin, APIHandler):
    """Start the desktop (and napari for app=napari); answer with its status."""

    @web.authenticated
    async def post(self) -> None:
        body = self.json_body()
        app = body.get("app", "desktop")
        if app not in APPS:
            raise web.HTTPError(400, f"'app' must be one of {', '.join(APPS)}, not {app!r}")
        try:
            await self.manager.ensure_running()
        except DesktopError as err:
            self.log.warning("%s start refused: %s (%s)", PREFIX, err.message, err.fix)
            self.set_status(503)
            self.finish({"error": err.as_json()})
            return
        if app == "napari":
            self.manager.start_napari()
        self.finish(self.manager.status())

    def json_body(self) -> dict[str, Any]:
        if not self.request.body:
            return {}
        try:
            body = json.loads(self.request.body)
        except ValueError:
            raise web.HTTPError(
                400, 'the request body must be JSON, e.g. {"app": "napari"}'
            ) from None
        if not isinstance(body, dict):
            raise web.HTTPError(400, "the request body must be a JSON object")
        return body


class StopHandler(DesktopMixin, APIHandler):
    """Stop the desktop and everything in it (files in the home directory stay)."""

    @web.authenticated
    async def post(self) -> None:
        await self.manager.stop()
        self.finish(self.manager.status())


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
            await self.manager.ensure_running()
        except DesktopError as err:
            raise web.HTTPError(503, f"{err.message}; fix: {err.fix}") from None
        self.unix_socket = str(self.manager.vnc_socket)
        await super().get(*args, **kwargs)

    async def open(self, *args: Any, **kwargs: Any) -> None:
        await self.proxy_open("localhost", 0, "")

    async def http_get(self, *args: Any) -> None:  # pragma: no cover - refused in get()
        raise web.HTTPError(400)


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
    ]
