"""A run's history is its ``metrics.jsonl``: appended once per step, read back on resume.

The checkpoint stays small: it says how many records of ``metrics.jsonl`` it vouches for and
what the last of them is (``train/checkpoint.py``). On resume, :func:`vouched_history` reads
those records back — the stop rules (loss change over ``patience`` steps, SNR) and
``FitResult.history`` see the whole run, as if it had never stopped — and repairs what a
crash may leave behind:

- lines after the vouched records (a step that logged its record but died before its
  checkpoint, or a line torn mid-write) are dropped, with a ``metrics.repaired`` warning: the
  file is rewritten with the vouched lines (temporary file, fsync, rename — never cut in
  place), and those steps run again, reading their finished rows from the result store;
- a vouched line that is not a step record, fewer records than vouched, or a last record that
  differs from the checkpoint's is damage no rule can repair: ``CorruptFileError`` names the
  file and the line.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path

from qtrain.errors import ConfigError, CorruptFileError, StorageError
from qtrain.logs import emit
from qtrain.train.checkpoint import write_bytes_atomic
from qtrain.train.records import StepRecord

__all__ = ["file_lines", "read_metrics", "truncate_metrics", "vouched_history"]

_LOG = logging.getLogger("qtrain.train")


def file_lines(path: Path) -> tuple[list[bytes], bytes] | None:
    """The complete lines of ``path`` (without their newline) and a torn tail; ``None`` if absent.

    Raises:
        StorageError: the file exists but cannot be read.
    """
    try:
        data = Path(path).read_bytes()
    except FileNotFoundError:
        return None
    except OSError as error:
        raise StorageError.from_os(error, path, "read") from None
    *complete, tail = data.split(b"\n")
    return complete, tail


def _record(line: bytes, path: Path, number: int, advice: str) -> StepRecord:
    """Line ``number`` (1-based) of ``path`` as a step record, or a clear error."""
    try:
        data = json.loads(line.decode("utf-8"))  # UnicodeDecodeError is a ValueError
        if not isinstance(data, dict):
            raise ValueError(f"a JSON {type(data).__name__}, not an object")
        return StepRecord.from_dict(data)
    except (ValueError, TypeError, ConfigError) as error:  # JSONDecodeError is a ValueError
        raise CorruptFileError(
            f"{path} line {number} is not a step record ({error}); {advice}", path=path
        ) from None


def read_metrics(path: Path) -> list[StepRecord]:
    """Every complete record in a ``metrics.jsonl`` (a line torn by a crash at the end is ignored).

    Raises:
        CorruptFileError: a complete line that is not a step record, naming the line.
        StorageError: the file cannot be read.
    """
    lines = file_lines(Path(path))
    if lines is None:
        return []
    advice = "the file is damaged: restore it from a backup"
    return [_record(line, path, k + 1, advice) for k, line in enumerate(lines[0])]


def _canonical(record: StepRecord) -> str:
    """What a checkpoint keeps of a record, as comparable text (NaN equals NaN here)."""
    return json.dumps(record.to_dict(with_gradient=False), sort_keys=True)


def vouched_history(path: Path, records: int, last: StepRecord | None) -> list[StepRecord]:
    """The first ``records`` records of ``path``, checked against ``last``; the rest dropped.

    Args:
        path: the run's ``metrics.jsonl``.
        records: how many records the checkpoint vouches for.
        last: the checkpoint's copy of the last of them.

    Raises:
        CorruptFileError: the file is missing or short of records, a vouched line is not a
            step record, or the last one is not the checkpoint's.
        StorageError: it cannot be read or rewritten.
    """
    path = Path(path)
    advice = (
        f"the run's history is damaged: restore {path.name} from a backup (the checkpoint "
        f"vouches for its first {records} records), or start a new run"
    )
    lines = file_lines(path)
    if lines is None:
        if records == 0:
            return []
        raise CorruptFileError(f"{path} is missing; {advice}", path=path)
    complete, tail = lines
    if len(complete) < records:
        raise CorruptFileError(
            f"{path} holds {len(complete)} complete records, fewer than the {records} the "
            f"checkpoint vouches for; {advice}",
            path=path,
        )
    history = [_record(line, path, k + 1, advice) for k, line in enumerate(complete[:records])]
    if history and (last is None or _canonical(history[-1]) != _canonical(last)):
        raise CorruptFileError(
            f"{path} line {records} is not the record the checkpoint vouches for (another "
            f"run's file, or edited); {advice}",
            path=path,
        )
    dropped = len(complete) - records + (1 if tail else 0)
    if dropped:
        _keep(path, complete[:records])
        emit(
            _LOG,
            logging.WARNING,
            "metrics.repaired",
            f"dropped {dropped} line(s) after record {records} of {path} (written after the "
            "last checkpoint, or torn by a crash); those steps run again",
            path=str(path),
            records=records,
            dropped=dropped,
        )
    return history


def truncate_metrics(path: Path, steps: int) -> None:
    """Keep the first ``steps`` complete lines of ``path`` (temporary file and rename)."""
    lines = file_lines(Path(path))
    if lines is None:
        return
    complete, tail = lines
    if len(complete) > steps or tail:
        _keep(Path(path), complete[:steps])


def _keep(path: Path, lines: list[bytes]) -> None:
    """Rewrite ``path`` as ``lines`` (temporary file and rename: never cut in place)."""
    write_bytes_atomic(path, b"".join(line + b"\n" for line in lines))
