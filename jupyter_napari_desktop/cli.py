"""Command line: ``jupyter napari-desktop doctor``."""

from __future__ import annotations

import sys

from jupyter_core.application import JupyterApp
from traitlets import Bool

from ._version import __version__
from .config import NapariDesktop
from .doctor import Check, run_checks


class DoctorApp(JupyterApp):
    name = "jupyter-napari-desktop-doctor"
    description = """Check what the napari desktop needs: Xvnc, the session's programs, dbus,
    OpenGL (renderer and version), Qt's xcb libraries and napari in the configured
    environment. Prints the fix for each failure; exits with 1 if something is missing.
    Reads c.NapariDesktop options from jupyter_server_config.py/.json, like the server."""
    version = __version__
    classes = [NapariDesktop]
    config_file_name = "jupyter_server_config"
    aliases = {"session": "NapariDesktop.session", "napari-python": "NapariDesktop.napari_python"}
    flags = {}
    color = Bool(True, help="Colour the OK/FAIL marks.").tag(config=True)

    def start(self) -> None:
        config = NapariDesktop(parent=self)
        use_colour = self.color and sys.stdout.isatty()

        def mark(check: Check) -> str:
            text = "OK  " if check.ok else "FAIL"
            if use_colour:
                text = ("\033[32m" if check.ok else "\033[31m") + text + "\033[0m"
            return text

        def show(check: Check) -> None:
            print(f"[{mark(check)}] {check.name}: {check.detail}")
            if not check.ok and check.fix:
                print(f"       fix: {check.fix}")
            sys.stdout.flush()

        print(f"jupyter-napari-desktop {__version__}: checking the desktop's requirements")
        checks = run_checks(config, show)
        failed = [c for c in checks if not c.ok and c.needed]
        if failed:
            print(f"{len(failed)} problem(s) found; apply the fixes above and run again.")
            self.exit(1)
        print("Everything the desktop needs is here.")


class NapariDesktopCLI(JupyterApp):
    name = "jupyter-napari-desktop"
    description = "Tools for the napari desktop of Jupyter (jupyter-napari-desktop)."
    version = __version__
    subcommands = {
        "doctor": (DoctorApp, DoctorApp.description.splitlines()[0]),
    }

    def start(self) -> None:
        if self.subapp is None:
            print("usage: jupyter napari-desktop doctor [--session=xfce|minimal] [--help]")
            print("subcommands: " + ", ".join(self.subcommands))
            self.exit(2)
        super().start()


main = NapariDesktopCLI.launch_instance


if __name__ == "__main__":
    main()
