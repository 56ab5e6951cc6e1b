#!/usr/bin/env bash
# Set up (first time only) and run every check and test: lint, format, types, the whole suite.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh --test
echo "== ruff check";         .venv/bin/ruff check hub_core hub_agent radios local_rules tests tools
echo "== ruff format --check"; .venv/bin/ruff format --check hub_core hub_agent radios local_rules tests tools
echo "== mypy --strict";      .venv/bin/mypy
echo "== pytest";             exec .venv/bin/pytest "$@"
