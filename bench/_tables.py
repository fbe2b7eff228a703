"""Markdown tables and their one-paragraph readings, from the JSON results of each benchmark.

Every renderer takes ``[(file name, data), ...]`` (most benchmarks write one file; the
interleaved adjoint A/B and the long run write several) and returns ``(table, reading)``.
They read only the JSON: nothing is imported, measured or looked up, so the same files always
give the same text. Times are medians; ``(×)`` is *peer time / qtrain time* (> 1: qtrain is
faster); ``*`` marks a time extrapolated from a capped run; ``!`` a measurement during which
other processes kept more than 10 % of the machine busy.
"""

from __future__ import annotations

import statistics
from collections.abc import Callable
from typing import Any

Files = list[tuple[str, Any]]
Rendered = tuple[str, str]
Cell = Callable[[dict[str, Any]], dict[str, Any] | None]


def fmt_s(seconds: float | None) -> str:
    """A duration with three significant digits in µs, ms or s."""
    if seconds is None:
        return "-"
    if seconds < 1e-3:
        return f"{seconds * 1e6:.3g} µs"
    if seconds >= 100:
        return f"{seconds:,.0f} s"
    return f"{seconds * 1e3:.3g} ms" if seconds < 1 else f"{seconds:.3g} s"


def md(rows: list[list[str]]) -> str:
    """A Markdown table: the first row is the header."""
    lines = ["| " + " | ".join(rows[0]) + " |", "|" + "---|" * len(rows[0])]
    return "\n".join(lines + ["| " + " | ".join(r) + " |" for r in rows[1:]])


def flags(rec: dict[str, Any]) -> str:
    star = "*" if rec.get("extrapolated") else ""
    return star + ("!" if (rec.get("foreign_cpu") or 0) > 0.1 else "")


def timed(rec: dict[str, Any] | None, base: dict[str, Any] | None, key: str) -> str:
    """``rec[key]`` as a time with its flags, and ``(×)`` against ``base`` when given."""
    if not rec or rec.get(key) is None:
        return "-"
    text = fmt_s(rec[key]) + flags(rec)
    if base and base.get(key):
        text += f" ({rec[key] / base[key]:.1f}×)"
    return text


def span(ratios: list[float]) -> str:
    """``a–b×`` of the ratios (or ``a×`` for one)."""
    if not ratios:
        return "not measured"
    low, high = min(ratios), max(ratios)
    return f"{low:.2g}×" if f"{low:.2g}" == f"{high:.2g}" else f"{low:.2g}–{high:.2g}×"


def ratios(entries: list[dict[str, Any]], peer: Cell, base: Cell, key: str) -> list[float]:
    out = []
    for entry in entries:
        p, b = peer(entry), base(entry)
        if p and b and p.get(key) and b.get(key):
            out.append(p[key] / b[key])
    return out


def targets(data: dict[str, Any]) -> str:
    """The script's own verdicts: how many targets were met, and the missed ones in full."""
    checked = [t for t in data.get("targets") or [] if isinstance(t, str)]
    missed = [t for t in checked if "MISSED" in t]
    if not checked:
        return ""
    text = (
        f" Targets as the script checked them: {len(checked) - len(missed)} of {len(checked)} met"
    )
    return text + ("; missed: " + "; ".join(missed) if missed else "") + "."


def expval(files: Files) -> Rendered:
    data = files[0][1]
    res = data["results"]

    def lib(name: str, mode: str) -> Cell:
        return lambda e: (e["libs"].get(name) or {}).get(mode)

    head = ["n", "L", "P", "qtrain", "lightning", "Aer", "qtrain 512", "lightning loop 512"]
    rows = [[*head, "lightning broadcast 512", "Aer 512"]]
    for e in res:
        q1, qb = lib("qtrain", "single")(e), lib("qtrain", "batch")(e)
        rows.append(
            [str(e["n"]), str(e["layers"]), str(e["params"]), timed(q1, None, "median_s")]
            + [timed(lib(k, "single")(e), q1, "median_s") for k in ("lightning-loop", "aer")]
            + [timed(qb, None, "median_s_512")]
            + [
                timed(lib(k, "batch")(e), qb, "median_s_512")
                for k in ("lightning-loop", "lightning-bcast", "aer")
            ]
        )
    single = ratios(res, lib("lightning-loop", "single"), lib("qtrain", "single"), "median_s")
    batch = ratios(res, lib("aer", "batch"), lib("qtrain", "batch"), "median_s_512")
    reading = (
        f"Exact ⟨Σ Z_i⟩ of the hardware-efficient ansatz. One parameter vector: qtrain is "
        f"{span(single)} faster than lightning.qubit over these sizes; a batch of "
        f"{data.get('batch_rows', 512)} rows in one call: {span(batch)} faster than Aer's "
        f"single job with the same parameter array." + targets(data)
    )
    return md(rows), reading


