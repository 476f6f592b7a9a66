"""What ``mailer invite ...`` does, one function per command, called by the CLI with plain values.

:func:`run_round` is a whole round (invitation, reminder, update or cancellation): open the
journal, choose the round, render and check it, let the officer see and confirm it, journal it,
send it. What only the terminal can do (show the plan, ask, draw a progress bar) comes in as
callables; what happened goes back as a :class:`RoundResult` for the console.
"""

from __future__ import annotations

import datetime as dt
import enum
import shlex
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

from mailer.clock import Clock
from mailer.config import Config, password_for
from mailer.contacts import Project, open_store, project_for, recipients
from mailer.errors import ExitCode, MailerError
from mailer.invitations.followups import (
    choose_round,
    invitation_sequence,
    record_round,
    stale_translations,
)
from mailer.invitations.rounds import (
    Summary,
    commit,
    delivery_forecast,
    prepare,
    round_counts,
    send,
    suppressed,
)
from mailer.messages import (
    RoundSpec,
    build_plan,
    config_facts,
    disagreements,
    event_changes,
    invitation_spec,
    make_renderer,
    message_parts,
)
from mailer.models import Contact, Outgoing, StateCounts
from mailer.privatefile import write_atomic
from mailer.sending import DeliveryPlan, Progress, SendReport
from mailer.store import Recovery, Store


class RoundKind(enum.StrEnum):
    """The round an ``invite`` subcommand sends."""

    INVITATION = "invitation"
    REMINDER = "reminder"
    UPDATE = "update"
    CANCEL = "cancel"

    @property
    def noun(self) -> str:
        """The messages of this round, in the plural ("Send 7 reminders?")."""
        return _NOUNS[self]

    @property
    def one(self) -> str:
        """One message of this round ("Send 1 reminder?")."""
        return _NOUNS[self].removesuffix("s")

    @property
    def command(self) -> str:
        """The command that sends this round ("mailer invite remind")."""
        return _COMMANDS[self]


_NOUNS = {
    RoundKind.INVITATION: "invitations",
    RoundKind.REMINDER: "reminders",
    RoundKind.UPDATE: "updates",
    RoundKind.CANCEL: "cancellations",
}
_COMMANDS = {
    RoundKind.INVITATION: "mailer invite send",
    RoundKind.REMINDER: "mailer invite remind",
    RoundKind.UPDATE: "mailer invite update",
    RoundKind.CANCEL: "mailer invite cancel",
}


@dataclass(frozen=True)
class RoundPlan:
    """What a round is about to do, shown before the officer confirms (also for a dry run)."""

    kind: RoundKind
    summary: Summary
    recovery: Recovery  # rows of an earlier run that stopped: requeued or in doubt
    requeued: int  # failed / in-doubt messages requeued on request (--retry-failed, ...)
    delivery_plan: tuple[str, ...]  # SMTP only: when the messages leave, and the daily cap
    delivery: DeliveryPlan | None = None  # the same plan as numbers (SMTP only)
    changes: tuple[str, ...] = ()  # an update: what it tells changed (default language)
    warnings: tuple[str, ...] = ()  # an update: language tables that kept an old text

    @property
    def count(self) -> int:
        return self.summary.to_send


class RoundOutcome(enum.Enum):
    UNCHANGED = "unchanged"  # a follow-up that would change nothing (the event is as sent)
    DRY_RUN = "dry-run"  # rendered and checked; nothing journaled or sent
    NOTHING_LEFT = "nothing-left"  # every message was handled by earlier runs
    DECLINED = "declined"  # the officer said no
    SENT = "sent"


@dataclass(frozen=True)
class RoundResult:
    """What a round did. When it sent, the report's counts and the skipped ones add up to
    :attr:`planned`, the contacts of the round (those over ``--limit`` are left for the next
    run and counted apart); :attr:`journal` is the whole round as ``mailer status`` counts it."""

    kind: RoundKind
    outcome: RoundOutcome
    report: SendReport | None = None  # only when SENT
    already_done: int = 0  # handled by earlier runs or being sent by another one right now
    not_to_send: int = 0  # contacts that get no message (suppressed, never invited)
    over_limit: int = 0  # contacts left for a later run by --limit
    journal: StateCounts | None = None  # the round in the journal after the run
    delivery: DeliveryPlan | None = None  # what the plan promised (SMTP only)
    rerun: str = ""  # the command that goes on with the round ("mailer invite send --tag press")

    @property
    def planned(self) -> int:
        sent = self.report.total if self.report is not None else 0
        return sent + self.already_done + self.not_to_send

    @property
    def exit_code(self) -> ExitCode:
        if self.outcome is RoundOutcome.DECLINED:
            return ExitCode.ERROR
        if self.report is not None and self.report.sign_in_lapsed:
            return ExitCode.SIGN_IN
        if self.report is not None and not self.report.ok:
            return ExitCode.FAILED
        return ExitCode.OK


