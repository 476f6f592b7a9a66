"""Terminal output of ``mailer release ...``."""

from __future__ import annotations

import datetime as dt
import threading
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

from rich import box
from rich.live import Live
from rich.table import Table
from rich.text import Text

from mailer.clock import Clock
from mailer.console.output import email_column, err, info, out, print_json, show_table, warning
from mailer.console.sending import notice_text, send_report
from mailer.models import Schedule, State
from mailer.release import (
    check_summary,
    describe,
    in_words,
    overdue_summary,
    relative,
    relay_summary,
)
from mailer.sending import Delivery, Notice
from mailer.wording import plural

if TYPE_CHECKING:
    from mailer.release import Cancelled, CronSetup, Proposal, ReleaseStatus, RunResult
    from mailer.sending import SendReport


def proposal(p: Proposal) -> None:
    zone = p.embargo.zone
    info(f"Embargo:      {describe(p.embargo.moment, zone)}")
    langs = ", ".join(f"{k} {v}" for k, v in p.by_language.items()) or "none"
    who = f"contacts with tag {p.tag!r}" if p.tag else "every contact"
    if p.mode == "bcc":
        info(
            f"Release:      {plural(p.recipients, 'recipient')} ({who}) in "
            f"{plural(p.messages, 'Bcc message')} to "
            f"the organizer, at most {p.batch_size} each (languages: {langs})"
        )
    else:
        info(
            f"Release:      {plural(p.recipients, 'personal message')} ({who}; languages: {langs})"
        )
    if p.subject:
        info(f"Subject:      {p.subject}")
    info(f"Checked:      {plural(p.checked, 'message')} rendered and checked now")
    info(f"Transport:    {p.transport}")
    info(f"Delivery:     {p.plan}")
    for option in p.shorten:
        info(f"  shorter:    {option}")
    info(
        f"Late runs:    sent if at most {p.grace_minutes} min late ([release] grace_minutes); "
        "later only with send-now --late-ok"
    )
    if p.already_sent:
        info(f"Already sent: {p.already_sent} (not sent again)")
    if p.prebriefed:
        info(
            f"Pre-briefed:  {len(p.prebriefed)} already got the embargoed pre-brief "
            "(not sent the release again)"
        )
    if p.prebrief_due:
        info(
            f"Pre-brief:    {plural(len(p.prebrief_due), 'trusted contact')} can get it now, "
            f"marked embargoed: {', '.join(p.prebrief_due)}"
        )
    for email, reason in p.excluded:
        info(f"Not sent:     {email}: {reason}")
    for text in p.warnings:
        warning(text)


def schedule_question(p: Proposal) -> str:
    return f"Schedule the release for {describe(p.embargo.moment, p.embargo.zone)}?"


def scheduled(schedule: Schedule) -> None:
    when = describe(schedule.embargo, schedule_zone(schedule))
    info(f"Scheduled: the release goes out at {when}.")
    info("Next: 'mailer release cron' prints the crontab line that sends it on the second;")
    info("      or keep 'mailer release wait' running in a terminal until then.")


def schedule_zone(schedule: Schedule) -> ZoneInfo:
    return ZoneInfo(schedule.zone)


def prebrief(count: int, report: SendReport | None, *, dry_run: bool) -> None:
    if report is None:
        if dry_run:
            info(f"Pre-brief: {plural(count, 'message')} rendered and checked; nothing was sent.")
        else:
            info("Pre-brief: nobody is waiting for it (everyone tagged has it already).")
        return
    send_report(report)
    info(f"Pre-brief: sent {report.sent} of {count}, marked embargoed in subject and first line.")


def run_line(result: RunResult) -> None:
    """The one line for cron mail and the cron log: stdout when fine, stderr when not (a
    failure reported in the same words by the previous run: stdout, so cron mails it once)."""
    if result.ok or result.repeated:
        out.print(result.line, markup=False, soft_wrap=True)
    else:
        err.print(result.line, markup=False, soft_wrap=True)
    check = result.clock
    if check is not None and not check.refused and check.verdict != "trusted":
        # Sent on a clock nothing could confirm (or against the check, --trust-clock): cron
        # mails stderr, so the officer hears of it.
        warning(check.line)


def run_result(result: RunResult) -> None:
    if result.report is not None:
        send_report(result.report)
    run_line(result)


def cancelled(c: Cancelled) -> None:
    info(f"Cancelled the release of {describe(c.schedule.embargo, schedule_zone(c.schedule))}.")
    if c.sent:
        had = "1 message had" if c.sent == 1 else f"{c.sent} messages had"
        warning(f"{had} been sent already; nothing more will be sent")
    if c.running:
        warning(f"a release run is in progress ({c.running}); it stops before its next message")


