"""How ``qtrain`` reads its command line: plain help, flags without types, one-line errors.

Help is click's plain layout (``rich_markup_mode=None``): flags read ``--json``, never
``--json <bool>`` (typer's rich panels give every option a type, flags included), and the
page has no boxes to cut at 80 columns. A usage error — an unknown option or command, a
missing argument, a bad value — is one line, as the README promises for every failure::

    error: No such option: --bogus (qtrain train --help lists the options)

with click's exit status 2 (``error:`` lines of ``QtrainError`` come from
:func:`qtrain.cli.views.friendly_errors`).
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from typing import Any, NoReturn

import typer
from rich.console import Console
from rich.markup import escape
from typer.core import TyperGroup

__all__ = ["EPILOG", "HELP", "OneLineErrors"]

HELP = (
    "Train variational quantum circuits with exact parameter-shift gradients, shot budgets "
    "and error bars. Start with 'qtrain quickstart' (the built-in H2 VQE); 'qtrain train "
    "CONFIG.yaml' runs a config (see examples/), 'qtrain resume RUN_DIR' continues a run, "
    "'qtrain plan CONFIG.yaml' prices one without running it and 'qtrain plateau' scans for "
    "barren plateaus."
)
"""The description ``qtrain --help`` shows (the module docstring is for developers)."""

EPILOG = (
    "Exit status: 0 done; 2 bad input; 65 a damaged run file; 66 a file that may not be read; "
    "73 a folder that may not be written; 74 a full disk; 130 interrupted (Ctrl-C, SIGTERM)."
)


def _click_error(name: str) -> type[Exception]:
    """Click's exception class ``name`` from wherever typer takes click (vendored or not)."""
    for kind in typer.BadParameter.__mro__:
        if kind.__name__ == name and issubclass(kind, Exception):
            return kind
    raise LookupError(name)  # pragma: no cover - typer's BadParameter is a click UsageError


_USAGE_ERROR = _click_error("UsageError")
_CLICK_ERROR = _click_error("ClickException")


def _fail(message: str, status: int) -> NoReturn:
    Console(stderr=True).print(
        f"[bold red]error:[/] {escape(message)}", highlight=False, soft_wrap=True
    )
    sys.exit(status)


def _usage_line(error: Exception) -> str:
    """``No such option: --bogus (qtrain train --help lists the options)``."""
    message = " ".join(str(getattr(error, "format_message", error.__str__)()).split())
    context = getattr(error, "ctx", None)
    if context is None:
        return message
    what = "the commands" if isinstance(context.command, TyperGroup) else "the options"
    program = context.find_root().info_name or ""
    path = "qtrain" + context.command_path[len(program) :]  # also for python -m qtrain
    return f"{message} ({path} --help lists {what})"


class OneLineErrors(TyperGroup):
    """The ``qtrain`` group: usage errors are one ``error:`` line with exit status 2."""

    def main(  # noqa: D102 - see the class
        self,
        args: Sequence[str] | None = None,
        prog_name: str | None = None,
        complete_var: str | None = None,
        standalone_mode: bool = True,
        windows_expand_args: bool = True,
        **extra: Any,
    ) -> Any:
        if not standalone_mode:  # the caller handles click's exceptions itself
            return super().main(args, prog_name, complete_var, False, windows_expand_args, **extra)
        try:
            status = super().main(
                args, prog_name, complete_var, False, windows_expand_args, **extra
            )
        except _USAGE_ERROR as error:
            if type(error).__name__ == "NoArgsIsHelpError":  # bare ``qtrain``: the help
                typer.echo(getattr(error, "format_message", error.__str__)())
                sys.exit(2)
            _fail(_usage_line(error), int(getattr(error, "exit_code", 2)))
        except _CLICK_ERROR as error:
            _fail(str(error), int(getattr(error, "exit_code", 1)))
        except typer.Abort:
            _fail("aborted", 1)
        # Without standalone mode click returns the command's value, or the status of an Exit.
        sys.exit(status if isinstance(status, int) and not isinstance(status, bool) else 0)
