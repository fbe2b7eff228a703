"""What the durable result store costs per backend call, in steady state.

One backend call's rows are committed in one transaction (``ResultStore.put_blocks``). This
times that commit into an open store that already holds rows (what every step of a run
does), for both durabilities — ``full`` (fsync per commit) and ``normal`` (WAL
``synchronous=NORMAL``) — and a few call sizes, and the lookup of the same rows. Results go
to ``docs/performance.md`` ("Execution layer").

    python bench/bench_store.py                      # 33, 513 and 4096 rows per call
    python bench/bench_store.py --rows 33 --calls 500 --json bench/results/store.json
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

import _results  # bench/_results.py: the meta block every result file carries
import numpy as np

try:
    import qtrain as qt
except ImportError:  # a plain checkout: use src/
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "src"))
    import qtrain as qt
from qtrain.exec.store import RowBlock


def commits(path: Path, durability: str, rows: int, calls: int) -> dict[str, float]:
    store = qt.ResultStore(path, durability=durability)
    writes, reads = [], []
    for call in range(calls):
        keys = [f"{call}-{r}" for r in range(rows)]
        block = RowBlock(
            keys,
            np.zeros((rows, 1)),
            np.zeros((rows, 1)),
            np.full(rows, 1000, dtype=np.int64),
            {"backend": "local"},
        )
        started = time.perf_counter()
        store.put_blocks([block])
        writes.append(time.perf_counter() - started)
        started = time.perf_counter()
        store.get_many(keys)
        reads.append(time.perf_counter() - started)
    store.close()
    warm = calls // 10  # the first commits also grow a fresh file: not the steady state
    return {"commit_s": statistics.median(writes[warm:]), "read_s": statistics.median(reads[warm:])}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", default="33,513,4096", help="rows per backend call")
    parser.add_argument("--calls", type=int, default=200, help="commits per measurement")
    parser.add_argument("--store-dir", help="folder for the SQLite files (default: $TMPDIR)")
    parser.add_argument("--json", type=Path, help="write the results to this file")
    opts = parser.parse_args(argv)
    results = []
    with tempfile.TemporaryDirectory(prefix="qtrain-bench-store-", dir=opts.store_dir) as tmp:
        for rows in (int(r) for r in opts.rows.split(",")):
            for durability in ("full", "normal"):
                path = Path(tmp) / f"{durability}-{rows}.sqlite"
                cost = commits(path, durability, rows, opts.calls)
                results.append({"rows": rows, "durability": durability, **cost})
                print(
                    f"{rows:>5} rows  {durability:<6}  commit {cost['commit_s'] * 1e6:7.0f} µs"
                    f"  read {cost['read_s'] * 1e6:7.0f} µs",
                    flush=True,
                )
    if opts.json:
        _results.write(opts.json, {"calls": opts.calls, "results": results})
    return 0


if __name__ == "__main__":
    sys.exit(main())
