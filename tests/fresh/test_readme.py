"""The README's first command on fresh machines: bare Debian 12 and 13 (no Python, no
Node.js, no Chromium), the checkout as `git archive HEAD`, the command read from README.md
and run exactly as written, as root and as a user with sudo (machines.CASES); then the host's
Chromium opens the printed URL, clicks the napari card and sees napari draw the test
pattern. Screenshots, logs and set-up times in artifacts/fresh/."""

from __future__ import annotations

import pytest

from tests.fresh.machines import (
    CASES,
    SETUP_DONE,
    URL,
    Machine,
    napari_card_draws,
    readme_command,
)

# apt, pip and the labextension's npm build on a cold machine: minutes.
pytestmark = pytest.mark.timeout(40 * 60)
SETUP_TIMEOUT = 30 * 60


def test_the_readme_names_setup_and_run_lab():
    command = readme_command(1)
    assert "scripts/setup.sh" in command and "scripts/run-lab.sh" in command, command


@pytest.mark.parametrize(("suite", "user"), CASES, ids=[f"{s}-{u}" for s, u in CASES])
def test_first_command_on_a_fresh_machine(
    suite, user, container_engine, base, checkout, pattern_config, browser, fresh_dir, figures
):
    command = readme_command(1)
    base(suite)
    label = f"{suite}-{user}"
    machine = Machine(container_engine, suite, user, checkout, fresh_dir / f"{label}.log")
    try:
        machine.start(pattern_config)
        found = machine.exec("for t in python3 node nodejs chromium; do command -v $t; done; :")
        assert found.strip() == "", f"the {suite} base is not bare: {found}"

        machine.run(command)
        setup_s = machine.wait_output(SETUP_DONE, SETUP_TIMEOUT, "setup.sh's last line")
        url_s = machine.wait_output(URL, 180, "the token URL of run-lab.sh")
        port, token = machine.url()
        owners = machine.exec(
            f"stat -c %U {machine.workdir}/.venv; pgrep -u $(id -u) -x jupyter-lab"
        )
        assert owners.split()[:1] == [machine.login], f".venv's owner: {owners}"
        assert len(owners.split()) > 1, f"no jupyter-lab process of {machine.login}: {owners}"

        drawn_s = napari_card_draws(browser, port, token, label, fresh_dir)
        figures[label] = {
            "command": command,
            "setup.sh (s)": round(setup_s),
            "command -> token URL printed (s)": round(url_s),
            "click on napari -> pattern drawn (s)": round(drawn_s, 1),
        }
        print(f"{label}: {figures[label]}")
    finally:
        machine.remove()
