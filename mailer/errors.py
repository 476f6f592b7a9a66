"""One error hierarchy and the documented exit codes.

Every error the core raises is a :class:`MailerError`. Its message is one line that starts with
where the problem is (``contacts.csv:14: ...``, ``config.toml: [smtp] port: ...``); the CLI prints
it and exits with :attr:`MailerError.exit_code`, never with a traceback.
"""

from __future__ import annotations

import datetime as dt
import enum


class ExitCode(enum.IntEnum):
    """Exit codes of every ``mailer`` command (listed in the README)."""

    OK = 0
    ERROR = 1  # bad input, configuration, template, journal or server problem
    USAGE = 2  # wrong command-line usage (Typer/Click use 2 as well)
    FAILED = 3  # the command ran, but some messages failed or are in doubt
    SIGN_IN = 4  # the OAuth 2.0 sign-in has lapsed or was refused: run 'mailer login'
    CLOCK = 5  # the release was not sent: a second source contradicts the clock (or, with
    # [release] require_clock_check, nothing could verify it); set the clock right
    INTERRUPTED = 130  # Ctrl-C; the journal is consistent, rerun to resume


class MailerError(Exception):
    """Base of every expected error: one line, no traceback."""

    exit_code: ExitCode = ExitCode.ERROR

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        return self.message

    @property
    def next_step(self) -> str | None:
        """The hint to print on a line of its own after the error (None: no hint, or the hint is
        already part of the message)."""
        return self.hint


class ConfigError(MailerError):
    """config.toml is missing, not TOML, or holds a wrong, unknown or missing key."""


class ContactsError(MailerError):
    """contacts.csv cannot be read or has errors."""


class TemplateError(MailerError):
    """A template is missing, has a syntax error, or fails to render.

    It says where (*file*, relative to the project, and *line*, 0 when unknown), what is wrong
    (*problem*) and, when there is one, what to do in the officer's terms (*hint*), all in one
    line: ``templates/invitation/fi/body.txt:3: undefined variable vars.speaker — add speaker =
    ... under [vars] in config.toml``.
    """

    def __init__(
        self,
        message: str,
        *,
        hint: str | None = None,
        file: str = "",
        line: int = 0,
        problem: str = "",
    ) -> None:
        full = f"{message} — {hint}" if hint else message
        super().__init__(full, hint=hint)
        self.file = file
        self.line = line
        self.problem = problem or message

    @classmethod
    def at(cls, file: str, line: int, problem: str, hint: str | None = None) -> TemplateError:
        """The error of *file* at *line* (0: the file as a whole)."""
        where = f"{file}:{line}" if line else file
        return cls(f"{where}: {problem}", hint=hint, file=file, line=line, problem=problem)

    def with_hint(self, hint: str | None) -> TemplateError:
        """The same problem with another hint."""
        where = f"{self.file}:{self.line}" if self.line else self.file
        base = f"{where}: {self.problem}" if self.file else self.problem
        return TemplateError(base, hint=hint, file=self.file, line=self.line, problem=self.problem)

    @property
    def next_step(self) -> None:
        return None  # the hint is part of the one line


class AttachmentError(MailerError):
    """An attachment is missing, unreadable or too large."""


class StoreError(MailerError):
    """The journal cannot be opened, is corrupt, locked, or from a newer version."""


class TransportError(MailerError):
    """The mail server cannot be reached or refuses the account (the run stops cleanly)."""


class SignInRequired(TransportError):
    """The OAuth 2.0 sign-in cannot give an access token (expired or revoked refresh token,
    missing consent, wrong tenant, never signed in): nothing is sent, everything stays queued."""

    exit_code = ExitCode.SIGN_IN


class ScheduleError(MailerError):
    """An embargo time is invalid (in the past, non-existent or ambiguous local time)."""


class ReleaseCancelled(ScheduleError):
    """The schedule was cancelled while a run was about to send (nothing more is sent)."""


class EmbargoGuardError(ScheduleError):
    """The embargo guard refused a transmission: the clock reads a time before the embargo.

    After the run had seen the embargo pass this is a step of the clock backwards (an NTP
    correction); *went_back* is then how far, in seconds (measured against the monotonic
    clock), else None. The run stops cleanly: nothing more is sent until the clock is past the
    embargo again, and nothing is sent twice.
    """

    exit_code = ExitCode.FAILED

    def __init__(
        self, message: str, *, now: dt.datetime, went_back: float | None, hint: str | None = None
    ) -> None:
        super().__init__(message, hint=hint)
        self.now = now
        self.went_back = went_back


class InboxError(MailerError):
    """A mailbox or reply file cannot be read."""


class UsageError(MailerError):
    """The command was used in a way that cannot work (for example no terminal and no --yes)."""

    exit_code = ExitCode.USAGE
