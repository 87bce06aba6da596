"""Command line: ``jupyter napari-desktop doctor``, and the running server's desktop from a
terminal: ``status``, ``open FILE...``, ``session [--empty | --open=NAME]``."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any, Optional

from jupyter_core.application import JupyterApp
from traitlets import Bool, Int, Unicode

from ._version import __version__
from .config import NapariDesktop
from .doctor import Check, run_checks
from .kernel.notebook import NapariDesktopError, api_path, call


class DoctorApp(JupyterApp):
    name = "jupyter-napari-desktop-doctor"
    description = """Check what the napari desktop needs: Xvnc, the session's programs, dbus,
    OpenGL (renderer and version), Qt's xcb libraries, napari in the configured
    environment, and the video path's H.264 encoder (NVENC or x264, and why). Prints the
    fix for each failure; exits with 1 if something the desktop needs is missing.
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


def running_servers() -> list[dict[str, Any]]:
    """The runtime files of this user's running Jupyter servers (``jupyter server list``)."""
    from jupyter_server.serverapp import list_running_servers

    return list(list_running_servers())


def pick_server(servers: list[dict[str, Any]], port: int, cwd: Path) -> tuple[dict[str, Any], str]:
    """The server on ``port`` (0: the one whose root holds ``cwd``, the deepest such root,
    or the only one), and a note for the terminal when others serve that root too (which
    one was taken, and the --port of each other); NapariDesktopError that says what to do
    otherwise."""
    if not servers:
        raise NapariDesktopError(
            "no Jupyter server is running for this user: start one (bash scripts/run-lab.sh)"
        )
    if port:
        chosen = [s for s in servers if s.get("port") == port]
        if not chosen:
            ports = ", ".join(str(s.get("port")) for s in servers)
            raise NapariDesktopError(f"no Jupyter server on port {port}; running on: {ports}")
        return chosen[0], ""
    holding: dict[Path, list[dict[str, Any]]] = {}
    for server in servers:
        root = Path(server.get("root_dir") or server.get("notebook_dir") or "/").resolve()
        if cwd == root or root in cwd.parents:
            holding.setdefault(root, []).append(server)
    if holding:
        root = max(holding, key=lambda path: len(path.parts))
        # Servers of one root: the lowest port, the same one every time.
        first, *others = sorted(holding[root], key=lambda s: int(s.get("port") or 0))
        if not others:
            return first, ""
        choices = " or ".join(f"--port={s.get('port')}" for s in others)
        return first, (
            f"{len(others) + 1} Jupyter servers serve {root}: using {first.get('url')} "
            f"(port {first.get('port')}, the lowest); for another, add {choices}"
        )
    if len(servers) == 1:
        return servers[0], ""
    urls = ", ".join(str(s.get("url")) for s in servers)
    raise NapariDesktopError(f"several Jupyter servers run ({urls}): choose one with --port")


class ServerCommand(JupyterApp):
    """A subcommand that talks to a running Jupyter server's napari desktop API."""

    version = __version__
    port = Int(
        0,
        help="Port of the Jupyter server (default: the one whose root directory holds the "
        "current directory, or the only one running; of several serving that directory, "
        "the one on the lowest port, said on stderr with the --port of the others).",
    ).tag(config=True)
    as_json = Bool(False, help="Print the server's JSON answer.").tag(config=True)
    timeout = Int(180, help="Seconds to wait for the server's answer.").tag(config=True)
    aliases = {"port": "ServerCommand.port", "timeout": "ServerCommand.timeout"}
    flags = {"json": ({"ServerCommand": {"as_json": True}}, "Print the server's JSON answer.")}

    def server(self) -> dict[str, Any]:
        """The server to talk to; which one, on stderr, when several serve this directory."""
        server, note = pick_server(running_servers(), self.port, Path.cwd().resolve())
        if note:
            print(f"jupyter-napari-desktop: {printable(note)}", file=sys.stderr)
        return server

    def request(
        self, server: dict[str, Any], endpoint: str, body: Optional[dict[str, Any]] = None
    ) -> Any:
        return call(server, endpoint, body, self.timeout, "GET" if body is None else "POST")

    def answer(self, server: dict[str, Any]) -> tuple[Any, list[str]]:
        """The JSON answer and its lines for a person."""
        raise NotImplementedError

    def start(self) -> None:
        if self.timeout < 1:
            print(
                f"jupyter-napari-desktop: --timeout must be 1 or more seconds, not {self.timeout}",
                file=sys.stderr,
            )
            self.exit(2)
        try:
            server = self.server()
            found, lines = self.answer(server)
        except NapariDesktopError as err:
            print(f"jupyter-napari-desktop: {printable(str(err))}", file=sys.stderr)
            self.exit(1)
        print(json.dumps(found, indent=1) if self.as_json else "\n".join(map(printable, lines)))


def printable(text: str) -> str:
    """``text`` for a terminal: control characters (a newline or an escape sequence in a
    layer's name, from a file's name) written as Python escapes, never acted on."""
    if text.isprintable():
        return text
    return "".join(c if c.isprintable() else repr(c)[1:-1] for c in text)


