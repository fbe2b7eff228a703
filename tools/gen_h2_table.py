"""Regenerate src/qtrain/problems/data/h2_sto3g.json (needs the chem extra).

    pip install -e '.[chem]'
    python tools/gen_h2_table.py

Grid: 0.3 to 2.5 Å in 0.1 Å steps plus the 0.7414 Å equilibrium. Every entry comes from
qtrain.problems.h2_chem.compute_entry (PySCF RHF + integrals, OpenFermion Jordan–Wigner), the
same function qt.problems.h2 calls for an off-grid bond length. The file records the
package versions and this command. `--check` compares instead of writing (exit 1 on a
difference above 1e-9).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from qtrain.problems.h2_chem import DROP_BELOW, SCF_CONV_TOL, chem_versions, compute_entry

COMMAND = "python tools/gen_h2_table.py"
TARGET = Path(__file__).resolve().parent.parent / "src/qtrain/problems/data/h2_sto3g.json"
GRID = sorted({round(0.3 + 0.1 * i, 10) for i in range(23)} | {0.7414})


def table() -> dict[str, object]:
    return {
        "format": "qtrain.h2_sto3g/1",
        "description": "H2, STO-3G, Jordan-Wigner qubit Hamiltonians on a grid of bond lengths",
        "units": {"bond_length": "angstrom", "energy": "hartree"},
        "basis": "sto-3g",
        "mapping": "jordan-wigner",
        "spin_orbitals": ["1sg_alpha", "1sg_beta", "1su_alpha", "1su_beta"],
        "wire_of_spin_orbital": [0, 1, 2, 3],
        "occupied_is": "|1>",
        "hf_state": "1100",
        "generator": {
            "command": COMMAND,
            "script": "tools/gen_h2_table.py",
            "function": "qtrain.problems.h2_chem.compute_entry",
            "versions": chem_versions(),
            "scf_conv_tol": SCF_CONV_TOL,
            "dropped_coefficients_below": DROP_BELOW,
        },
        "entries": [compute_entry(length) for length in GRID],
    }


def _differences(old: dict[str, object], new: dict[str, object]) -> list[str]:
    problems = []
    old_entries = {e["bond_length"]: e for e in old["entries"]}  # type: ignore[attr-defined]
    for entry in new["entries"]:  # type: ignore[attr-defined]
        previous = old_entries.get(entry["bond_length"])
        if previous is None:
            problems.append(f"{entry['bond_length']}: missing")
            continue
        for key in ("nuclear_repulsion", "hf_energy", "fci_energy"):
            if abs(previous[key] - entry[key]) > 1e-9:
                problems.append(f"{entry['bond_length']} {key}: {previous[key]} -> {entry[key]}")
        before, after = previous["terms"], entry["terms"]
        for word in sorted(set(before) | set(after)):
            if abs(before.get(word, 0.0) - after.get(word, 0.0)) > 1e-9:
                problems.append(f"{entry['bond_length']} term {word!r} differs")
    return problems


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="compare, do not write")
    args = parser.parse_args()
    data = table()
    if args.check:
        problems = _differences(json.loads(TARGET.read_text(encoding="utf-8")), data)
        print("\n".join(problems) or f"{TARGET.name}: up to date ({len(GRID)} bond lengths)")
        return 1 if problems else 0
    TARGET.parent.mkdir(parents=True, exist_ok=True)
    TARGET.write_text(json.dumps(data, indent=1) + "\n", encoding="utf-8")
    print(f"wrote {TARGET} ({len(GRID)} bond lengths)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
