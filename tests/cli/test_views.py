import pytest
import typer

import qtrain as qt
from qtrain.cli.views import compact, friendly_errors, value_with_error


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
