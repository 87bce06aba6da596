"""The HTML pages: Jinja templates with autoescaping, the page config as JSON in a script."""

from __future__ import annotations

import json
import shutil
import subprocess
from types import SimpleNamespace

import pytest

from jupyter_napari_desktop.server.handlers import TEMPLATES, read_page_script

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
        page_script="window.loaded = true;",
    )
    script = page.split('type="application/json">')[1].split("</script>")[0]
    assert json.loads(script) == config
    assert '<script type="module">window.loaded = true;</script>' in page
    assert 'href="/napari-desktop/static/build/desktop.css?v=1.2.3"' in page


BUNDLE = """const closing = "</script><img src=x onerror=alert(1)>";
const comment = `<!-- ${closing} </SCRIPT >`;
const pattern = /[<]\\/script/u;  // </script> in a comment
console.log(JSON.stringify([closing, comment, pattern.source]));
"""


def test_page_script_cannot_end_or_change_its_element(tmp_path):
    bundle = tmp_path / "desktop.js"
    bundle.write_text(BUNDLE)
    text = read_page_script(bundle, bundle.stat().st_mtime_ns)
    assert "</script" not in text.lower() and "<!--" not in text
    page = TEMPLATES.get_template("desktop.html").render(
        page_title="Desktop",
        static_base="/s",
        asset_version="1",
        page_config={},
        page_script=text,
    )
    # Only the page's own two script elements end: the config's and the bundle's.
    assert page.lower().count("</script") == 2
    assert page.index(text) < page.lower().rindex("</script>")


@pytest.mark.skipif(shutil.which("node") is None, reason="needs node (scripts/setup.sh --test)")
def test_page_script_escapes_keep_the_values_javascript_sees(tmp_path):
    bundle = tmp_path / "desktop.js"
    bundle.write_text(BUNDLE)
    escaped = tmp_path / "escaped.mjs"
    escaped.write_text(read_page_script(bundle, bundle.stat().st_mtime_ns))
    original = tmp_path / "original.mjs"
    original.write_text(BUNDLE)

    def run(path):
        done = subprocess.run(["node", str(path)], capture_output=True, text=True, timeout=30)
        assert done.returncode == 0, done.stderr
        return json.loads(done.stdout)

    assert run(escaped) == run(original)
    assert run(escaped)[0].startswith("</script>")
