"""Teaching under a real JupyterHub, in Chromium: alice shares her server with bob through
the hub's sharing API; a teacher has ``access:servers`` (an instructors role); carol has
neither. Each logs in through the hub's form and opens alice's napari page.

bob and the teacher see alice's napari, their pages say it is view only, alice's page shows
them, and their wheel over napari's canvas changes nothing in alice's napari (its camera,
read back through the API with alice's token); alice's own wheel still works. carol gets
403 from the hub. The single-user server learns who is visiting from the hub (its
identity provider), and its owner from $JUPYTERHUB_USER (server/access.py)."""

from __future__ import annotations

import os
import secrets
import shutil

import pytest

from tests.support.hub import (
    HubProcess,
    UnixUser,
    fill_login_form,
    hub_base,
    hub_marks,
    hub_venvs,
    sweep_stale_users,
)
from tests.support.pages import desktop_canvas, wait_for_pattern, wait_state
from tests.support.paths import ARTIFACTS
from tests.support.pattern import CHROMIUM, write_pattern
from tests.support.playwright import jp_asyncio_loop, jp_server_cleanup  # noqa: F401
from tests.support.waiting import wait_for

pytestmark = hub_marks(600, CHROMIUM)
PEOPLE = "#jp-NapariDesktop-people"


@pytest.fixture(scope="module")
def hub():
    """Hub 6 (sharing needs >= 5) with alice, bob, carol and a teacher; alice's server runs."""
    sweep_stale_users()
    hub_python, user_python, version = hub_venvs("6")
    base, homes = hub_base("napari-hub-teaching-")
    tag = secrets.token_hex(2)
    users = {
        role: UnixUser.create(f"nd{role[:5]}{tag}", homes)
        for role in ("alice", "bob", "carol", "teacher")
    }
    server = None
    problems: list[str] = []
    try:
        owner = users["alice"]
        pattern = write_pattern(owner.home / "pattern.png")
        os.chown(pattern, owner.uid, owner.gid)
        teacher = users["teacher"].name
        server = HubProcess(
            base / "hub",
            [u.name for u in users.values()],
            user_python,
            napari_desktop={"session": "minimal", "napari_args": [str(pattern)]},
            hub_python=hub_python,
            hub_config=f"""
# Users may share their servers (JupyterHub >= 5); instructors may open anyone's.
c.JupyterHub.load_roles.append(
    {{"name": "user", "scopes": ["self", "shares!user", "read:users:name"]}}
)
c.JupyterHub.load_roles.append(
    {{"name": "instructors", "scopes": ["access:servers", "read:users:name"],
      "users": [{teacher!r}]}}
)
""",
        )
        server.start()
        server.unix_users.extend(users.values())
        server.people = {role: u.name for role, u in users.items()}
        server.version = version
        yield server
    finally:
        if server is not None:
            (ARTIFACTS / "hub").mkdir(parents=True, exist_ok=True)
            (ARTIFACTS / "hub" / "jupyterhub-teaching.log").write_text(server.log(10**6))
            problems.extend(server.stop_and_check())
        for user in users.values():
            problems.extend(user.remove())
        shutil.rmtree(base, ignore_errors=True)
        assert not problems, "cleanup: " + "; ".join(problems)


def napari_url(hub, owner: str) -> str:
    return f"/user/{owner}/napari-desktop/?app=napari"


def log_in_to(browser, hub, user: str, next_path: str):
    """A browser of ``user``: the hub's login form, then ``next_path``."""
    context = browser.new_context(viewport={"width": 1200, "height": 760})
    page = context.new_page()
    fill_login_form(page, hub.url, user, hub.password, next_path)
    page.click("#login_submit")
    page.wait_for_load_state()
    confirm = page.locator("form [type=submit]")
    if "/hub/api/oauth2/authorize" in page.url and confirm.count():
        # Another user's server: the hub asks the visitor to confirm, as a person would.
        confirm.first.click()
    return context, page


def camera(hub, token: str) -> dict:
    alice = hub.people["alice"]
    status, viewer = hub.api("GET", f"/user/{alice}/napari-desktop/api/viewer", token=token)
    assert status == 200, viewer
    return viewer["camera"]


def wheel(page, clicks: int) -> None:
    box = desktop_canvas(page).bounding_box()
    page.mouse.move(box["x"] + box["width"] * 0.65, box["y"] + box["height"] * 0.5)
    for _ in range(clicks):
        page.mouse.wheel(0, 50)


def test_shared_and_instructor_visitors_watch_and_others_are_refused(browser, hub):
    alice, bob, carol, teacher = (hub.people[r] for r in ("alice", "bob", "carol", "teacher"))
    owner_ctx = browser.new_context(viewport={"width": 1280, "height": 800})
    contexts = [owner_ctx]
    try:
        owner_page = owner_ctx.new_page()
        hub.log_in(owner_page, alice)  # her server spawns; the napari page
        wait_state(owner_page, "connected", 120)
        wait_for_pattern(owner_page, 120)
        token = hub.user_token(alice)
        status, share = hub.api("POST", f"/hub/api/shares/{alice}/", {"user": bob}, token=token)
        assert status in (200, 201), (status, share)
        visitors = {}
        for user in (bob, teacher):
            context, page = log_in_to(browser, hub, user, napari_url(hub, alice))
            contexts.append(context)
            wait_state(page, "connected", 120)
            wait_for_pattern(page, 60)
            page.wait_for_function(
                "s => document.querySelector(s).textContent.includes('view only')",
                arg=PEOPLE,
                timeout=30_000,
            )
            assert f"{alice}'s desktop" in page.inner_text(PEOPLE)
            visitors[user] = page
        owner_page.wait_for_function(
            "([s, a, b]) => { const t = document.querySelector(s).textContent;"
            " return t.includes(a + ' (watching)') && t.includes(b + ' (watching)'); }",
            arg=[PEOPLE, bob, teacher],
            timeout=30_000,
        )
        owner_page.screenshot(path=str(ARTIFACTS / "hub" / "teaching-owner.png"))
        visitors[bob].screenshot(path=str(ARTIFACTS / "hub" / "teaching-shared-viewer.png"))
        # Watching never types into alice's napari.
        before = camera(hub, token)
        for page in visitors.values():
            wheel(page, 4)
            page.keyboard.press("Control+Shift+P")
        with pytest.raises(AssertionError):
            wait_for(lambda: camera(hub, token) != before, 3, "a viewer to change napari", 0.25)
        wheel(owner_page, 1)
        wait_for(lambda: camera(hub, token) != before, 20, "alice's wheel to zoom", 0.25)
        # carol has no share: the hub refuses her.
        context, page = log_in_to(browser, hub, carol, napari_url(hub, alice))
        contexts.append(context)
        page.wait_for_load_state()
        wait_for(
            lambda: "403" in page.content() or "Forbidden" in page.content(),
            60,
            "the hub to refuse carol",
            0.5,
        )
        assert page.locator("#jp-NapariDesktop-root canvas").count() == 0
    finally:
        for context in contexts:
            context.close()
