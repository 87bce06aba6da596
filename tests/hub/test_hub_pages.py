"""A hub user, in Chromium, as she meets the product: the hub's login form, then napari.

A real JupyterHub (LocalProcessSpawner, a real Unix user) of each major version pyproject
admits: 6 (the project's own venv) and 5 (a venv of its own, the user's server too). She
types her name and the password into the login form; the hub spawns her server, whose
default URL is the napari page (deploy/jupyterhub/jupyterhub_config.py), and napari draws
the test pattern. Then JupyterLab: the napari card, the desktop in a Lab tab through Open in
napari from the file browser, a file dropped on the page, the Binder-style redirect. Every
check is on pixels of the desktop's canvas or on what the page shows, never on RFB.

These are the requests JupyterHub's rules refuse when a page gets them wrong (since 4.1 a
cookie-authenticated request that a script makes without the XSRF token is anonymous): the
test also reads the hub's log for login redirects of the desktop's URLs.
"""

from __future__ import annotations

import os
import re
import secrets
import shutil
import time
import urllib.parse
from pathlib import Path

import pytest

from tests.support.hub import (
    HUB_MAJORS,
    HubProcess,
    UnixUser,
    http,
    hub_base,
    hub_marks,
    hub_venvs,
    sweep_stale_users,
)
from tests.support.pages import (
    click_card,
    context_menu_open,
    desktop_canvas,
    drop,
    lab_tab_frame,
    wait_for_colours,
    wait_for_pattern,
    wait_state,
    wait_uploads,
)
from tests.support.paths import ARTIFACTS
from tests.support.pattern import CHROMIUM, write_pattern, write_tiff
from tests.support.playwright import jp_asyncio_loop, jp_server_cleanup  # noqa: F401
from tests.support.waiting import wait_for

pytestmark = hub_marks(600, CHROMIUM)

MAGENTA, CYAN, ORANGE = (255, 0, 255), (0, 255, 255), (255, 128, 0)


@pytest.fixture(scope="module", params=sorted(HUB_MAJORS, reverse=True), ids=lambda m: f"hub{m}")
def hub(request):
    """A hub of one major version with one user (not spawned: the login form spawns her)."""
    sweep_stale_users()
    hub_python, user_python, version = hub_venvs(request.param)
    base, homes = hub_base("napari-hub-pages-")
    user = UnixUser.create(f"ndweb{request.param}{secrets.token_hex(2)}", homes)
    server = None
    problems: list[str] = []
    try:
        pattern = write_pattern(user.home / "pattern.png")
        os.chown(pattern, user.uid, user.gid)
        server = HubProcess(
            base / "hub",
            [user.name],
            user_python,
            napari_desktop={"session": "minimal", "napari_args": [str(pattern)]},
            hub_python=hub_python,
        )
        server.start()
        server.unix_users.append(user)
        server.version = version
        yield server
    finally:
        if server is not None:
            (ARTIFACTS / "hub").mkdir(parents=True, exist_ok=True)
            (ARTIFACTS / "hub" / f"jupyterhub-{request.param}.log").write_text(server.log(10**6))
            problems.extend(server.stop_and_check())
        problems.extend(user.remove())
        shutil.rmtree(base, ignore_errors=True)
        assert not problems, "cleanup: " + "; ".join(problems)


@pytest.fixture(scope="module")
def session(browser, hub):
    """A browser context logged in through the hub's form, and the page it landed on."""
    user = hub.unix_users[0]
    context = browser.new_context(viewport={"width": 1280, "height": 800})
    # What the pages say in their consoles, frames included: the first place to look when
    # a page stays blank.
    console = ARTIFACTS / "hub" / f"console-{request_id(hub)}.log"
    console.parent.mkdir(parents=True, exist_ok=True)
    with console.open("w") as out:

        def note(kind: str, text: str, where: str) -> None:
            out.write(f"{time.strftime('%H:%M:%S')} {kind} {where}: {text}\n")
            out.flush()

        context.on("console", lambda m: note(m.type, m.text, m.page.url if m.page else ""))
        context.on("weberror", lambda e: note("error", str(e.error), e.page.url if e.page else ""))
        page = context.new_page()
        started = time.monotonic()
        hub.log_in(page, user.name)
        yield {"context": context, "page": page, "user": user, "started": started}
        context.close()


def request_id(hub) -> str:
    return f"jh{hub.version}"


def shot(hub, name: str) -> Path:
    folder = ARTIFACTS / "hub"
    folder.mkdir(parents=True, exist_ok=True)
    return folder / f"jh{hub.version}-{name}.png"


def user_url(hub, user: UnixUser, path: str = "") -> str:
    return f"{hub.url}/user/{user.name}/{path}"


def login_redirects(hub, user: UnixUser) -> list[str]:
    """Lines of the hub's log (the user's server logs there) where a request the desktop page
    makes itself (its static files, its API, its websocket) was answered with a redirect to
    the hub's login. The page's own first visit is one, legitimately: that is the login."""
    prefix = f"/user/{user.name}/napari-desktop/"
    return [
        line
        for line in hub.log(10**7).splitlines()
        if re.search(rf"\b30[12] (GET|POST|PUT) {re.escape(prefix)}[^?\s]", line)
    ]


