"""scripts/build-images.sh answers bad input with a message that says what to do, before it
builds anything (the build itself is exercised by tests/images)."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "scripts" / "build-images.sh"


def run(*args: str, path: str | None = None) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ)
    if path is not None:
        env["PATH"] = path
    return subprocess.run(
        ["bash", str(SCRIPT), *args], capture_output=True, text=True, env=env, timeout=60
    )


def test_help_lists_the_images_and_options():
    done = run("--help")
    assert done.returncode == 0
    for word in ("desktop", "napari-gpu", "--engine", "--make-base", "--ca-bundle"):
        assert word in done.stdout


def test_unknown_image_names_the_choices():
    done = run("napari-cpu")
    assert done.returncode == 2
    assert "unknown image 'napari-cpu'" in done.stderr
    assert "desktop napari napari-gpu" in done.stderr


def test_unknown_option_and_engine():
    assert "unknown option '--fast'" in run("--fast").stderr
    done = run("--engine", "lxc", "desktop")
    assert done.returncode == 2 and "must be docker or podman, not 'lxc'" in done.stderr


def test_no_engine_on_path_says_what_to_install(tmp_path):
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for tool in ("bash", "dirname", "cat", "sed", "realpath", "id", "mktemp", "rm", "awk"):
        found = shutil.which(tool)
        if found:
            (bin_dir / tool).symlink_to(found)
    done = run("desktop", path=str(bin_dir))
    assert done.returncode == 2, done.stderr
    assert "neither a Docker engine nor podman found" in done.stderr
    assert "apt-get install podman" in done.stderr


def engine_without_images(tmp_path: Path) -> str:
    """PATH with a podman that has no image and echoes what it is asked to build."""
    fake = tmp_path / "bin"
    fake.mkdir()
    engine = fake / "podman"
    engine.write_text('#!/bin/sh\n[ "$1" = image ] && exit 1\necho "podman $*"\n')
    engine.chmod(0o755)
    return f"{fake}:{os.environ['PATH']}"


def test_a_missing_parent_image_names_the_build_to_run(tmp_path):
    """napari-gpu alone, without the napari image: build that first (checked before building)."""
    done = run("--engine", "podman", "napari-gpu", path=engine_without_images(tmp_path))
    assert done.returncode == 2
    assert "FROM jupyter-napari-desktop:napari, which is not here" in done.stderr
    assert "napari napari-gpu" in done.stderr
    assert "podman build" not in done.stdout


def test_a_gap_in_the_chain_is_refused_before_building(tmp_path):
    """desktop and napari-gpu without napari: napari-gpu would be built on the wrong parent."""
    done = run("--engine", "podman", "desktop", "napari-gpu", path=engine_without_images(tmp_path))
    assert done.returncode == 2
    assert "napari-gpu is built FROM jupyter-napari-desktop:napari" in done.stderr
    assert "podman build" not in done.stdout


def test_a_ca_bundle_that_is_not_there():
    done = run("--engine", "podman", "--ca-bundle", "/nonexistent/ca.pem", "desktop")
    assert done.returncode == 2 and "is not a readable file" in done.stderr
