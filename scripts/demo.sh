#!/usr/bin/env bash
# Set up (first time only) and run the demo: a simulated home through the real agent.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
exec .venv/bin/hub-agent demo "$@"
