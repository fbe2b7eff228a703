"""File-size budget (DESIGN.md §1.9): every module under src/ at most 400 lines.

Functions are held to 40 statements by ruff (PLR0915); this script covers what ruff cannot.
Exit status 1 lists every module over budget.
"""

from __future__ import annotations

import sys
from pathlib import Path

MAX_MODULE_LINES = 400
ROOTS = ("src", "bench", "tools")


def main() -> int:
    root = Path(__file__).resolve().parent.parent
    over = []
    for top in ROOTS:
        for path in sorted((root / top).rglob("*.py")):
            lines = len(path.read_text(encoding="utf-8").splitlines())
            if lines > MAX_MODULE_LINES:
                over.append(f"{path.relative_to(root)}: {lines} lines > {MAX_MODULE_LINES}")
    for line in over:
        print(line)
    print(f"size budget: {'FAILED' if over else 'ok'} (modules <= {MAX_MODULE_LINES} lines)")
    return 1 if over else 0


if __name__ == "__main__":
    sys.exit(main())
