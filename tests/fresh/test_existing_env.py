"""The README's lines for an existing Jupyter environment, on a fresh Debian machine that
has one: Python with a venv that holds only JupyterLab, its pip first on PATH, and a user
with sudo (Debian 12) or root with no sudo (Debian 13). The lines are read from README.md
and run as written; then `jupyter lab` (restarted, as the README says) has the server
extension and the labextension, and the napari card draws the test pattern in the host's
Chromium.

Then docs/video.md in the same environment, as a person turns the video path on: the server
names the command that adds PyAV (the one the README's table shows), the doc's install line
and its config lines run as written, and after a restart of `jupyter lab` the napari page
takes the video path (asks for H.264 and the server sends it)."""

from __future__ import annotations

import re
import shlex

import pytest

from tests.fresh.machines import REPO, URL, Machine, napari_card_draws, readme_lines

pytestmark = pytest.mark.timeout(40 * 60)
MARKER = "# Into an existing Jupyter environment"
# A user with sudo on Debian 12 (then docs/video.md's lines too); root with no sudo on
# Debian 13, as in a container's root shell.
CASES = [("bookworm", "sudo-user"), ("trixie", "root")]
ENV = "~/jupyter"
VIDEO_DOC = "docs/video.md"
WHY_NOT = "from jupyter_napari_desktop.server.video_codec import available; print(available())"


@pytest.mark.parametrize(("suite", "user"), CASES)
def test_readme_lines_into_an_existing_jupyter_environment(
    suite, user, container_engine, base, checkout, pattern_config, browser, fresh_dir, figures
):
    lines = readme_lines(MARKER)
    assert any("install-system-deps.sh" in line for line in lines), lines
    assert any(line.startswith("pip install") for line in lines), lines
    base(suite)
    label = f"{suite}-{user}-existing-env"
    machine = Machine(container_engine, suite, user, checkout, fresh_dir / f"{label}.log")
    activate = f". {ENV}/bin/activate"
    try:
        machine.start(pattern_config, packages=("python3-venv",))
        if user == "root":  # a container's root shell: no sudo to ask
            assert machine.exec("command -v sudo || true").strip() == ""
        machine.exec(f"python3 -m venv {ENV} && {ENV}/bin/pip install -q jupyterlab", timeout=600)
        before = machine.exec(f"{activate} && jupyter labextension list 2>&1; pip list")
        assert "napari" not in before, f"the environment must hold only JupyterLab: {before}"

        script = " && ".join([activate, *lines])
        # The environment's own Jupyter, started as its owner starts it (root: --allow-root).
        lab = "jupyter lab --no-browser" + (" --allow-root" if user == "root" else "")
        machine.run(f"{script} && echo README-LINES-DONE && exec {lab}")
        install_s = machine.wait_output("README-LINES-DONE", 30 * 60, "the README's lines")
        machine.wait_output(URL, 180, "the token URL of jupyter lab")
        port, token = machine.url()
        listed = machine.exec(
            f"{activate} && jupyter server extension list 2>&1 && jupyter labextension list 2>&1"
        )
        listed = re.sub(r"\x1b\[[0-9;]*m", "", listed)  # the lists' colours
        assert re.search(r"jupyter_napari_desktop\s+enabled", listed), listed
        assert re.search(r"jupyter-napari-desktop .*enabled.*OK", listed), listed

        drawn_s = napari_card_draws(browser, port, token, label, fresh_dir)
        figures[label] = {
            "commands": lines,
            "README's lines (s)": round(install_s),
            "click on napari -> pattern drawn (s)": round(drawn_s, 1),
        }
        print(f"{label}: {figures[label]}")
        if user != "root":  # once is enough: the video path is the same for both
            figures[f"{label}-video"] = turn_video_on(machine, activate, browser, fresh_dir, label)
    finally:
        machine.remove()


def turn_video_on(machine: Machine, activate: str, browser, fresh_dir, label: str) -> dict:
    """docs/video.md's lines in the machine's environment, jupyter lab restarted, the napari
    card clicked again; what ran and how long napari took to draw."""
    why_not = machine.exec(f"{activate} && python -c {shlex.quote(WHY_NOT)}").strip()
    fix = re.search(r"pip install \S+", why_not)
    assert fix and f"`{fix.group(0)}`" in (REPO / "README.md").read_text(), why_not
    doc = (REPO / VIDEO_DOC).read_text()
    lines = [fix.group(0), *readme_lines("# From this checkout", VIDEO_DOC)]
    config = re.search(r"in `(~/\.jupyter/jupyter_server_config\.py)`", doc).group(1)
    python = re.search(r"```python\n(.*?)```", doc, re.S).group(1)
    assert 'c.NapariDesktop.video = "auto"' in python, python
    script = " && ".join([activate, *lines])
    machine.exec(f"cd {machine.workdir} && {script}", timeout=20 * 60)
    assert machine.exec(f"{activate} && python -c {shlex.quote(WHY_NOT)}").strip() == "None"
    machine.exec(f"cat >> {config} <<'EOF'\n{python}EOF")

    # "and restart Jupyter": the running jupyter lab ends on SIGTERM, by its pid
    pids = machine.exec(f"pgrep -u {machine.login} -x jupyter-lab").split()
    assert len(pids) == 1, f"jupyter-lab processes: {pids}"
    machine.exec(f"kill -TERM {pids[0]}")
    assert machine.process is not None
    machine.process.wait(timeout=60)
    log = fresh_dir / f"{label}-video.log"
    machine.run(f"{activate} && exec jupyter lab --no-browser", log=log)
    machine.wait_output(URL, 180, "the token URL of jupyter lab, restarted")
    port, token = machine.url()
    drawn_s = napari_card_draws(browser, port, token, f"{label}-video", fresh_dir, video=True)
    assert "video path (H.264)" in machine.output(), machine.output()[-3000:]
    drawn = round(drawn_s, 1)
    return {"commands": lines, config: python, "click on napari -> pattern drawn (s)": drawn}