def layer_names(hub, user: UnixUser) -> list[str]:
    token = hub.tokens.get(user.name) or hub.user_token(user.name)
    hub.tokens[user.name] = token
    code, status = http("GET", user_url(hub, user, "napari-desktop/api/status"), token)
    assert code == 200, status
    return [layer["name"] for layer in (status.get("napari") or {}).get("layers", [])]


def test_the_login_form_leads_to_napari_drawing(hub, session):
    page, user = session["page"], session["user"]
    wait_state(page, "connected", 120)
    png = wait_for_pattern(page, 180)
    elapsed = time.monotonic() - session["started"]
    shot(hub, "login-napari-canvas").write_bytes(png)
    page.screenshot(path=str(shot(hub, "login-napari-page")))
    print(f"JupyterHub {hub.version}: login form -> napari drawn: {elapsed:.1f} s")
    # The stats' round trip is a GET the page makes itself: it must reach the server.
    page.locator("#jp-NapariDesktop-statsToggle").click()
    page.wait_for_function(
        "() => window.napariDesktop.stats().rttMs !== null", timeout=30_000, polling=250
    )
    assert login_redirects(hub, user) == []


def test_the_napari_card_in_jupyterlab(hub, session):
    context, user = session["context"], session["user"]
    page = context.new_page()
    page.goto(user_url(hub, user, "lab?reset"))
    page.wait_for_selector(".jp-LauncherCard", timeout=120_000)
    page.wait_for_selector(".jp-NapariDesktop-statusItem", timeout=60_000)
    page.screenshot(path=str(shot(hub, "lab-launcher")))
    tab = click_card(context, page, "napari in a browser desktop")
    assert urllib.parse.urlsplit(tab.url).path == f"/user/{user.name}/napari-desktop/"
    wait_state(tab, "connected", 90)
    shot(hub, "lab-card-canvas").write_bytes(wait_for_pattern(tab, 120))
    tab.close()
    page.close()
    assert login_redirects(hub, user) == []


def test_open_in_napari_shows_the_desktop_in_a_lab_tab(hub, session):
    context, user = session["context"], session["user"]
    name = "hub image ü.tif"
    tiff = write_tiff(user.home / name, MAGENTA, CYAN)
    os.chown(tiff, user.uid, user.gid)
    page = context.new_page()
    page.goto(user_url(hub, user, "lab?reset"))
    page.wait_for_selector(".jp-NapariDesktop-statusItem", timeout=120_000)
    # The user's setting, made as she would: Settings > napari desktop > "A JupyterLab tab".
    page.evaluate(
        """async url => {
            const xsrf = document.cookie.match(/(?:^|; )_xsrf=([^;]*)/)[1];
            const answer = await fetch(url, {
                method: 'PUT', credentials: 'same-origin',
                headers: {'X-XSRFToken': decodeURIComponent(xsrf),
                          'Content-Type': 'application/json'},
                body: JSON.stringify({raw: JSON.stringify({openIn: 'lab-tab'})})
            });
            if (answer.status !== 204) { throw new Error('settings: ' + answer.status); }
        }""",
        f"/user/{user.name}/lab/api/settings/jupyter-napari-desktop:settings",
    )
    page.reload()
    page.wait_for_selector(".jp-NapariDesktop-statusItem", timeout=120_000)
    popups: list[str] = []
    page.on("popup", lambda popup: popups.append(popup.url))
    context_menu_open(page, name)
    page.locator("#jp-NapariDesktop-panel").wait_for(timeout=60_000)
    wait_state(lab_tab_frame(page), "connected", 90)
    wait_for(lambda: "hub image ü" in layer_names(hub, user), 150, "the layer in napari")
    frame = page.frame_locator("#jp-NapariDesktop-panel iframe")
    png = wait_for_colours(desktop_canvas(frame), [MAGENTA, CYAN], 120, 0.05)
    shot(hub, "lab-tab-open-in-napari-canvas").write_bytes(png)
    page.screenshot(path=str(shot(hub, "lab-tab-open-in-napari")))
    assert popups == [], f"no browser tab should open in lab-tab mode: {popups}"
    page.close()
    assert login_redirects(hub, user) == []


def test_a_file_dropped_on_the_page_is_uploaded_and_drawn(hub, session, tmp_path):
    """The upload goes through Jupyter's contents API with the page's XSRF token."""
    context, user = session["context"], session["user"]
    tab = context.new_page()
    # Binder's and the hub's way in: a URL path given to the hub, not the server.
    tab.goto(f"{hub.url}/hub/user-redirect/napari-desktop/?app=napari")
    assert urllib.parse.urlsplit(tab.url).path == f"/user/{user.name}/napari-desktop/"
    wait_state(tab, "connected", 90)
    tiff = write_tiff(tmp_path / "dropped.tif", ORANGE, ORANGE)
    drop(tab, "dropped ü.tif", tiff.read_bytes())
    [result] = wait_uploads(tab, 1)
    assert result["status"] == "uploaded", result
    uploaded = user.home / result["path"]
    assert uploaded.read_bytes() == tiff.read_bytes()
    assert uploaded.stat().st_uid == user.uid
    png = wait_for_colours(desktop_canvas(tab), [ORANGE], 120, 0.05)
    shot(hub, "dropped-file-canvas").write_bytes(png)
    tab.close()
    assert login_redirects(hub, user) == []