class StatusApp(ServerCommand):
    name = "jupyter-napari-desktop-status"
    description = """Show the desktop of a running Jupyter server: running or not, its display,
    napari and its layers, and the video path's streams with the CPU their encoding takes.
    Exits with 1 when no server can be reached."""

    def answer(self, server: dict[str, Any]) -> tuple[Any, list[str]]:
        status = self.request(server, "status")
        lines = [f"server: {server.get('url')}"]
        if not status.get("running"):
            reason = status.get("reason") or "not started yet (click napari in JupyterLab)"
            return status, [*lines, f"desktop: not running: {reason}"]
        lines.append(f"desktop: running on display {status.get('display')}")
        napari = status.get("napari") or {}
        if napari.get("running"):
            layers = napari.get("layers") or []
            names = ", ".join(layer["name"] for layer in layers) or "none"
            lines.append(f"napari {napari.get('version')}: {len(layers)} layer(s): {names}")
        else:
            lines.append(
                f"napari: not running{': ' + napari['message'] if napari.get('message') else ''}"
            )
        lines += video_lines(status.get("video") or {})
        return status, lines


def video_lines(video: dict[str, Any]) -> list[str]:
    """The status's video path for a person: one line a stream (none: no line)."""
    streams = video.get("streams") or []
    if not streams:
        return []
    lines = [f"video path (H.264): {len(streams)} stream(s), {video.get('cpu_cores', 0):.2f} core"]
    for stream in streams:
        who = f"room of {stream.get('viewers')} viewer(s)" if stream.get("room") else "a tab"
        lines.append(
            f"  {who}: {stream.get('encoder') or 'no picture yet'}, "
            f"{stream.get('cpu_cores', 0):.2f} core, {stream.get('pictures_per_s', 0)} pictures/s"
        )
    return lines


class OpenApp(ServerCommand):
    name = "jupyter-napari-desktop-open"
    description = """Open files as layers in the desktop's napari, as the file browser's "Open in
    napari" does (the desktop and napari start when needed):
    jupyter-napari-desktop open FILE [FILE ...]. Paths are relative to the current
    directory and must be inside the server's root directory."""

    def answer(self, server: dict[str, Any]) -> tuple[Any, list[str]]:
        if not self.extra_args:
            raise NapariDesktopError("name the files to open: jupyter-napari-desktop open FILE...")
        root = Path(server.get("root_dir") or server.get("notebook_dir") or os.getcwd())
        paths = [api_path(path, root) for path in self.extra_args]
        opened = self.request(server, "open", {"paths": paths})
        names = opened.get("opened", [])
        return opened, [f"opened in napari: {', '.join(names) or 'no new layer'}"]


class SessionApp(ServerCommand):
    name = "jupyter-napari-desktop-session"
    description = """List napari's kept sessions (docs/sessions.md), newest first; with --empty,
    remove napari's layers and begin a new session; with --open=latest (or a kept session's
    name, or a session folder's path), show that session in napari instead. The layers
    napari showed stay on disk either way."""
    empty = Bool(False, help="Begin a new, empty session.").tag(config=True)
    open_session = Unicode(
        "", help="Show this session in napari: latest, a kept session's name or a folder's path."
    ).tag(config=True)
    aliases = {**ServerCommand.aliases, "open": "SessionApp.open_session"}
    flags = {
        **ServerCommand.flags,
        "empty": ({"SessionApp": {"empty": True}}, "Begin a new, empty session."),
    }

    def answer(self, server: dict[str, Any]) -> tuple[Any, list[str]]:
        if self.empty and self.open_session:
            raise NapariDesktopError("give --empty or --open, not both")
        if self.empty:
            found = self.request(server, "session", {"action": "empty"})
            return found, ["napari starts a new, empty session; earlier ones stay on disk"]
        if self.open_session:
            which = self.open_session
            if "/" in which or which.startswith("~"):
                which = str(Path(which).expanduser().resolve())
            found = self.request(server, "session", {"action": "open", "session": which})
            shown = (found.get("napari") or {}).get("restored") or {}
            layers = ", ".join(shown.get("layers") or []) or "no layers"
            lines = [f"napari shows {shown.get('from')}: {layers}"]
            lines += [f"  not restored: {item}" for item in shown.get("skipped") or []]
            return found, lines
        found = self.request(server, "session")
        lines = [f"sessions in {found.get('dir')} (newest first):"]
        for kept in found.get("sessions") or []:
            layers = ", ".join(kept.get("layers") or []) or kept.get("error") or "no layers"
            lines.append(f"  {kept.get('path')}: {layers}")
        if len(lines) == 1:
            lines.append("  none yet")
        return found, lines


class NapariDesktopCLI(JupyterApp):
    name = "jupyter-napari-desktop"
    description = "Tools for the napari desktop of Jupyter (jupyter-napari-desktop)."
    version = __version__
    subcommands = {
        "doctor": (DoctorApp, DoctorApp.description.splitlines()[0]),
        "status": (StatusApp, StatusApp.description.splitlines()[0]),
        "open": (OpenApp, OpenApp.description.splitlines()[0]),
        "session": (SessionApp, SessionApp.description.splitlines()[0]),
    }

    def start(self) -> None:
        if self.subapp is None:
            print("usage: jupyter napari-desktop doctor|status|open|session [--help]")
            print("subcommands: " + ", ".join(self.subcommands))
            self.exit(2)
        super().start()


main = NapariDesktopCLI.launch_instance


if __name__ == "__main__":
    main()