def cron(setup: CronSetup, *, systemd: bool) -> None:
    if systemd:
        info(f"# ~/.config/systemd/user/mailer-release.service\n{setup.service}")
        info(f"# ~/.config/systemd/user/mailer-release.timer\n{setup.timer}")
        info(
            "Install: systemctl --user daemon-reload && "
            "systemctl --user enable --now mailer-release.timer"
        )
        info("(and 'loginctl enable-linger $USER' so that it runs while you are logged out)")
        info("Its output, with every failure: journalctl --user -u mailer-release.service")
        return
    for line in setup.lines:
        info(line)
    info("")
    info("Install: run 'crontab -e' and paste the lines above at the end of the file.")
    for note in setup.notes:
        info(f"Note: {note}")
    info("")
    info("To have cron mail you the failures too (every run is still logged), paste these instead:")
    for line in setup.mail_lines:
        info(line)
    for note in setup.mail_notes:
        info(f"Note: {note}")
    info("")
    info("A systemd timer instead: mailer release cron --systemd")


# --- status --------------------------------------------------------------------------------------


def _after(seconds: float | None) -> str:
    return "" if seconds is None else relative(seconds)


def status(s: ReleaseStatus) -> None:
    sch = s.schedule
    if sch is None:
        info("Release:   nothing scheduled (mailer release schedule)")
    else:
        info(f"Embargo:   {describe(sch.embargo, schedule_zone(sch))}")
        when = in_words(s.seconds_to_embargo or 0.0)
        info(
            f"State:     {sch.state.value}{f' ({sch.note})' if sch.note else ''}; "
            f"the embargo is {when}"
        )
        who = f"tag {sch.tag!r}" if sch.tag else "every contact"
        info(
            f"Mode:      {sch.mode} ({who}); grace {sch.grace_minutes} min; "
            f"{plural(sch.checked, 'message')} checked when scheduled"
        )
        zone = schedule_zone(sch)
        checked = check_summary(s.last_check, zone, now=s.now)
        if checked:
            info(f"Pre-flight: {checked}")
        if s.check_overdue:
            warning(overdue_summary(s.last_check, zone, now=s.now))
        if s.clock_check is not None:
            clock = s.clock_check
            at = f"{clock.at.astimezone(zone):%Y-%m-%d %H:%M:%S %Z}"
            text = f"Clock:     {at} ({clock.command}): {clock.line}"
            if clock.refused or clock.verdict != "trusted":
                warning(text.replace("Clock:     ", "clock check ", 1))
            else:
                info(text)
    counts = "  ".join(f"{k.replace('_', ' ')} {v}" for k, v in s.release.as_dict().items())
    info(f"Release:   {counts}")
    if s.prebrief.total:
        pre = "  ".join(f"{k.replace('_', ' ')} {v}" for k, v in s.prebrief.as_dict().items())
        info(f"Pre-brief: {pre}")
    by_relay = relay_summary(s)
    if by_relay:
        info(f"Relays:    {by_relay}")
    if s.clock_warning:
        warning(s.clock_warning)
    if s.first is not None and s.last is not None:
        doubt = " (by the clock of then: see the CLOCK warning)" if s.clock_warning else ""
        info(
            f"Delivered: first {relative(s.first)}, last {relative(s.last)} after the embargo"
            f"{doubt}"
        )
    if s.running:
        info(f"Running:   {s.running}")
    for change in s.inputs_changed:
        warning(
            f"{change}: run 'mailer release schedule' again to check the messages now rather "
            "than at the embargo"
        )
    if s.recipients:
        _recipients(s, schedule_zone(sch) if sch is not None else dt.UTC)
    if s.runs:
        info("Runs (UTC):")
        for r in s.runs:
            info(
                f"  {r.started_at.astimezone(dt.UTC):%Y-%m-%d %H:%M:%S}  {r.command:<9} "
                f"{r.decision:<10} {r.outcome}"
            )


