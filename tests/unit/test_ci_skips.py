"""With CI=true a skipped integration, browser or hub test fails the run (tests/conftest.py)."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

from tests.support.paths import ROOT

SKIPPING = {
    "tests/integration/test_needs_xvnc.py": """
        import pytest

        pytestmark = pytest.mark.integration

        def test_skipped_inside():
            pytest.skip("Xvnc missing")

        @pytest.mark.skipif(True, reason="Chromium missing")
        def test_skipif():
            pass

        def test_runs():
            pass
    """,
    "tests/integration/test_needs_napari.py": """
        import pytest

        pytest.importorskip("no_such_napari_module", reason="napari missing")

        def test_never_collected():
            pass
    """,
    "tests/unit/test_unit_skip.py": """
        import pytest

        def test_unit_may_skip():
            pytest.skip("hadolint not installed")
    """,
    "pytest.ini": """
        [pytest]
        markers = integration: needs Xvnc
    """,
    "conftest.py": """
        from tests.conftest import pytest_make_collect_report, pytest_runtest_makereport
    """,
}


def run_pytest(tmp_path, ci):
    for name, text in SKIPPING.items():
        path = tmp_path / "project" / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text).lstrip())
    env = {k: v for k, v in os.environ.items() if k != "CI"}
    env["PYTHONPATH"] = str(ROOT)
    if ci:
        env["CI"] = "true"
    project = tmp_path / "project"
    return subprocess.run(
        [
            *(sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-rA", "-q"),
            *("--continue-on-collection-errors", str(project)),
        ],
        cwd=project,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_skips_fail_in_ci(tmp_path):
    done = run_pytest(tmp_path, ci=True)
    out = done.stdout + done.stderr
    assert done.returncode == 1, out
    assert out.count("was skipped with CI=true") >= 3, out
    for reason in ("Xvnc missing", "Chromium missing", "napari missing"):
        assert reason in out
    assert "hadolint not installed" in out and "1 skipped" in out, "unit skips stay skips"


def test_skips_stay_skips_outside_ci(tmp_path):
    done = run_pytest(tmp_path, ci=False)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "was skipped with CI=true" not in done.stdout


def test_an_allowed_skip_covers_its_test_and_its_parameters_only(monkeypatch):
    import tests.conftest as rules

    key = "tests/images/test_x.py::test_gpu"
    monkeypatch.setattr(rules, "ALLOWED_SKIPS", {key: "no GPU here"})
    assert rules.allowed_skip(key)
    assert rules.allowed_skip(key + "[docs/docker.md:0]")
    assert not rules.allowed_skip(key + "_other")
    assert not rules.allowed_skip("tests/images/test_x.py::test_cpu[docs/docker.md:0]")
