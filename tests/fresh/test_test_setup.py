"""The README's second command on a fresh machine, as far as it can run inside one: its
`bash scripts/setup.sh --test` exactly as written, on a bare Debian 12 as a user with sudo
(no Python, Node.js or browser before it); then what the test layers need is there (the
browsers, Firefox's H.264 decoder, WebKit's driver, the container tools, the venv's test
and lint tools, the JavaScript tools), and `bash scripts/test.sh tests/unit` (the script's
own usage for a part of the tests: every linter, the TypeScript tests and the unit layer)
passes on that machine. The whole suite is what CI itself runs on its machine.

The `--test` path had hidden a bug on machines that already had what it installs: it
decided whether to install libavcodec with a pipe that failed under pipefail, so a fresh
machine got no H.264 decoder for Firefox (docs/video.md)."""

from __future__ import annotations

import pytest

from tests.fresh.machines import SETUP_DONE, Machine, readme_command
from tests.support.waiting import wait_for

# apt (the browsers, WebKit, podman), pip and three npm installs on a cold machine.
pytestmark = pytest.mark.timeout(45 * 60)
SETUP_TIMEOUT = 30 * 60
UNIT_TIMEOUT = 12 * 60
# What the test layers call, each checked by name on the machine (scripts/setup.sh --test).
PROGRAMS = (
    "chromium firefox-esr WebKitWebDriver Xvfb xclip xdotool convert Xvnc "
    "podman runc slirp4netns catatonit mmdebstrap"
)
VENV_MODULES = "pytest, playwright, selenium, av, napari, jupyterlab, jupyterhub, ruff, mypy"
NODE_TOOLS = (
    "labextension/node_modules/.bin/tsc",
    "tests/engines/node_modules/puppeteer-core/package.json",
    "tests/hub/node_modules/.bin/configurable-http-proxy",
)


def finished(machine: Machine, timeout: float, what: str) -> int:
    """The exit status of the machine's command, once it ended."""
    process = machine.process
    assert process is not None
    wait_for(lambda: process.poll() is not None, timeout, what, step=2)
    return process.returncode


def test_the_test_setup_and_the_unit_layer_on_a_fresh_machine(
    container_engine, base, checkout, fresh_dir, figures
):
    command = readme_command(2)
    setup, _, tests = command.partition(" && ")
    assert (setup, tests) == ("bash scripts/setup.sh --test", "bash scripts/test.sh"), command
    base("bookworm")
    label = "bookworm-sudo-user-test-setup"
    machine = Machine(
        container_engine, "bookworm", "sudo-user", checkout, fresh_dir / f"{label}.log"
    )
    try:
        machine.start({})
        found = machine.exec("for t in python3 node nodejs chromium; do command -v $t; done; :")
        assert found.strip() == "", f"the bookworm base is not bare: {found}"

        machine.run(setup)
        setup_s = machine.wait_output(SETUP_DONE, SETUP_TIMEOUT, "setup.sh --test's last line")
        assert finished(machine, 60, "setup.sh --test to end") == 0, machine.output()[-6000:]

        missing = machine.exec(
            f"for t in {PROGRAMS}; do command -v $t >/dev/null || echo missing: $t; done; "
            "ls /usr/lib/*/libavcodec.so.* >/dev/null 2>&1 || echo missing: libavcodec; "
            f"cd {machine.workdir} && "
            f".venv/bin/python -c 'import {VENV_MODULES}' 2>&1 | tail -1 | sed 's/^/missing: /'; "
            f"for f in {' '.join(NODE_TOOLS)}; do [ -e $f ] || echo missing: $f; done; :",
            timeout=300,
        )
        assert "missing" not in missing, missing

        machine.run("bash scripts/test.sh tests/unit", log=fresh_dir / f"{label}-unit.log")
        status = finished(machine, UNIT_TIMEOUT, "scripts/test.sh tests/unit to end")
        output = machine.output()
        assert status == 0, output[-6000:]
        for step in ("== ruff", "== mypy", "== hadolint", "== labextension", "== pytest"):
            assert step in output, f"{step} did not run:\n{output[-3000:]}"
        assert " passed" in output.splitlines()[-1], output[-3000:]
        figures[label] = {
            "command": setup,
            "setup.sh --test (s)": round(setup_s),
            "then": "bash scripts/test.sh tests/unit",
            "scripts/test.sh tests/unit": output.splitlines()[-1],
        }
        print(f"{label}: {figures[label]}")
    finally:
        machine.remove()
