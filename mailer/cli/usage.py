"""How ``--help`` and usage errors look: plain words, no type jargon, one ``error:`` line.

Typer's own help shows a value's Python type (``<int range> [x>=1]``, ``<list[Path]>``,
``{email}``) and a usage error in Click's style (``Usage: ...``, ``Try ...``, ``Error: Invalid
value for '--status': Value error, ...``). Every command and group of ``mailer`` uses the
classes here instead (``cls=Command`` / ``cls=Group``): arguments and options are shown by their
metavar (``EMAIL``, ``N``, ``yes|no|maybe``), and a wrong option or value is one ``error:`` line
naming the option, with a ``hint:`` line, and exit code 2, like every other error of ``mailer``.
"""

from __future__ import annotations

import re
import sys
from collections.abc import Callable, Sequence
from typing import Any

import typer
from typer.core import TyperArgument, TyperCommand, TyperGroup

USAGE_EXIT = 2

# Click's exception classes, from the Click that Typer uses (its own copy in newer Typer, Click
# itself in older ones): BadParameter is the one Typer exports, the others are its bases.
_USAGE_ERROR: type[Exception] = typer.BadParameter.__mro__[1]
_CLICK_ERROR: type[Exception] = _USAGE_ERROR.__mro__[1]


def _is(exc: BaseException, name: str) -> bool:
    """Whether *exc* is Click's exception class *name* (``MissingParameter``, ...)."""
    return any(cls.__name__ == name for cls in type(exc).__mro__)


def _argument_name(param: Any) -> str:
    name = str(param.metavar or (param.name or "").upper())
    return f"{name}..." if param.nargs != 1 else name


def help_record(param: Any, ctx: Any) -> tuple[str, str] | None:
    """A parameter's line in ``--help`` (and docs/cli.md): an argument by its metavar alone,
    without the ``<str>`` Typer adds; an option as Typer has it (its metavar set)."""
    record: tuple[str, str] | None = param.get_help_record(ctx)
    if record is not None and isinstance(param, TyperArgument):
        return _argument_name(param), record[1]
    return record


def _usage_pieces(command: Any, ctx: Any) -> list[str]:
    pieces = [command.options_metavar] if command.options_metavar else []
    for param in command.get_params(ctx):
        if isinstance(param, TyperArgument):
            name = _argument_name(param)
            pieces.append(name if param.required else f"[{name}]")
        else:
            pieces.extend(param.get_usage_pieces(ctx))
    return pieces


def _format_parameters(command: Any, ctx: Any, formatter: Any) -> None:
    arguments: list[tuple[str, str]] = []
    options: list[tuple[str, str]] = []
    for param in command.get_params(ctx):
        record = help_record(param, ctx)
        if record is None:
            continue
        (arguments if isinstance(param, TyperArgument) else options).append(record)
    if arguments:
        with formatter.section("Arguments"):
            formatter.write_dl(arguments)
    if options:
        with formatter.section("Options"):
            formatter.write_dl(options)


class Command(TyperCommand):
    """A ``mailer`` command: help without type jargon."""

    def collect_usage_pieces(self, ctx: Any) -> list[str]:
        return _usage_pieces(self, ctx)

    def format_options(self, ctx: Any, formatter: Any) -> None:
        _format_parameters(self, ctx, formatter)


class Group(TyperGroup):
    """A ``mailer`` command group; the top one also turns usage errors into one line."""

    def main(  # type: ignore[override]
        self,
        args: Sequence[str] | None = None,
        prog_name: str | None = None,
        complete_var: str | None = None,
        standalone_mode: bool = True,
        **extra: Any,
    ) -> Any:
        try:
            code = super().main(
                args=args,
                prog_name=prog_name,
                complete_var=complete_var,
                standalone_mode=False,
                **extra,
            )
        except _USAGE_ERROR as exc:
            if not standalone_mode:
                raise
            if _is(exc, "NoArgsIsHelpError"):  # "mailer invite": the help, as Click shows it
                getattr(exc, "show")()  # noqa: B009 - the class is Click's, found at run time
                sys.exit(USAGE_EXIT)
            usage_error(exc)
            sys.exit(USAGE_EXIT)
        except _CLICK_ERROR as exc:
            if not standalone_mode:
                raise
            getattr(exc, "show")()  # noqa: B009
            sys.exit(int(getattr(exc, "exit_code", 1)))
        except typer.Abort:
            if not standalone_mode:
                raise
            typer.echo("Aborted!", err=True)
            sys.exit(1)
        if not standalone_mode:
            return code
        sys.exit(code if isinstance(code, int) else 0)


# --- usage errors as one line ------------------------------------------------------------------

_RULES: tuple[tuple[re.Pattern[str], str], ...] = (
    (re.compile(r"^Value error, "), ""),
    (re.compile(r"^Input should be greater than or equal to (\S+)$"), r"must be \1 or more"),
    (re.compile(r"^Input should be less than or equal to (\S+)$"), r"must be \1 or less"),
    (re.compile(r"^Input should be a valid integer.*$"), "must be a whole number"),
    (re.compile(r"^Input should be a valid number.*$"), "must be a number"),
    (re.compile(r"\. Did you mean "), "; did you mean "),
)


def _plain(message: str) -> str:
    """Typer's validation texts in the officer's words, without a final full stop."""
    text = message.strip()
    for pattern, replacement in _RULES:
        text = pattern.sub(replacement, text)
    text = text.rstrip(".")
    return text[:1].lower() + text[1:]


def _where(exc: Any) -> str:
    """The option (``--status``) or argument (``EMAIL``) a usage error is about."""
    param = getattr(exc, "param", None)
    if param is None:
        return ""
    if isinstance(param, TyperArgument):
        return _argument_name(param)
    opts = sorted(param.opts, key=len)
    return opts[-1] if opts else str(param.name)


def usage_line(exc: Any) -> str:
    """``--status: 'kyllä' is not one of 'yes', 'no', 'maybe', 'none'`` and the like."""
    if _is(exc, "MissingParameter"):
        where = _where(exc)
        param = getattr(exc, "param", None)
        if where and param is not None and not isinstance(param, TyperArgument) and param.metavar:
            where += f" {param.metavar}"  # the values it takes: "--status yes|no|maybe"
        return f"missing {where}" if where else _plain(exc.format_message())
    if isinstance(exc, typer.BadParameter):
        where = _where(exc)
        return f"{where}: {_plain(exc.message)}" if where else _plain(exc.format_message())
    return _plain(exc.format_message())


def usage_error(exc: Any) -> None:
    """Print a usage error as ``error:`` and ``hint:`` lines, like every error of mailer."""
    # lazy: keeps --help fast (the console brings rich)
    from mailer import console
    from mailer.errors import UsageError

    ctx = getattr(exc, "ctx", None)
    path = ctx.command_path if ctx is not None else "mailer"
    console.error(UsageError(usage_line(exc), hint=f"see '{path} --help'"))


# --- checks that Typer would show as jargon ----------------------------------------------------


def at_least(minimum: int) -> Callable[[int | None], int | None]:
    """An option callback refusing numbers below *minimum* (Typer's ``min=`` shows ``[x>=1]``
    in the help)."""

    def check(value: int | None) -> int | None:
        if value is not None and value < minimum:
            raise typer.BadParameter(f"must be {minimum} or more")
        return value

    return check
