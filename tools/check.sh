#!/usr/bin/env bash
# The whole test suite: lint, types, import contracts, size budget, docs, tests (incl. slow ones).
set -euo pipefail
cd "$(dirname "$0")/.."
echo "== ruff";            ruff check src tests bench tools
echo "== mypy (strict)";   mypy
echo "== import contracts"; lint-imports
echo "== size budget";     python tools/check_size.py
echo "== docs (strict)";   NO_MKDOCS_2_WARNING=1 mkdocs build --strict --quiet
echo "== pytest";          python -m pytest