GRAD_COLUMNS = [
    ("qtrain-ps", None), ("lightning-ps", "qtrain-ps"), ("aer-ps", "qtrain-ps"),
    ("qtrain-adj", None), ("lightning-adj", "qtrain-adj"), ("dq-backprop", "qtrain-adj"),
    ("qtrain-ps@1000", None), ("lightning-ps@1000", "qtrain-ps@1000"),
    ("aer-sampler@1000", "qtrain-ps@1000"),
]  # fmt: skip


def grad(files: Files) -> Rendered:
    data = files[0][1]
    res = data["results"]
    present = [(k, b) for k, b in GRAD_COLUMNS if any(k in e["methods"] for e in res)]
    rows = [["n", "L", "P", *(k for k, _ in present)]]
    for e in res:
        got = e["methods"]
        rows.append(
            [str(e["n"]), str(e["layers"]), str(e["params"])]
            + [timed(got.get(k), got.get(b) if b else None, "time_s") for k, b in present]
        )

    def method(name: str) -> Cell:
        return lambda e: e["methods"].get(name)

    small = [e for e in res if e["n"] <= 12]
    reading = (
        "The full gradient ∇⟨Σ Z_i⟩ of the same ansatz, one seeded θ. Exact parameter shift: "
        f"qtrain is {span(ratios(small, method('lightning-ps'), method('qtrain-ps'), 'time_s'))} "
        f"faster than lightning.qubit at n ≤ 12 and "
        f"{span(ratios(res, method('aer-ps'), method('qtrain-ps'), 'time_s'))} faster than Aer's "
        f"batched job; adjoint: "
        f"{span(ratios(res, method('lightning-adj'), method('qtrain-adj'), 'time_s'))} against "
        f"lightning's adjoint. Every exact gradient was checked against qtrain's adjoint to 1e-8 "
        f"before timing." + targets(data)
    )
    return md(rows), reading


def adjoint_ab(files: Files) -> Rendered:
    rows = [["file", "n", "L", "rounds", "qtrain adjoint", "lightning adjoint", "ratio"]]
    found = []
    for name, data in files:
        times = data["times_s"]
        q, light = statistics.median(times["qtrain-adj"]), statistics.median(times["lightning-adj"])
        found.append(data["ratio_of_medians"])
        rounds = str(len(times["qtrain-adj"]))
        ratio = f"{data['ratio_of_medians']:.2f}"
        rows.append(
            [
                f"`{name}`",
                str(data["n"]),
                str(data["layers"]),
                rounds,
                fmt_s(q),
                fmt_s(light),
                ratio,
            ]
        )
    reading = (
        "qtrain's adjoint against lightning.qubit's, the two calls alternating round by round "
        "so that both see the same machine load; ratio = qtrain median / lightning median "
        f"(≤ 1: qtrain as fast or faster). Over these runs: {span(found)}."
    )
    return md(rows), reading


def execution(files: Files) -> Rendered:
    data = files[0][1]
    names = ["direct", "executor", "store", "cached", "grad"]
    rows = [["n", "L", "shots", "rows", *names]]
    for c in data["cases"]:
        got = c["variants"]
        cells = [
            fmt_s(got[k]["median_s"]) + (f" ({got[k]['overhead']:+.1%})" if k != "direct" else "")
            for k in names
            if k in got
        ]
        rows.append(
            [str(c["n"]), str(c["layers"]), str(c["shots"] or "exact"), str(c["rows"]), *cells]
        )
    reading = (
        "What the execution layer adds to the simulator for a param-shift gradient: "
        "`LocalSimulator().run` (direct), `Executor(sim)`, the executor with a fresh "
        "`ResultStore`, the same store fully cached, and `qt.grad`; in brackets the change "
        "against direct." + targets(data)
    )
    return md(rows), reading


def store(files: Files) -> Rendered:
    data = files[0][1]
    rows = [["rows per call", "durability", "commit", "read back"]]
    for r in data["results"]:
        rows.append([str(r["rows"]), r["durability"], fmt_s(r["commit_s"]), fmt_s(r["read_s"])])
    reading = (
        f"The durable store's commit per backend call in steady state ({data.get('calls')} "
        'calls), `durability="full"` (fsync per commit) against `"normal"`, and reading '
        "the rows back."
    )
    return md(rows), reading


def long_run(files: Files) -> Rendered:
    head = ["file", "steps", "first 1000: median", "last 1000: median", "last / first"]
    rows = [[*head, "checkpoint", "resume"]]
    for name, d in files:
        first, last = d["first"]["median_ms"], d["last"]["median_ms"]
        ends = [f"{first:.2f} ms", f"{last:.2f} ms", f"{d['ratio_median']:.2f}"]
        size, resume = f"{d['checkpoint_bytes']:,} B", fmt_s(d["resume_s"])
        rows.append([f"`{name}`", str(d["steps"]), *ends, size, resume])
    worst = max(d["ratio_median"] for _, d in files)
    reading = (
        "Step time of a 10 000-step 2-qubit adjoint run with a run folder (metrics appended and "
        f"a checkpoint fsync-ed every step): the last 1000 steps cost at most {worst:.2f}× the "
        "first 1000 (target: flat, ≤ 1.2×)."
    )
    return md(rows), reading


