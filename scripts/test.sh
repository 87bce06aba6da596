#!/usr/bin/env bash
# Run every check: linters (ruff, mypy, hadolint, eslint/prettier), the TypeScript tests and
# the pytest layers (unit, integration, browser). Screenshots go to artifacts/.
# Needs scripts/setup.sh --test first. Extra arguments go to pytest; test paths among them
# (tests/browser, tests/unit/test_paths.py::test_x) are run instead of all of tests.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
export PATH="${PWD}/.venv/bin:${PATH}"

echo "== ruff"
ruff check jupyter_napari_desktop tests benchmarks
ruff format --check jupyter_napari_desktop tests benchmarks
echo "== mypy"
mypy
echo "== import contracts (where each part of the package runs; pyproject.toml)"
lint-imports
echo "== hadolint"
hadolint --failure-threshold warning docker/*/Dockerfile
echo "== labextension: eslint, prettier, typecheck, tests"
(cd labextension && npm run --silent lint && npm test --silent)
echo "== pytest"
mkdir -p artifacts
# Test paths among the arguments run alone (scripts/test.sh tests/browser); else all of tests.
where=(tests)
for arg in "$@"; do
    if [[ "${arg}" == tests* && -e "${arg%%::*}" ]]; then
        where=()
        break
    fi
done
# The slowest tests are listed at the end: CI must stay well inside its time limit.
python -m pytest --durations=30 "${where[@]}" "$@"
