#!/usr/bin/env bash
# The whole test suite: setup, typecheck, lint, unit and integration tests.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
echo "== typecheck"; npx tsc -p tsconfig.json --noEmit
echo "== lint"; npx eslint .
echo "== tests"; node scripts/run-tests.mjs test
