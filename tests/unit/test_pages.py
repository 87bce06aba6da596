"""The HTML pages: Jinja templates with autoescaping, the page config as JSON in a script."""

from __future__ import annotations

import json
from types import SimpleNamespace

from jupyter_napari_desktop.handlers import TEMPLATES

HOSTILE = "</script><img src=x onerror=alert(1)>"


def test_error_page_escapes_the_problems_it_lists():
    problem = SimpleNamespace(message=f"Xvnc {HOSTILE} not found", fix="install <tigervnc>")
    page = TEMPLATES.get_template("error.html").render(
        page_title="Desktop", static_base="/napari-desktop/static", problems=[problem]
    )
    assert "<img" not in page and "&lt;img src=x" in page
    assert "Fix: install &lt;tigervnc&gt;" in page
    assert "<title>Desktop cannot start</title>" in page


def test_desktop_page_carries_the_config_as_json_that_cannot_close_its_script():
    config = {"app": "napari", "baseUrl": f"/user/{HOSTILE}/", "quality": 6}
    page = TEMPLATES.get_template("desktop.html").render(
        page_title="napari — Desktop",
        static_base="/napari-desktop/static",
        asset_version="1.2.3",
        page_config=config,
    )
    script = page.split('type="application/json">')[1].split("</script>")[0]
    assert json.loads(script) == config
    assert 'src="/napari-desktop/static/build/desktop.js?v=1.2.3"' in page
