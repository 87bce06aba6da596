"""The ledger of the commands README.md and docs/*.md show: each one is run as written by a
named test (or by .ci/run itself), or is listed here with the reason this machine cannot
run it. A command added to a page without either fails here, so a page cannot quietly show
a command nobody runs. The runners are checked to exist and to name the page they read."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.support.docs import shell_commands
from tests.support.paths import ROOT

pytestmark = pytest.mark.unit

DOCS = ["README.md", *sorted(str(p.relative_to(ROOT)) for p in (ROOT / "docs").glob("*.md"))]

# (page, the command's start as a regular expression, the file that runs it as written)
RUN: list[tuple[str, str, str]] = [
    (
        "README.md",
        r"bash scripts/setup\.sh && bash scripts/run-lab\.sh$",
        "tests/fresh/test_readme.py",
    ),
    ("README.md", r"bash scripts/setup\.sh --test && bash scripts/test\.sh$", ".ci/run"),
    (
        "README.md",
        r"bash scripts/install-system-deps\.sh$",
        "tests/fresh/test_existing_env.py",
    ),
    ("README.md", r'pip install "\.\[napari\]"$', "tests/fresh/test_existing_env.py"),
    ("docs/binder.md", r"pip install jupyter-repo2docker$", "tests/packaging/test_dockerfiles.py"),
    ("docs/binder.md", r"jupyter-repo2docker --no-build", "tests/packaging/test_dockerfiles.py"),
    ("docs/docker.md", r"scripts/build-images\.sh( #| --help)", "tests/images/test_docker_doc.py"),
    ("docs/docker.md", r"scripts/build-images\.sh (all|napari-gpu)", "tests/images/test_images.py"),
    ("docs/docker.md", r"docker build .*:(desktop|napari) \.$", "tests/images/test_docker_doc.py"),
    ("docs/docker.md", r"docker build .*:napari-gpu \.$", "tests/images/test_images.py"),
    # the GPU lines are skipped, saying why, where the machine has no GPU or /dev/dri
    ("docs/docker.md", r"docker run ", "tests/images/test_docker_doc.py"),
    (
        "docs/jupyterhub.md",
        r"(apt-get|python3 -m venv|/opt/|npm install -g|bash scripts/)",
        "tests/fresh/test_jupyterhub_doc.py",
    ),
    (
        "docs/jupyterhub.md",
        r"(pip install jupyterhub dockerspawner"
        r"|jupyterhub -f deploy/jupyterhub/jupyterhub_config_docker\.py$)",
        "tests/images/test_dockerspawner_doc.py",
    ),
    ("docs/napari-api.md", r"\.venv/bin/jupyter-napari-desktop ", "tests/integration/test_cli.py"),
    ("docs/sessions.md", r"\.venv/bin/jupyter-napari-desktop ", "tests/integration/test_cli.py"),
    ("docs/video.md", r"\.venv/bin/jupyter-napari-desktop ", "tests/integration/test_cli.py"),
    ("docs/video.md", r'pip install "\.\[napari,video\]"$', "tests/fresh/test_existing_env.py"),
]

# (page, the command's start, why CI on this machine does not run it as written)
NOT_RUN: list[tuple[str, str, str]] = [
    (
        "docs/binder.md",
        r"jupyter-repo2docker --user-id",
        "a real build pulls repo2docker's base image from Docker Hub and Python from "
        "conda-forge: neither is reachable here (the Dockerfile it would build is checked)",
    ),
    (
        "docs/hpc.md",
        r"apptainer build",
        "Apptainer is in neither Debian 12 nor 13 nor on PyPI; its definition's base is "
        "the napari image, which is built and run",
    ),
    (
        "docs/jupyterhub.md",
        r"helm ",
        "no Kubernetes cluster here; tests/images/test_z2jh_pod.py runs the pod that "
        "KubeSpawner makes from deploy/z2jh/config.yaml with podman",
    ),
    (
        "docs/jupyterhub.md",
        r"sudo \.venv/bin/python -m benchmarks\.hub_scale",
        "a benchmark (minutes, 20 desktops): run by hand, its results in benchmarks/results/",
    ),
    (
        "docs/jupyterhub.md",
        r"(\.venv/bin/pip install jupyterhub jupyterhub-idle-culler|npm ci --prefix tests/hub)",
        "scripts/setup.sh --test installs both (the same packages, npm ci of the same lock file)",
    ),
    (
        "docs/jupyterhub.md",
        r"sudo \.venv/bin/python -m pytest tests/hub",
        "scripts/test.sh runs tests/hub with the rest of tests/ (CI runs as root, without sudo)",
    ),
]


def owners(doc: str, command: str) -> list[str]:
    return [
        runner for page, start, runner in RUN + NOT_RUN if page == doc and re.match(start, command)
    ]


@pytest.mark.parametrize("doc", DOCS)
def test_each_command_of_the_page_has_one_runner_or_a_reason(doc):
    for command in shell_commands(doc):
        found = owners(doc, command)
        assert len(found) == 1, (
            f"{doc}: {command!r} matches {found or 'nothing'} in tests/unit/test_doc_commands.py: "
            "add the test that runs it as written (RUN), or the reason it cannot run (NOT_RUN)"
        )


@pytest.mark.parametrize(("doc", "start", "runner"), RUN)
def test_each_runner_reads_its_page(doc, start, runner):
    path = ROOT / runner
    assert path.is_file(), runner
    text = path.read_text()
    if runner == ".ci/run":
        assert "bash scripts/setup.sh --test && bash scripts/test.sh" in text
        return
    name = Path(doc).name if doc == "README.md" else doc
    assert name.split(".")[0] in text, f"{runner} does not name {doc}"
    assert any(re.match(start, c) for c in shell_commands(doc)), f"{doc} no longer shows {start}"


@pytest.mark.parametrize(("doc", "start", "reason"), NOT_RUN)
def test_each_command_not_run_is_still_on_its_page(doc, start, reason):
    assert reason and any(re.match(start, c) for c in shell_commands(doc)), (doc, start)
