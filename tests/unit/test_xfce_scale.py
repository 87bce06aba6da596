"""Which of XFCE's sizes the desktop changes with the page's scale (supervisor/xfce_scale.py):
the package's own (xfwm4's Default themes, the default panel's sizes, what it set last),
never a user's choice."""

from __future__ import annotations

import xml.etree.ElementTree as ET

import pytest

from jupyter_napari_desktop.supervisor import xfce_scale
from jupyter_napari_desktop.supervisor.xfce_scale import SETTINGS, theme_at, wanted
from tests.unit.test_panel_config import PANEL

pytestmark = pytest.mark.unit

THEME, SIZE, ICONS, DESKTOP = SETTINGS


def test_the_sizes_at_scale_1_are_the_default_panels():
    panel = ET.parse(PANEL).getroot().find("property[@name='panels']/property[@name='panel-1']")
    assert panel is not None
    values = {prop.get("name"): prop.get("value") for prop in panel.findall("property")}
    assert SIZE.at(1) == SIZE.default == values["size"]
    assert ICONS.at(1) == ICONS.default == values["icon-size"]


@pytest.mark.parametrize(
    ("scale", "size", "icons"),
    [(1, "26", "16"), (1.5, "39", "24"), (2, "52", "32"), (3, "78", "48")],
)
def test_the_panel_grows_with_the_scale(scale, size, icons):
    assert (SIZE.at(scale), ICONS.at(scale)) == (size, icons)


def test_xfwm4s_theme_for_each_scale(monkeypatch):
    monkeypatch.setattr(xfce_scale, "theme_installed", lambda name: True)
    assert [theme_at(s) for s in (1, 1.25, 1.5, 1.75, 2, 2.5, 4)] == [
        "Default",
        "Default",
        "Default-hdpi",
        "Default-hdpi",
        "Default-xhdpi",
        "Default-xhdpi",
        "Default-xhdpi",
    ]
    # A system without the large themes keeps the largest it has.
    monkeypatch.setattr(xfce_scale, "theme_installed", lambda name: name != "Default-xhdpi")
    assert theme_at(2) == "Default-hdpi"
    monkeypatch.setattr(xfce_scale, "theme_installed", lambda name: False)
    assert theme_at(2) == "Default"


def test_the_default_panel_is_scaled_and_scaled_back():
    assert wanted(SIZE, 2, current="26", last=None) == "52"
    assert wanted(SIZE, 1, current="52", last="52") == "26"
    assert wanted(SIZE, 1.5, current="52", last="52") == "39"
    assert wanted(SIZE, 2, current="52", last="52") is None  # already right


def test_a_size_the_user_chose_stays():
    assert wanted(SIZE, 2, current="30", last=None) is None  # their own panel
    assert wanted(SIZE, 1, current="40", last="52") is None  # changed after the package's 52
    assert wanted(SIZE, 2, current="26", last="52") is None  # set back to 26 by hand


def test_a_property_not_there_is_left_alone():
    assert wanted(SIZE, 2, current=None, last=None) is None


def test_the_desktops_icons_grow_from_xfdesktops_default():
    assert DESKTOP.unset_is_default and DESKTOP.default == "48"  # xfdesktop's own default
    assert wanted(DESKTOP, 2, current="48", last=None) == "96"
    assert wanted(DESKTOP, 1, current="96", last="96") == "48"
    assert wanted(DESKTOP, 2, current="64", last=None) is None  # the user's 64


def test_the_default_themes_are_the_packages_whoever_set_them(monkeypatch):
    monkeypatch.setattr(xfce_scale, "theme_installed", lambda name: True)
    assert wanted(THEME, 2, current="Default", last=None) == "Default-xhdpi"
    assert wanted(THEME, 1, current="Default-xhdpi", last="Default-xhdpi") == "Default"
    assert wanted(THEME, 2, current="Default-hdpi", last="Default") == "Default-xhdpi"
    assert wanted(THEME, 2, current="Greybird", last=None) is None
    assert wanted(THEME, 2, current="Greybird", last="Default") is None


class MemoryXfconf(xfce_scale.XfconfQuery):
    """xfconf in a dict; the reads it was asked for, in order."""

    def __init__(self, values: dict[tuple[str, str], str]) -> None:
        super().__init__({})
        self.values, self.reads = dict(values), []

    def get(self, channel: str, prop: str):
        self.reads.append((channel, prop))
        return self.values.get((channel, prop))

    def set(self, channel: str, prop: str, kind: str, value: str) -> None:
        self.values[(channel, prop)] = value


def test_apply_writes_the_scale_and_reads_the_record_only_where_it_writes(monkeypatch):
    monkeypatch.setattr(xfce_scale, "theme_installed", lambda name: True)
    xfconf = MemoryXfconf(
        {
            ("xfce4-panel", "/panels"): "1",
            (THEME.channel, THEME.prop): "Default",
            (SIZE.channel, SIZE.prop): "26",
            (ICONS.channel, ICONS.prop): "16",
        }
    )
    changed, missing = xfce_scale.apply(xfconf, 2)
    assert missing == 0 and len(changed) == 4, changed
    assert xfconf.values[(SIZE.channel, SIZE.prop)] == "52"
    assert xfconf.values[(xfce_scale.OWN_CHANNEL, SIZE.record)] == "52"

    xfconf.reads.clear()
    assert xfce_scale.apply(xfconf, 2) == ([], 0)  # all at scale 2 already
    assert all(channel != xfce_scale.OWN_CHANNEL for channel, _ in xfconf.reads), xfconf.reads
