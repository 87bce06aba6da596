"""The Jupyter server extension: config, handlers, prestart and shutdown."""

from __future__ import annotations

import atexit
import os
import sys
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from jupyter_server.extension.application import ExtensionApp
from tornado.ioloop import PeriodicCallback
from traitlets import TraitError

from ..config import NapariDesktop
from ..launch import SERVER_PID_ENV
from .exchange import Exchange
from .handlers import handlers
from .manager import PREFIX, DesktopManager

ACTIVITY_INTERVAL = 15  # seconds between reports of desktop input to the server
ACTIVITY_KEY = "napari_desktop"  # our entry in the server's last_activity_times


class NapariDesktopApp(ExtensionApp):
    """Serves the napari desktop under {base_url}napari-desktop/."""

    name = "jupyter_napari_desktop"
    load_other_extensions = True
    classes = [NapariDesktop]

    def initialize_settings(self) -> None:
        try:
            config = NapariDesktop(parent=self)
        except TraitError as err:
            # A bad value must stop the server with the option, value and accepted forms.
            self.log.critical("%s bad configuration: %s", PREFIX, err)
            sys.exit(f"{PREFIX} bad configuration: {err}")
        self.manager = DesktopManager(config, self.log)
        if self.serverapp is not None and self.serverapp.root_dir:
            self.manager.root_dir = Path(self.serverapp.root_dir)
        self._give_kernels_the_desktop()
        self.settings["napari_desktop_manager"] = self.manager
        self.settings["napari_desktop_exchange"] = Exchange(self.manager)
        atexit.register(self.manager.stop_now)
        if config.prestart and self.serverapp is not None:
            self.serverapp.io_loop.add_callback(self._prestart)
        self.activity = PeriodicCallback(self.report_input, ACTIVITY_INTERVAL * 1000)
        self.activity.start()

    def report_input(self) -> None:
        """Report desktop input (not screen updates) as the server's activity.

        JupyterHub's idle culler reads the server's last activity; jupyter-server-proxy would
        count every frame sent to an open tab, so a desktop with a clock would never idle.
        The time goes into ``last_activity_times``, the server's place for extensions'
        activity (``ServerApp.last_activity()`` takes the newest of it), and only forward.
        """
        last = self.manager.last_input()
        if last is None or self.serverapp is None:
            return
        when = datetime.fromtimestamp(last, timezone.utc)
        times = self.serverapp.web_app.settings.setdefault("last_activity_times", {})
        current = times.get(ACTIVITY_KEY)
        if current is None or when > current:
            times[ACTIVITY_KEY] = when

    def _give_kernels_the_desktop(self) -> None:
        """Kernels get the desktop's DISPLAY/XAUTHORITY (when it runs) and this server's pid
        (for open_in_napari). Only kernels: other extensions' processes are left alone."""
        sessions = getattr(self.serverapp, "session_manager", None)
        original = getattr(sessions, "get_kernel_env", None)
        if sessions is None or original is None:
            self.log.warning("%s kernels will not see the desktop: no session manager", PREFIX)
            return
        manager = self.manager

        def get_kernel_env(*args: Any, **kwargs: Any) -> dict[str, str]:
            env = dict(original(*args, **kwargs))
            env[SERVER_PID_ENV] = str(os.getpid())
            env.update(manager.kernel_env())
            return env

        sessions.get_kernel_env = get_kernel_env

    async def _prestart(self) -> None:
        try:
            await self.manager.start()
        except Exception as err:  # noqa: BLE001 - prestart failures are logged, not fatal
            self.log.warning("%s prestart failed: %s", PREFIX, err)

    def initialize_handlers(self) -> None:
        self.handlers.extend(handlers())

    async def stop_extension(self) -> None:
        self.log.info("%s stopping the desktop", PREFIX)
        self.activity.stop()
        await self.manager.shutdown()
