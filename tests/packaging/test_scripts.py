"""The scripts the README and the docs show: `--help` prints each one's usage (and nothing of
its code), and scripts/setup.sh without options installs JupyterLab, which scripts/run-lab.sh
then starts (the README's command 1; run on bare Debian machines in tests/fresh)."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest
import tomllib

ROOT = Path(__file__).resolve().parents[2]
SCRIPTS = sorted(
    path
    for path in (ROOT / "scripts").glob("*.sh")
    if re.search(r"^\s*-h \| --help\)", path.read_text(), re.M)
)


def test_the_scripts_with_help_are_found():
    names = {path.name for path in SCRIPTS}
    assert {"setup.sh", "run-lab.sh", "build-images.sh", "make-debian-base.sh"} <= names


@pytest.mark.parametrize("script", SCRIPTS, ids=[path.name for path in SCRIPTS])
def test_help_prints_the_usage_only(script):
    done = subprocess.run(["bash", str(script), "--help"], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert "Usage:" in done.stdout or "Usage: " in done.stdout, done.stdout
    assert "set -euo" not in done.stdout and not done.stdout.startswith("#!"), done.stdout
    comment = re.match(r"#!.*\n((?:#.*\n)+)", script.read_text())
    assert comment, f"{script.name} has no comment at its top"
    last = comment.group(1).splitlines()[-1].lstrip("# ").strip()
    assert last in done.stdout, f"--help stops before the comment's last line {last!r}"


def test_setup_without_options_installs_jupyterlab():
    setup = (ROOT / "scripts" / "setup.sh").read_text()
    plain = re.search(r'else\n\s*\.venv/bin/python -m pip install --quiet -e "\.\[(.+?)\]"', setup)
    assert plain, "setup.sh's plain pip install line not found"
    extras = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"][
        "optional-dependencies"
    ]
    wanted = [req for extra in plain.group(1).split(",") for req in extras[extra]]
    assert any(re.match(r"jupyterlab\b", req) for req in wanted), wanted
    assert "exec .venv/bin/jupyter lab" in (ROOT / "scripts" / "run-lab.sh").read_text()
