"""The Jupyter server extension: config, handlers, prestart and shutdown."""

from __future__ import annotations

import atexit
import sys

from jupyter_server.extension.application import ExtensionApp
from traitlets import TraitError

from .config import NapariDesktop
from .handlers import handlers
from .manager import PREFIX, DesktopManager


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
        self.settings["napari_desktop_manager"] = self.manager
        atexit.register(self.manager.stop_now)
        if config.prestart and self.serverapp is not None:
            self.serverapp.io_loop.add_callback(self._prestart)

    async def _prestart(self) -> None:
        try:
            await self.manager.ensure_running()
        except Exception as err:  # noqa: BLE001 - prestart failures are logged, not fatal
            self.log.warning("%s prestart failed: %s", PREFIX, err)

    def initialize_handlers(self) -> None:
        self.handlers.extend(handlers())

    async def stop_extension(self) -> None:
        self.log.info("%s stopping the desktop", PREFIX)
        await self.manager.stop()
