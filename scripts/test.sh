#!/usr/bin/env bash
# Run every check: linters (ruff, mypy, hadolint, eslint/prettier), the TypeScript tests and
# the pytest layers (unit, integration, browser). Screenshots go to artifacts/.
# Needs scripts/setup.sh --test first. Extra arguments go to pytest.
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
python -m pytest tests "$@"
