"""Teaching, in Chromium: bob opens alice's desktop page and watches; his wheel and his
window's size change nothing in alice's napari until alice hands him control from her page,
and nothing again once she takes it back. Both pages say who is there.

alice owns the desktop (``c.NapariDesktop.owner``), bob comes in with his own identity
(tests/support/identities.py, as JupyterHub's sharing brings a visitor)."""

from __future__ import annotations

import json
import re
import urllib.request

import pytest

from tests.support.desktops import pattern_desktop
from tests.support.identities import TOKEN_OF
from tests.support.pages import (
    desktop_canvas,
    open_desktop,
    wait_for_pattern,
    wait_state,
    x_screen_size,
)
from tests.support.waiting import wait_for

PEOPLE = "#jp-NapariDesktop-people"


@pytest.fixture(scope="module")
def desktop(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("teaching")
    identities = {"identity_provider_class": "tests.support.identities.NamedTokens"}
    options, config = {"owner": "alice"}, {"ServerApp": identities}
    with pattern_desktop(tmp, options, config, start=False) as server:
        yield server


def api(desktop, who: str, method: str, path: str, body=None) -> tuple[int, dict]:
    request = urllib.request.Request(
        f"{desktop.url}napari-desktop/api/{path}",
        method=method,
        data=None if body is None else json.dumps(body).encode(),
        headers={"Authorization": f"token {TOKEN_OF[who]}"},
    )
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            return response.status, json.loads(response.read() or b"null")
    except urllib.error.HTTPError as err:
        return err.code, json.loads(err.read() or b"null")


def zoom(desktop) -> float:
    code, viewer = api(desktop, "alice", "GET", "viewer")
    assert code == 200, viewer
    return float(viewer["camera"]["zoom"])


def open_as(browser, desktop, who: str, viewport: dict):
    context = browser.new_context(viewport=viewport)
    page = open_desktop(context, desktop, TOKEN_OF[who])
    wait_for_pattern(page, 90)
    return context, page


def wheel_over_napari(page, clicks: int) -> None:
    box = desktop_canvas(page).bounding_box()
    page.mouse.move(box["x"] + box["width"] * 0.65, box["y"] + box["height"] * 0.5)
    for _ in range(clicks):
        page.mouse.wheel(0, 50)


def zoom_moves(desktop, before: float, timeout: float) -> bool:
    try:
        wait_for(lambda: zoom(desktop) != before, timeout, "napari's zoom to change", 0.25)
    except AssertionError:
        return False
    return True


def test_a_visitor_watches_until_handed_control(browser, desktop, artifacts):
    code, started = api(desktop, "alice", "POST", "start", {"app": "napari", "wait": True})
    assert code == 200, started
    alice_ctx, alice = open_as(browser, desktop, "alice", {"width": 1280, "height": 800})
    bob_ctx, bob = open_as(browser, desktop, "bob", {"width": 900, "height": 600})
    try:
        # Each page says who is there.
        bob.wait_for_function(
            's => document.querySelector(s).textContent.includes("alice\'s desktop: view only")',
            arg=PEOPLE,
            timeout=20_000,
        )
        assert bob.locator("#jp-NapariDesktop-upload").is_hidden()
        alice.wait_for_function(
            "s => document.querySelector(s).textContent.includes('bob (watching)')",
            arg=PEOPLE,
            timeout=20_000,
        )
        alice.screenshot(path=str(artifacts / "teaching-owner.png"))
        bob.screenshot(path=str(artifacts / "teaching-viewer.png"))
        # bob's wheel and his smaller window change nothing in alice's desktop.
        before = zoom(desktop)
        screen = x_screen_size(desktop)
        wheel_over_napari(bob, 4)
        assert not zoom_moves(desktop, before, 3), "a viewer's wheel zoomed alice's napari"
        bob.set_viewport_size({"width": 700, "height": 500})
        bob.keyboard.press("Control+Shift+P")
        assert not zoom_moves(desktop, before, 2)
        assert x_screen_size(desktop) == screen, "a viewer's window resized alice's screen"
        # alice hands bob control from her page: his wheel now zooms her napari.
        alice.click("text=Hand control to bob")
        bob.wait_for_function(
            "s => document.querySelector(s).textContent.includes('you have control')",
            arg=PEOPLE,
            timeout=20_000,
        )
        # With control his page also resizes alice's screen to his window: a wheel sent
        # while napari lays itself out again may land beside the canvas, so it is sent
        # again (up to five times) until napari zooms.
        moved = False
        for _ in range(5):
            wheel_over_napari(bob, 2)
            moved = zoom_moves(desktop, before, 3)
            if moved:
                break
        assert moved, "bob has control, his wheel should zoom"
        # alice takes it back: bob watches again.
        alice.click("text=Take back from bob")
        bob.wait_for_function(
            "s => document.querySelector(s).textContent.includes('view only')",
            arg=PEOPLE,
            timeout=20_000,
        )
        after = zoom(desktop)
        wheel_over_napari(bob, 4)
        assert not zoom_moves(desktop, after, 3), "control taken back, yet bob zoomed"
        # alice's own wheel still works.
        wheel_over_napari(alice, 1)
        assert zoom_moves(desktop, after, 15)
    finally:
        bob_ctx.close()
        alice_ctx.close()


def test_a_view_only_link_shows_the_desktop_until_revoked(browser, desktop, artifacts):
    code, started = api(desktop, "alice", "POST", "start", {"app": "napari", "wait": True})
    assert code == 200, started
    alice_ctx, alice = open_as(browser, desktop, "alice", {"width": 1280, "height": 800})
    guest_ctx = browser.new_context(viewport={"width": 1000, "height": 700})  # no login at all
    try:
        alice.click("#jp-NapariDesktop-shareView")
        notice = alice.locator(".jp-NapariDesktop-notice")
        notice.wait_for(state="visible", timeout=20_000)
        link = re.search(r"https?://\S+/napari-desktop/watch\?token=[\w-]+", notice.inner_text())
        assert link, notice.inner_text()
        guest = guest_ctx.new_page()
        guest.goto(link.group(0))
        wait_state(guest, "connected", 60)
        wait_for_pattern(guest, 60)
        assert "view only (a link)" in guest.inner_text(PEOPLE)
        guest.screenshot(path=str(artifacts / "teaching-link-viewer.png"))
        before = zoom(desktop)
        wheel_over_napari(guest, 4)
        assert not zoom_moves(desktop, before, 3), "a link's viewer zoomed alice's napari"
        # The guest's browser reaches nothing else of the server.
        answer = guest.request.get(f"{desktop.url}api/contents")
        assert answer.status == 403
        alice.wait_for_selector("text=/Revoke view link .* \\(1 watching\\)/", timeout=20_000)
        alice.click("text=/Revoke view link/")
        wait_state(guest, "error", 15)  # disconnected at once; the link no longer opens
        assert "expired or was revoked" in guest.inner_text("body")
        guest.reload()
        assert "expired or was revoked" in guest.content()
    finally:
        guest_ctx.close()
        alice_ctx.close()
