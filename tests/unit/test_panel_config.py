"""The XFCE panel the desktop starts with (session/xdg-config/xfce4/panel/default.xml):
every plugin a panel lists is defined. XFCE 4.20 (Debian 13) answers an undefined one with
a 'Plugin "(null)" could not be loaded' dialog over napari; 4.18 ignored it."""

from __future__ import annotations

import xml.etree.ElementTree as ET

from jupyter_napari_desktop.launch import SESSION_DIR

PANEL = SESSION_DIR / "xdg-config" / "xfce4" / "panel" / "default.xml"


def test_every_listed_plugin_is_defined():
    root = ET.parse(PANEL).getroot()
    panels = root.find("property[@name='panels']")
    plugins = root.find("property[@name='plugins']")
    assert panels is not None and plugins is not None
    defined = {prop.get("name") for prop in plugins.findall("property")}
    listed = {
        f"plugin-{value.get('value')}"
        for panel in panels.findall("property")
        for ids in panel.findall("property[@name='plugin-ids']")
        for value in ids.findall("value")
    }
    assert listed, "no panel lists a plugin"
    assert listed <= defined, f"listed but not defined: {sorted(listed - defined)}"