def run_round(
    config: Config,
    kind: RoundKind,
    *,
    clock: Clock,
    show: Callable[[RoundPlan], None],
    confirm: Callable[[RoundPlan], bool],
    progress: Progress | None = None,
    rendering: Callable[[int, int], None] | None = None,
    interactive: bool = False,
    tag: str | None = None,
    only: str | None = None,
    limit: int | None = None,
    dry_run: bool = False,
    retry_failed: bool = False,
    resend_in_doubt: bool = False,
) -> RoundResult:
    """Plan, show, confirm, journal, send and report one round.

    *show* gets the plan of every round that has one (dry runs and empty rounds too); *confirm*
    is asked only when there is something to send; *rendering* is told (rendered, to render)
    while the round is rendered; *interactive* lets the SMTP password be asked for on the
    terminal.
    """
    project = project_for(config)
    with open_store(config) as store:
        chosen = _choose(kind, project, store)
        if chosen is None:
            return RoundResult(kind, RoundOutcome.UNCHANGED)
        spec, contacts = chosen
        prepared = prepare(
            project,
            spec,
            store,
            contacts=contacts,
            now=clock.now(),
            tag=tag,
            only=only,
            limit=limit,
            retry_failed=retry_failed,
            resend_in_doubt=resend_in_doubt,
            suppressed=suppressed(store),
            progress=rendering,
        )
        count = len(prepared.plan.items)
        delivery, lines = delivery_forecast(config, count, clock.now(), store=store)
        plan = RoundPlan(
            kind=kind,
            summary=prepared.summary,
            recovery=prepared.recovery,
            requeued=prepared.requeued,
            delivery_plan=tuple(lines),
            delivery=delivery,
            **_update_notes(config, spec),
        )
        show(plan)
        if dry_run:
            return RoundResult(kind, RoundOutcome.DRY_RUN)
        if not count:
            return RoundResult(kind, RoundOutcome.NOTHING_LEFT)
        if not confirm(plan):
            return RoundResult(kind, RoundOutcome.DECLINED)
        password = password_for(config, interactive=interactive)
        reserved = commit(project, prepared, store, now=clock.now())
        record_round(config, store, spec)
        report = send(project, reserved, store, clock=clock, progress=progress, password=password)
        over = sum(1 for _, why in reserved.excluded if why.startswith("over --limit"))
        return RoundResult(
            kind,
            RoundOutcome.SENT,
            report,
            already_done=len(reserved.done) + len(reserved.busy),
            not_to_send=len(reserved.excluded) - over,
            over_limit=over,
            journal=round_counts(store, spec, project.book.contacts),
            delivery=delivery,
            rerun=_rerun(kind, tag=tag, only=only, limit=limit),
        )


def _rerun(kind: RoundKind, *, tag: str | None, only: str | None, limit: int | None) -> str:
    """The command of this round with its selection, to run again after a stop."""
    words = [kind.command]
    if tag:
        words.append(f"--tag {shlex.quote(tag)}")
    if only:
        words.append(f"--only {shlex.quote(only)}")
    if limit is not None:
        words.append(f"--limit {limit}")
    return " ".join(words)


def _update_notes(config: Config, spec: RoundSpec) -> dict[str, tuple[str, ...]]:
    """What an update tells changed, and the language tables that kept an old text."""
    previous = spec.previous_event
    if previous is None:
        return {}
    told = event_changes(previous, config.event, config.contacts.default_language)
    return {
        "changes": tuple(change.line for change in told),
        "warnings": stale_translations(previous, config.event),
    }


def _choose(
    kind: RoundKind, project: Project, store: Store
) -> tuple[RoundSpec, Sequence[Contact] | None] | None:
    """The round to send and its recipients (None: the contacts selected by tag and address)."""
    config = project.config
    if kind is RoundKind.INVITATION:
        spec = replace(invitation_spec(config), sequence=invitation_sequence(config, store))
        return spec, None
    return choose_round(kind.value, config, project.book, store)


@dataclass(frozen=True)
class Preview:
    """One invitation rendered exactly as it would be sent (nothing journaled)."""

    item: Outgoing
    written: Path | None  # the .eml file it was also written to
    text: str  # the text part
    html_file: Path | None  # where the HTML part was written (None: the message has none)
    disagreements: tuple[str, ...]  # facts one part names and the other does not


def preview_invitation(
    config: Config,
    *,
    to: str | None,
    now: dt.datetime,
    out: Path | None = None,
    html: Path | None = None,
) -> Preview:
    """Render the invitation of *to* (default: the first contact); with *out*, also write it
    there (mode 0600). The HTML part is written to *html* (default: ``preview-<language>.html``
    next to config.toml; mode 0600, it holds the contact's data) for a browser, and the text and
    HTML parts are compared on the facts of config.toml they name."""
    project = project_for(config)
    contacts = recipients(project, tag=None, only=to)[:1]
    renderer = make_renderer(config)
    spec = invitation_spec(config)
    plan = build_plan(config, contacts, spec, now=now, store=None, renderer=renderer)
    item = plan.items[0]
    if out is not None:
        _write(out, item.data)
    language = renderer.language_for(spec.template, item.contact.language)
    parts = message_parts(item.data)
    html_file = None
    if parts.html is not None:
        html_file = html or config.root / f"preview-{language}.html"
        _write(html_file, _with_charset(parts.html).encode("utf-8"))
    found = disagreements(parts, config_facts(config, language))
    return Preview(item, out, parts.text, html_file, found)


def _write(path: Path, data: bytes) -> None:
    try:
        write_atomic(path, data)
    except OSError as exc:
        raise MailerError(f"{path}: cannot write: {exc.strerror or exc}") from None


def _with_charset(source: str) -> str:
    """The HTML part as a file a browser reads as UTF-8 (the e-mail said so in its header)."""
    if "charset" in source[:1024].lower():
        return source
    return '<meta charset="utf-8">\n' + source
