import pytest
import typer

import qtrain as qt
from qtrain.cli.views import compact, exit_status, friendly_errors, value_with_error
from qtrain.errors import (
    CorruptFileError,
    DiskFullError,
    NotReadableError,
    NotWritableError,
    StorageError,
)


def test_friendly_errors_keep_brackets_and_exit_2(capsys):
    @friendly_errors
    def command():
        raise qt.ConfigError("run plots need matplotlib: pip install 'qtrain[plot]'")

    with pytest.raises(typer.Exit) as info:
        command()
    assert info.value.exit_code == 2
    assert "pip install 'qtrain[plot]'" in capsys.readouterr().err


def test_number_formats():
    assert [compact(n) for n in (950, 120_000, 3_400_000)] == ["950", "120k", "3.4M"]
    assert value_with_error(-1.5, 0.25, 2) == "-1.50 ± 0.25"
    assert value_with_error(-1.5, None, 2) == "-1.50" and value_with_error(None, None) == "-"


@pytest.mark.parametrize(
    ("error", "status"),
    [
        (qt.ConfigError("bad key"), 2),
        (qt.CheckpointMismatchError("another run"), 2),
        (CorruptFileError("metrics.jsonl line 3 is not a step record"), 65),
        (NotReadableError("permission denied: cannot read results.sqlite"), 66),
        (NotWritableError("read-only file system: cannot write in the run folder"), 73),
        (DiskFullError("disk full: cannot write checkpoint.json"), 74),
        (StorageError("I/O error: cannot write checkpoint.json"), 74),
    ],
)
def test_each_error_has_its_documented_exit_status_and_one_line(capsys, error, status):
    @friendly_errors
    def command():
        raise error

    assert exit_status(error) == status
    with pytest.raises(typer.Exit) as info:
        command()
    assert info.value.exit_code == status
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and str(error) in err


def test_a_long_message_stays_one_line(capsys):
    @friendly_errors
    def command():
        raise DiskFullError("disk full: " + "x" * 300)

    with pytest.raises(typer.Exit):
        command()
    assert capsys.readouterr().err.count("\n") == 1
