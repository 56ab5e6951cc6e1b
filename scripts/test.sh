#!/usr/bin/env bash
# Set up (first time only) and run every check and test: lint, format, types, the whole suite.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh --test
echo "== ruff check";         .venv/bin/ruff check hub_core hub_agent radios local_rules tests tools
echo "== ruff format --check"; .venv/bin/ruff format --check hub_core hub_agent radios local_rules tests tools
echo "== mypy --strict";      .venv/bin/mypy
# Every pin against OSV advisories (tools/audit.py); exit 3 = no advisory database on this machine: it
# says so in one line and the run goes on (HUB_AUDIT_REQUIRED=1 makes that fatal).
echo "== dependency audit";  .venv/bin/python tools/audit.py || [[ $? == 3 ]]
echo "== pytest";             exec .venv/bin/pytest "$@"
