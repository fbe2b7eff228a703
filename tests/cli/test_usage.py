import subprocess
import sys

import pytest
from typer.testing import CliRunner

from qtrain.cli import app

runner = CliRunner()


def test_help_is_one_clean_paragraph_and_flags_read_without_a_type():
    result = runner.invoke(app, ["--help"])
    assert result.exit_code == 0
    text = result.output
    assert "``" not in text and ":func:" not in text and "╭" not in text
    description = text.split("\n\n")[1]  # after the usage line: one paragraph
    assert description.strip().startswith("Train variational quantum circuits")
    assert "Commands:" in text and "..." not in text.split("Commands:")[1]  # no cut summaries
    for command in (["train", "--help"], ["resume", "--help"], ["plateau", "--help"]):
        page = runner.invoke(app, command).output
        assert "--json " in page and "<bool>" not in page


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["train", "--bogus"], "error: No such option: --bogus (qtrain train --help lists"),
        (["trian"], "error: No such command 'trian'. Did you mean 'train'?"),
        (["train"], "error: Missing argument 'config'."),
        (["quickstart", "--shots", "1"], "error: Invalid value for '--shots'"),
        (["store", "info"], "error: Missing argument 'path'."),
    ],
)
def test_a_usage_error_is_one_line_with_exit_2(args, expected):
    result = runner.invoke(app, args)
    assert result.exit_code == 2
    (line,) = result.output.strip().splitlines()
    assert line.startswith(expected)


def test_the_installed_command_says_a_usage_error_in_one_line():
    done = subprocess.run(
        [sys.executable, "-m", "qtrain", "plan", "--jsn", "x.yaml"],
        check=False,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 2 and done.stdout == ""
    assert done.stderr.strip() == (
        "error: No such option: --jsn (Possible options: --json) "
        "(qtrain plan --help lists the options)"
    )
