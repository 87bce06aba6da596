"""The fresh-machine layer: bare Debian bases made once per test run, the checkout as
`git archive HEAD`, a test pattern that napari opens, and what was measured."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Callable

import pytest

from tests.fresh.machines import CONFIG_INSIDE, PATTERN_INSIDE, git_archive, make_base
from tests.support.paths import ARTIFACTS
from tests.support.pattern import write_pattern
from tests.support.playwright import jp_asyncio_loop, jp_server_cleanup  # noqa: F401


@pytest.fixture(scope="session")
def fresh_dir() -> Path:
    path = ARTIFACTS / "fresh"
    path.mkdir(parents=True, exist_ok=True)
    return path


@pytest.fixture(scope="session")
def figures(fresh_dir):
    """Set-up times per base and user, kept in artifacts/fresh/figures.json."""
    found: dict = {}
    yield found
    (fresh_dir / "figures.json").write_text(json.dumps(found, indent=2))


@pytest.fixture(scope="session")
def base(container_engine, fresh_dir, figures) -> Callable[[str], str]:
    """``base(suite)``: the bare image of a Debian suite, made from the archive the first
    time a test asks for it in this run (never one left from an earlier run)."""
    if os.geteuid() != 0:
        pytest.skip("making a Debian root with mmdebstrap needs root")
    made: dict[str, str] = {}

    def get(suite: str) -> str:
        if suite not in made:
            made[suite] = make_base(container_engine, suite, fresh_dir / f"base-{suite}.log")
        return made[suite]

    return get


@pytest.fixture(scope="session")
def checkout(tmp_path_factory) -> Path:
    return git_archive(tmp_path_factory.mktemp("checkout") / "checkout.tar")


@pytest.fixture(scope="session")
def pattern_config(tmp_path_factory) -> dict[Path, str]:
    """The four-colour test pattern and a Jupyter config that has napari open it, to be
    mounted read-only in a machine (the user's ~/.jupyter gets a copy of the config)."""
    folder = tmp_path_factory.mktemp("pattern")
    folder.chmod(0o755)
    image = write_pattern(folder / "pattern.png")
    config = folder / "jupyter_server_config.json"
    config.write_text(json.dumps({"NapariDesktop": {"napari_args": [PATTERN_INSIDE]}}))
    for path in (image, config):
        path.chmod(0o644)
    return {image: PATTERN_INSIDE, config: CONFIG_INSIDE}
