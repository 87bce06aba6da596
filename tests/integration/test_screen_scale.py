"""PUT napari-desktop/api/screen: the page's scale reaches the desktop's X server as
XSETTINGS (read back here with python-xlib, as Qt and GTK read it), bad values get 400, and
the next desktop starts at the scale the page last asked for."""

from __future__ import annotations

import json
import os
import struct

import pytest
from tornado.httpclient import HTTPClientError

from tests.integration.conftest import needs_xvnc
from tests.support.waiting import wait_for

pytestmark = [pytest.mark.integration, needs_xvnc, pytest.mark.timeout(300)]


def read_xsettings(manager) -> dict[str, object]:
    """The settings a program on the desktop sees (the XSettings spec's property)."""
    from Xlib import X
    from Xlib import display as xdisplay

    os.environ["XAUTHORITY"] = str(manager.paths.xauthority)
    state = manager.read_state()
    dpy = xdisplay.Display(f":{state['display']}")
    try:
        selection = dpy.intern_atom("_XSETTINGS_S0")
        owner = dpy.get_selection_owner(selection)
        assert owner != X.NONE, "nobody owns _XSETTINGS_S0"
        prop = dpy.intern_atom("_XSETTINGS_SETTINGS")
        data = owner.get_full_property(prop, X.AnyPropertyType).value
    finally:
        dpy.close()
    raw = bytes(data) if not isinstance(data, bytes) else data
    assert raw[0] == 0, "little-endian expected"
    _, _serial, count = struct.unpack_from("<B3xII", raw)
    settings: dict[str, object] = {}
    at = 12
    for _ in range(count):
        kind, length = struct.unpack_from("<BxH", raw, at)
        at += 4
        name = raw[at : at + length].decode()
        at += length + (-length % 4) + 4  # name, padding, last-change serial
        if kind == 0:
            (settings[name],) = struct.unpack_from("<i", raw, at)
            at += 4
        else:
            (size,) = struct.unpack_from("<I", raw, at)
            settings[name] = raw[at + 4 : at + 4 + size].decode()
            at += 4 + size + (-size % 4)
    return settings


async def put_scale(jp_fetch, value) -> dict:
    answer = await jp_fetch("napari-desktop/api/screen", method="PUT", body=json.dumps(value))
    return json.loads(answer.body)


async def test_the_page_scale_reaches_the_x_server_and_the_next_desktop(jp_fetch, manager):
    await jp_fetch("napari-desktop/api/start", method="POST", body="{}")
    assert read_xsettings(manager)["Xft/DPI"] == 96 * 1024
    answer = await put_scale(jp_fetch, {"scale": 2})
    assert answer == {"scale": 2.0, "dpi": 192, "scaling": True, "message": None}
    wait_for(lambda: read_xsettings(manager)["Xft/DPI"] == 192 * 1024, 10, "Xft/DPI 192")
    assert read_xsettings(manager)["Gdk/WindowScalingFactor"] == 1
    await put_scale(jp_fetch, {"scale": 1.5})
    wait_for(lambda: read_xsettings(manager)["Xft/DPI"] == 144 * 1024, 10, "Xft/DPI 144")
    status = json.loads((await jp_fetch("napari-desktop/api/status")).body)
    assert status["screen"] == {"scale": 1.5, "dpi": 144, "scaling": True, "message": None}
    # A restarted desktop starts at the scale the page asked for last.
    await jp_fetch("napari-desktop/api/restart", method="POST", body="{}")
    assert read_xsettings(manager)["Xft/DPI"] == 144 * 1024


@pytest.mark.parametrize(
    "body", [{"scale": 0.5}, {"scale": 9}, {"scale": "2"}, {"scale": None}, {}, {"scale": True}]
)
async def test_bad_scales_get_400_and_change_nothing(jp_fetch, manager, body):
    with pytest.raises(HTTPClientError) as info:
        await put_scale(jp_fetch, body)
    assert info.value.code == 400
    message = json.loads(info.value.response.body)["error"]["message"]
    assert "scale" in message and '{"scale": 2}' in message
    assert manager.scale == 1.0


async def test_a_scale_before_the_desktop_starts_is_used_by_it(jp_fetch, manager):
    answer = await put_scale(jp_fetch, {"scale": 2})
    assert answer["scale"] == 2.0 and manager.proc is None
    await jp_fetch("napari-desktop/api/start", method="POST", body="{}")
    assert read_xsettings(manager)["Xft/DPI"] == 192 * 1024