def _recipients(s: ReleaseStatus, shown: dt.tzinfo) -> None:
    """Who got it when: fits 80 columns for the usual addresses (the day is left out when every
    message went out on one day, the round when there was no pre-brief, the note when empty)."""
    stamps = [p.at.astimezone(shown) for p in s.recipients if p.at is not None]
    one_day = len({t.date() for t in stamps}) <= 1
    rows = []
    for p in s.recipients:
        at = "" if p.at is None else f"{p.at.astimezone(shown):%Y-%m-%d %H:%M:%S.%f}"[:-3]
        earlier = p.state is State.SENT and p.at is not None and p.after_embargo is None
        note = p.detail if p.state is not State.SENT or earlier else ("Bcc" if p.batch else "")
        state = p.state.value.replace("_", " ")
        rows.append(
            (p.email, p.round, state, at[11:] if one_day else at, _after(p.after_embargo), note)
        )
    rounds = len({r[1] for r in rows}) > 1
    notes = any(r[5] for r in rows)
    day = f" ({stamps[0]:%Y-%m-%d})" if one_day and stamps else ""
    table = Table(title=f"Recipients{day}", title_justify="left", box=box.SIMPLE_HEAD)
    email_column(table, "recipient")
    columns = [("round", rounds), ("state", True), ("sent at", True), ("after", True)]
    for name, wanted in columns:
        if wanted:
            table.add_column(name, no_wrap=True)
    if notes:
        table.add_column("note", overflow="fold", min_width=12)
    for email, round_, state, at, after, note in rows:
        cells = [email, *([round_] if rounds else []), state, at, after, *([note] if notes else [])]
        table.add_row(*cells)
    show_table(table)


def status_json(s: ReleaseStatus) -> None:
    from mailer.release import status_json as as_json

    print_json(as_json(s))


# --- waiting and sending -----------------------------------------------------------------------


class ReleaseProgress:
    """A countdown to the embargo, then the messages sent (on a terminal only).

    Used as the ``Progress`` of the send and as the ``on_wait`` callback of ``wait``; the text
    is computed from the clock every time rich refreshes it, so it counts down on its own.
    """

    def __init__(self, clock: Clock) -> None:
        self._clock = clock
        self._embargo: dt.datetime | None = None
        self._label = ""
        self._total: int | None = None
        self._done = 0
        self._lock = threading.Lock()
        self._live: Live | None = None
        self._announced = False
        self._notice: Notice | None = None
        self._zone: ZoneInfo | None = None
        self._check = "ok"  # the last pre-flight of the countdown

    def __rich__(self) -> Text:
        with self._lock:
            if self._embargo is None:
                return Text("")
            left = (self._embargo - self._clock.now()).total_seconds()
            if left > 0:
                shown = f"{left:.1f} s" if left < 60 else relative(left)[1:]
                text = f"Waiting for the embargo {self._label}: {shown} (Ctrl-C stops safely)"
                if self._check != "ok":
                    text += f"\n  pre-flight {self._check}"
                return Text(text)
            total = "?" if self._total is None else str(self._total)
            text = f"Sending: {self._done}/{total} messages"
            if self._notice is not None:
                text += f"\n  {notice_text(self._notice, self._clock.now())}"
            return Text(text)

    def _start(self, schedule: Schedule) -> None:
        if self._embargo is None:
            self._embargo = schedule.embargo
            self._zone = schedule_zone(schedule)
            local = schedule.local_embargo
            self._label = f"{local:%H:%M:%S} {local.tzname()}"
        if not out.is_terminal:
            if not self._announced:
                when = describe(schedule.embargo, schedule_zone(schedule))
                info(f"Waiting for the embargo {when}")
                self._announced = True
            return
        if self._live is None:
            self._live = Live(self, console=out, refresh_per_second=10, transient=True)
            self._live.start()

    def waiting(self, schedule: Schedule, seconds_left: float) -> None:
        """The ``on_wait`` callback of ``wait`` (also called once when it arms)."""
        self._start(schedule)

    def checked(self, text: str) -> None:
        """The ``on_check`` callback of ``wait``: the pre-flight's result each minute. Under the
        countdown on a terminal; without one, a warning line whenever it changes."""
        with self._lock:
            before, self._check = self._check, text
        if text != before and not out.is_terminal:
            (info if text == "ok" else warning)(f"pre-flight {text}")

    def started(self, total: int) -> None:
        with self._lock:
            self._total = total

    def advance(self, delivery: Delivery) -> None:
        with self._lock:
            self._done += 1
            if self._notice is not None and not self._notice.attempt:
                self._notice = None

    def notice(self, notice: Notice) -> None:
        """A retry or reconnect: under the count on a terminal, a timestamped line without."""
        with self._lock:
            self._notice = notice
        if not out.is_terminal:
            zone = self._zone or dt.UTC
            stamp = self._clock.now().astimezone(zone).isoformat(timespec="seconds")
            total = "?" if self._total is None else str(self._total)
            err.print(
                f"{stamp} Sending: {self._done}/{total}; {notice_text(notice, notice.at)}",
                markup=False,
                soft_wrap=True,
            )

    def stop(self) -> None:
        if self._live is not None:
            self._live.stop()
            self._live = None
