"""XFCE's panel and window-frame sizes follow the page's scale on a real session bus, with
xfconf's own daemon (xfconfd, started by the bus as in a desktop) and xfconf-query, as the
supervisor does it (supervisor/xfce_scale.py): the bus address read from the session
process, the panel waited for, a size the user chose left alone. The panel itself is played
by its settings (what xfce4-panel puts into xfconf when it first starts); the desktop in a
browser is tests/browser/test_hidpi.py."""

from __future__ import annotations

import os
import shutil
import subprocess

import pytest

from jupyter_napari_desktop.supervisor.xfce_scale import (
    OWN_CHANNEL,
    PANEL,
    SETTINGS,
    XfceScaler,
    XfconfQuery,
    theme_at,
)
from tests.support.procs import stop_tree
from tests.support.waiting import wait_for

pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(
        not (shutil.which("dbus-daemon") and shutil.which("xfconf-query")),
        reason="dbus-daemon and xfconf-query missing: run scripts/install-system-deps.sh",
    ),
]
THEME, SIZE, ICONS, DESKTOP = SETTINGS


@pytest.fixture
def session(tmp_path):
    """(the session's environment without the bus, its pid, xfconf-query on its bus): a
    private session bus and a process that has it in its environment, as xfce4-session
    has; xfconf's files under tmp_path."""
    env = {
        "PATH": os.environ["PATH"],
        "HOME": str(tmp_path),
        "XDG_CONFIG_HOME": str(tmp_path / "config"),
    }
    bus = subprocess.Popen(
        ["dbus-daemon", "--session", "--nofork", "--print-address=1"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    assert bus.stdout is not None
    address = bus.stdout.readline().strip()
    on_bus = {**env, "DBUS_SESSION_BUS_ADDRESS": address}
    holder = subprocess.Popen(["sleep", "600"], env=on_bus)
    try:
        yield env, holder.pid, XfconfQuery(on_bus)
    finally:
        holder.kill()
        holder.wait()
        stop_tree(bus.pid)  # the bus and the xfconfd it started


def panel_starts(query: XfconfQuery, size: str = "26", icons: str = "16") -> None:
    """What xfce4-panel puts into xfconf when it first starts with the default panel."""
    query.run("-c", "xfce4-panel", "-p", "/panels", "-n", "-a", "-t", "int", "-s", "1")
    query.set("xfce4-panel", f"{PANEL}/size", "uint", size)
    query.set("xfce4-panel", f"{PANEL}/icon-size", "uint", icons)


def values(query: XfconfQuery) -> tuple:
    """The theme, the panel's height and icon size, the desktop's icon size (None: unset)."""
    return tuple(query.get(s.channel, s.prop) for s in SETTINGS)


def test_the_panel_and_frames_follow_the_scale(session):
    env, pid, query = session
    notes: list[str] = []
    scaler = XfceScaler(pid, env, notes.append)
    try:
        scaler.want(2)  # before the panel is up: it waits for the panel's settings
        panel_starts(query)
        big = (theme_at(2), "52", "32", "96")
        wait_for(lambda: values(query) == big, 30, f"{big}, not {values(query)}", 0.2)
        assert any("xfce4-panel /panels/panel-1/size 26 -> 52" in note for note in notes), notes
        assert query.get(OWN_CHANNEL, SIZE.record) == "52"

        scaler.want(1)
        small = ("Default", "26", "16", "48")
        wait_for(lambda: values(query) == small, 30, f"{small}, not {values(query)}", 0.2)

        # The user makes the panel 40 pixels high: it stays at every scale, the rest follows.
        query.set("xfce4-panel", f"{PANEL}/size", "uint", "40")
        scaler.want(2)
        at_2 = (theme_at(2), "40", "32", "96")
        wait_for(lambda: values(query) == at_2, 30, f"{at_2}, not {values(query)}", 0.2)
        scaler.want(1.5)
        at_15 = (theme_at(1.5), "40", "24", "72")
        wait_for(lambda: values(query) == at_15, 30, f"{at_15}, not {values(query)}", 0.2)
    finally:
        scaler.close()


def test_the_next_desktop_sets_its_own_scale(session):
    """A desktop at ratio 1 after one at ratio 2: the settings xfconf kept are set back."""
    env, pid, query = session
    panel_starts(query, "52", "32")
    query.set("xfwm4", THEME.prop, "string", theme_at(2))
    query.set("xfce4-desktop", DESKTOP.prop, "uint", "96")
    for setting, value in zip(SETTINGS, (theme_at(2), "52", "32", "96")):
        query.set(OWN_CHANNEL, setting.record, setting.kind, value)
    scaler = XfceScaler(pid, env, lambda text: None)
    try:
        scaler.want(1)
        small = ("Default", "26", "16", "48")
        wait_for(lambda: values(query) == small, 30, f"{small}, not {values(query)}", 0.2)
    finally:
        scaler.close()


def test_a_users_own_panel_and_theme_stay(session):
    env, pid, query = session
    query.run("-c", "xfce4-panel", "-p", "/panels", "-n", "-a", "-t", "int", "-s", "7")
    query.set("xfce4-panel", "/panels/panel-7/size", "uint", "30")
    query.set("xfwm4", THEME.prop, "string", "Greybird")
    query.set("xfce4-desktop", DESKTOP.prop, "uint", "64")
    notes: list[str] = []
    scaler = XfceScaler(pid, env, notes.append)
    try:
        scaler.want(2)
        wait_for(lambda: scaler.applied == 2, 30, "the scaler to finish", 0.2)
    finally:
        scaler.close()
    assert values(query) == ("Greybird", None, None, "64")
    assert query.get("xfce4-panel", "/panels/panel-7/size") == "30"
    assert not notes, notes
