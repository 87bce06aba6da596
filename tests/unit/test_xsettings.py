"""The XSETTINGS the desktop publishes (supervisor/xsettings.py) and the scale checks."""

from __future__ import annotations

import math
import struct

import pytest

from jupyter_napari_desktop.launch import check_scale, dpi_of
from jupyter_napari_desktop.supervisor.xsettings import (
    config_dirs,
    encode,
    scale_settings,
    session_settings,
    xfconf_settings,
)

pytestmark = pytest.mark.unit

XFCONF = """<?xml version="1.0" encoding="UTF-8"?>
<channel name="xsettings" version="1.0">
  <property name="Net" type="empty">
    <property name="ThemeName" type="string" value="{theme}"/>
    <property name="CursorBlink" type="bool" value="true"/>
  </property>
  <property name="Xft" type="empty">
    <property name="DPI" type="int" value="120"/>
    <property name="Antialias" type="int" value="-1"/>
  </property>
</channel>
"""


@pytest.mark.parametrize(("value", "scale"), [(1, 1.0), (2, 2.0), (1.25, 1.25), (1.3333, 1.33)])
def test_scales_from_1_to_4(value, scale):
    assert check_scale(value) == scale


@pytest.mark.parametrize("value", [0.99, 4.01, -2, math.nan, math.inf, "2", None, True, [2]])
def test_other_scales_are_refused_with_the_range(value):
    with pytest.raises(ValueError, match="from 1 to 4"):
        check_scale(value)


def test_dpi_and_settings_follow_the_scale():
    assert [dpi_of(s) for s in (1, 1.5, 2)] == [96, 144, 192]
    assert scale_settings(2) == {
        "Xft/DPI": 192 * 1024,
        "Gdk/WindowScalingFactor": 1,
        "Gdk/UnscaledDPI": 192 * 1024,
    }


def decode(data: bytes) -> tuple[int, dict[str, tuple[object, int]]]:
    """The spec's layout read back independently: (serial, {name: (value, last change)})."""
    order, serial, count = struct.unpack_from("<B3xII", data)
    assert order == 0
    at, found = 12, {}
    for _ in range(count):
        kind, length = struct.unpack_from("<BxH", data, at)
        name = data[at + 4 : at + 4 + length].decode()
        at += 4 + length + (-length % 4)
        (changed,) = struct.unpack_from("<I", data, at)
        at += 4
        if kind == 0:
            (value,) = struct.unpack_from("<i", data, at)
            at += 4
        else:
            assert kind == 1
            (size,) = struct.unpack_from("<I", data, at)
            value = data[at + 4 : at + 4 + size].decode()
            at += 4 + size + (-size % 4)
        found[name] = (value, changed)
    assert at == len(data)
    return serial, found


def test_the_property_layout_matches_the_spec():
    data = encode(
        {"Xft/DPI": 196608, "Net/ThemeName": "Grüner Tee", "Xft/Hinting": -1}, 3, {"Xft/DPI": 3}
    )
    serial, found = decode(data)
    assert serial == 3
    assert found == {
        "Xft/DPI": (196608, 3),
        "Net/ThemeName": ("Grüner Tee", 0),
        "Xft/Hinting": (-1, 0),
    }


def test_xfce_settings_are_kept_and_the_users_win(tmp_path):
    system, user = tmp_path / "etc", tmp_path / "home"
    for folder, theme in ((system, "Xfce"), (user, "Adwaita-dark")):
        path = folder / "xfce4/xfconf/xfce-perchannel-xml/xsettings.xml"
        path.parent.mkdir(parents=True)
        path.write_text(XFCONF.format(theme=theme))
    settings = session_settings([user, system])
    assert settings == {"Net/ThemeName": "Adwaita-dark", "Net/CursorBlink": 1, "Xft/Antialias": -1}
    assert "Xft/DPI" not in settings  # ours, from the page's scale


def test_a_broken_xfconf_file_gives_nothing(tmp_path):
    broken = tmp_path / "xsettings.xml"
    broken.write_text("<channel><property name=")
    assert xfconf_settings(broken) == {}
    assert xfconf_settings(tmp_path / "missing.xml") == {}


def test_config_dirs_follow_xdg(tmp_path):
    env = {"XDG_CONFIG_HOME": "/c/home", "XDG_CONFIG_DIRS": "/c/a::/c/b"}
    assert [str(p) for p in config_dirs(env, tmp_path)] == ["/c/home", "/c/a", "/c/b"]
    assert [str(p) for p in config_dirs({}, tmp_path)] == [str(tmp_path / ".config"), "/etc/xdg"]
