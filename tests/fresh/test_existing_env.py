"""The README's lines for an existing Jupyter environment, on a fresh Debian 12 machine that
has one: Python with a venv that holds only JupyterLab, its pip first on PATH, a user with
sudo. The lines are read from README.md and run as written; then `jupyter lab` (restarted,
as the README says) has the server extension and the labextension, and the napari card
draws the test pattern in the host's Chromium."""

from __future__ import annotations

import re

import pytest

from tests.fresh.machines import URL, Machine, napari_card_draws, readme_lines

pytestmark = pytest.mark.timeout(40 * 60)
MARKER = "# Into an existing Jupyter environment"
SUITE = "bookworm"
ENV = "~/jupyter"


def test_readme_lines_into_an_existing_jupyter_environment(
    container_engine, base, checkout, pattern_config, browser, fresh_dir, figures
):
    lines = readme_lines(MARKER)
    assert any("install-system-deps.sh" in line for line in lines), lines
    assert any(line.startswith("pip install") for line in lines), lines
    base(SUITE)
    label = f"{SUITE}-existing-env"
    machine = Machine(container_engine, SUITE, "sudo-user", checkout, fresh_dir / f"{label}.log")
    activate = f". {ENV}/bin/activate"
    try:
        machine.start(pattern_config, packages=("python3-venv",))
        machine.exec(f"python3 -m venv {ENV} && {ENV}/bin/pip install -q jupyterlab", timeout=600)
        before = machine.exec(f"{activate} && jupyter labextension list 2>&1; pip list")
        assert "napari" not in before, f"the environment must hold only JupyterLab: {before}"

        script = " && ".join([activate, *lines])
        machine.run(f"{script} && echo README-LINES-DONE && exec jupyter lab --no-browser")
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
    finally:
        machine.remove()