def observe(files: Files) -> Rendered:
    data = files[0][1]
    base = data["plain"]["median_s"]
    rows = [[f"mode ({data['steps']} steps)", "run", "against plain"]]
    for mode in ("plain", "trackers", "json-logs", "mlflow"):
        if mode in data:
            s = data[mode]["median_s"]
            rows.append([mode, fmt_s(s), "-" if mode == "plain" else f"{s / base - 1:+.0%}"])
    rows.append(["one Prometheus scrape", fmt_s(data.get("scrape_median_s")), "-"])
    rows.append(["`write_report`", fmt_s(data.get("report_median_s")), "-"])
    reading = (
        "What observability costs a 40-step H₂ VQE run: the JSONL default (plain), plus the log "
        "and Prometheus trackers, plus JSON logs, plus MLflow (SQLite). Differences of a few "
        "per cent between the first three are within the run-to-run scatter."
    )
    return md(rows), reading


def noise(files: Files) -> Rendered:
    data = files[0][1]
    keys = ["qtrain-dm", "qtrain-traj", "aer-dm", "pl-mixed"]
    rows = [["n", "P", *(f"{k} ⟨H⟩" for k in keys), *(f"{k} ∇" for k in keys)]]
    for e in data["results"]:
        libs = e["libs"]
        cells = []
        for what in ("expval", "grad"):
            base = (libs.get("qtrain-dm") or {}).get(what)
            for k in keys:
                rec = (libs.get(k) or {}).get(what)
                rec = rec and {**rec, "extrapolated": libs[k].get("mode") == "part"}
                cells.append(timed(rec, None if k.startswith("qtrain") else base, "s"))
        rows.append([str(e["n"]), str(e["params"]), *cells])
    big = data.get("big")
    extra = ""
    if big:
        ev = big["expval"]
        extra = (
            f" Trajectories at n = {big['n']}: ⟨Σ Z_i⟩ = {ev['value']:.3f} ± {ev['stderr']:.3f} "
            f"in {fmt_s(ev['s'])}."
        )
    reading = (
        "Noisy ⟨Σ Z_i⟩ and its full param-shift gradient (depolarizing after every gate, "
        "readout error): qtrain's exact density matrix and trajectories (± standard error "
        "not shown) against Aer's density matrix and PennyLane default.mixed; (×) against "
        "qtrain-dm." + extra + targets(data)
    )
    return md(rows), reading


def stored_table(what: str) -> Callable[[Files], Rendered]:
    """For scripts that keep their own rendered table in the JSON (``"table"``)."""

    def render(files: Files) -> Rendered:
        data = files[0][1]
        return data["table"].strip(), what + targets(data)

    return render


def plateau(files: Files) -> Rendered:
    data = files[0][1]
    rows = [
        [
            "n",
            "Var[∂C/∂θ₀]",
            "qtrain",
            "qtrain, Dask (2 workers)",
            "PL default.qubit",
            "PL lightning",
        ]
    ]
    for r in data["rows"]:

        def peer(key: str, r: dict[str, Any] = r) -> str:
            rec = r.get(key)
            if not rec:
                return "-"
            return (
                fmt_s(rec["seconds"])
                + ("*" if rec.get("extrapolated") else "")
                + f" ({rec['seconds'] / r['qtrain']:.0f}×)"
            )

        rows.append(
            [
                str(r["n"]),
                f"{r['variance']:.3g}",
                fmt_s(r["qtrain"]),
                fmt_s(r.get("qtrain-dask")),
                peer("pl-default"),
                peer("pl-lightning"),
            ]
        )
    totals = data.get("totals", {})
    reading = (
        "A barren-plateau scan, 200 random circuits per point, depth 50: qtrain's "
        "`variance_scan` against PennyLane's demo recipe; totals over the scan: "
        + ", ".join(f"{k} {fmt_s(v)}" for k, v in totals.items())
        + "."
    )
    return md(rows), reading


def generic(files: Files) -> Rendered:
    """Any list of flat records (``results`` or ``rows``): one column per scalar field."""
    data = files[0][1]
    lists = [data.get(k) for k in ("results", "rows")] if isinstance(data, dict) else [data]
    records = next((x for x in lists if isinstance(x, list)), [])
    records = [r for r in records if isinstance(r, dict)]
    keys = [
        k
        for k in dict.fromkeys(k for r in records for k in r)
        if all(not isinstance(r.get(k), dict | list) for r in records)
    ]
    rows = [keys or ["(no records)"]]
    for r in records:
        rows.append(
            [f"{r[k]:.4g}" if isinstance(r.get(k), float) else str(r.get(k, "-")) for k in keys]
        )
    return md(rows), "The records as the script wrote them."
