"""Sending as the officer sees it: the progress bar (or log lines without a terminal), the
result table, the summary of a round, the preview of one message.
"""

from __future__ import annotations

import collections
import datetime as dt
import math
import sys
from collections.abc import Callable, Iterable
from typing import Any

from rich.console import RenderableType
from rich.padding import Padding
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    ProgressColumn,
    Task,
    TextColumn,
)
from rich.table import Table
from rich.text import Text

import mailer.console.output as output  # output.out, output.err: looked up when used
from mailer.clock import Clock, SystemClock
from mailer.console.output import email_column, info, show_table
from mailer.invitations import Summary
from mailer.models import Outgoing, State
from mailer.sending import Delivery, Notice, SendReport
from mailer.wording import plural


def send_summary(summary: Summary) -> None:
    langs = ", ".join(f"{k} {v}" for k, v in summary.by_language.items())
    info(f"Round:        {summary.campaign}")
    if summary.to_send:
        info(f"To send now:  {summary.to_send} (one message per contact; languages: {langs})")
    else:
        info("To send now:  0")
    if summary.first_subject:
        info(f"Subject:      {summary.first_subject}")
    info(f"Transport:    {summary.transport}")
    if summary.already_done:
        info(f"Skipped:      {summary.already_done} already handled by an earlier run")
    if summary.busy:
        info(f"Busy:         {summary.busy} being sent by another mailer process right now")
    for email, reason in summary.excluded:
        info(f"Not sent:     {email}: {reason}")


def duration(seconds: float) -> str:
    """``8.9 s``, ``1 min 40 s``, ``2 h 05 min``."""
    if seconds < 60:
        return f"{seconds:.1f} s" if seconds < 10 else f"{seconds:.0f} s"
    minutes, secs = divmod(round(seconds), 60)
    if minutes < 60:
        return f"{minutes} min {secs:02d} s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes:02d} min"


def notice_text(notice: Notice, now: dt.datetime) -> str:
    """``server unreachable: ..., attempt 3 of 5 in 37 s`` (counting down with *now*)."""
    if not notice.attempt:
        return notice.text
    left = notice.wait_seconds - (now - notice.at).total_seconds()
    when = "now" if left <= 0 else f"in {left:.1f} s" if left < 1 else f"in {math.ceil(left)} s"
    return f"{notice.text}, attempt {notice.attempt} of {notice.attempts} {when}"


class _Bar(Progress):
    """A rich progress bar with a line under it saying what the run is doing (a retry...)."""

    def __init__(self, status: Callable[[], str], *columns: Any, **kwargs: Any) -> None:
        self._status = status  # before rich's __init__, which renders once
        super().__init__(*columns, **kwargs)

    def get_renderables(self) -> Iterable[RenderableType]:
        yield from super().get_renderables()
        text = self._status()
        if text:
            yield Padding(Text(text, overflow="fold"), (0, 0, 0, 2))


class _Eta(ProgressColumn):
    def __init__(self, owner: SendProgress) -> None:
        super().__init__()
        self._owner = owner

    def render(self, task: Task) -> Text:
        seconds = self._owner.seconds_left()
        return Text("" if seconds is None else f"{duration(seconds)} left")


class SendProgress:
    """The progress of a send (the sending layer's ``Progress``).

    On a terminal: a bar with the count and the time left, and under it what the run is doing
    when no message moves ("server unreachable: ..., attempt 3 of 5 in 37 s", counting down).
    Without a terminal (cron, a log file): a line on stderr with an ISO 8601 timestamp and zone
    for each such notice, and at least every :data:`HEARTBEAT_SECONDS` while messages go out.
    The time left comes from the pace of the last messages, or the plan's until there are some.
    """

    HEARTBEAT_SECONDS = 60.0
    PACE_WINDOW = 50  # the pace is measured over this many latest messages

    def __init__(
        self,
        label: str,
        *,
        clock: Clock | None = None,
        zone: dt.tzinfo = dt.UTC,
        per_second: float | None = None,
    ) -> None:
        self._label = label
        self._clock: Clock = clock or SystemClock()
        self._zone = zone
        self._planned_pace = per_second
        self._total = 0
        self._done = 0
        self._times: collections.deque[float] = collections.deque(maxlen=self.PACE_WINDOW)
        self._notice: Notice | None = None
        self._last_line = 0.0
        self._terminal = output.out.is_terminal
        self._bar = _Bar(
            self.status_text,
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            _Eta(self),
            console=output.out,
            transient=True,
            disable=not self._terminal,
        )
        self._task: Any = None

    def plan(self, per_second: float | None) -> None:
        """The pace the plan expects, for the time left until messages have been measured."""
        self._planned_pace = per_second

    def started(self, total: int) -> None:
        self._total = total
        self._last_line = self._clock.monotonic()
        self._bar.start()
        self._task = self._bar.add_task(self._label, total=total)

    def advance(self, delivery: Delivery) -> None:
        self._done += 1
        self._times.append(self._clock.monotonic())
        if self._notice is not None and not self._notice.attempt:
            self._notice = None  # "reconnecting", "connected again": moving again
        elif self._notice is not None and self._wait_left() <= 0:
            self._notice = None
        if self._task is not None:
            self._bar.advance(self._task)
        if (
            not self._terminal
            and self._clock.monotonic() - self._last_line >= self.HEARTBEAT_SECONDS
        ):
            self._log("")

    def notice(self, notice: Notice) -> None:
        self._notice = notice
        if not self._terminal:
            self._log(notice_text(notice, notice.at))

    def stop(self) -> None:
        self._bar.stop()

    # --- what the bar shows ------------------------------------------------------------------

    def _wait_left(self) -> float:
        notice = self._notice
        if notice is None or not notice.attempt:
            return 0.0
        return max(0.0, notice.wait_seconds - (self._clock.now() - notice.at).total_seconds())

    def status_text(self) -> str:
        notice = self._notice
        return "" if notice is None else notice_text(notice, self._clock.now())

    def seconds_left(self) -> float | None:
        """The time left: the messages to go at the measured pace, plus a retry's wait."""
        left = self._total - self._done
        if left <= 0:
            return 0.0
        times = self._times
        pace = None
        if len(times) >= 2 and times[-1] > times[0]:
            pace = (len(times) - 1) / (times[-1] - times[0])
        pace = pace or self._planned_pace
        if not pace:
            return None
        return left / pace + self._wait_left()

    def eta_text(self) -> str:
        seconds = self.seconds_left()
        if seconds is None:
            return ""
        finish = (self._clock.now() + dt.timedelta(seconds=seconds)).astimezone(self._zone)
        return f"about {duration(seconds)} left, until {finish:%H:%M:%S %Z}"

    def _log(self, text: str) -> None:
        self._last_line = self._clock.monotonic()
        stamp = self._clock.now().astimezone(self._zone).isoformat(timespec="seconds")
        parts = [f"{self._done}/{self._total}"]
        eta = self.eta_text()
        if eta:
            parts.append(eta)
        if text:
            parts.append(text)
        output.err.print(f"{stamp} {self._label}: {'; '.join(parts)}", markup=False, soft_wrap=True)


def stop_line(report: SendReport, rerun: str = "") -> str:
    """``stopped: <why>: 94 messages left queued; free space and run '<rerun>' again``."""
    text = f"stopped: {report.stopped}"
    left = report.left_queued
    if not left:
        return text
    text += f": {plural(left, 'message')} left queued"
    if report.sign_in_lapsed:  # the stop's reason already says "sign in again: mailer login"
        return text + (f"; then run '{rerun}' again" if rerun else "")
    if rerun:
        todo = f"{report.remedy} and run" if report.remedy else "run"
        text += f"; {todo} '{rerun}' again"
    elif report.remedy:
        text += f"; {report.remedy}, then run the same command again"
    return text


def send_report(
    report: SendReport, *, already_done: int = 0, not_to_send: int = 0, rerun: str = ""
) -> None:
    """The result of a send: why it stopped (first), then the table, whose counts add up to the
    messages planned: this run's outcomes, what is still queued (tried, or never reached after
    a stop), and what was skipped."""
    if report.stopped:
        output.err.print(stop_line(report, rerun), markup=False)
    table = Table(title="Result", title_justify="left")
    table.add_column("outcome")
    table.add_column("messages", justify="right")
    rows = [
        ("sent", report.sent),
        ("failed", report.failed),
        ("in doubt", report.in_doubt),
        ("left queued", report.left_queued),
        ("skipped (done earlier or by another run)", already_done + report.not_claimed),
    ]
    if not_to_send:
        rows.append(("skipped (opted out, bounced or not invited)", not_to_send))
    for name, count in rows:
        table.add_row(name, str(count))
    table.add_section()
    table.add_row("planned", str(report.total + already_done + not_to_send))
    show_table(table)
    bad = [d for d in report.deliveries if d.state is not State.SENT]
    if bad:
        detail = Table(title="Needs attention", title_justify="left")
        email_column(detail, "recipient")
        detail.add_column("state", no_wrap=True)
        detail.add_column("reason", overflow="fold")
        for d in bad:
            state = "left queued" if d.state is State.PENDING else d.state.value.replace("_", " ")
            detail.add_row(d.email, state, d.detail)
        show_table(detail)
    if report.not_reached:
        info(
            f"Not reached: {plural(report.not_reached, 'message')} not tried before the run "
            "stopped; still queued."
        )
    if report.in_doubt:
        info(
            "In doubt: the connection was lost after the message data was sent, so it may have "
            "arrived. Check with the recipient, then rerun with --resend-in-doubt to send again."
        )
    if report.failed:
        info(
            "Failed messages are not retried automatically; fix the cause, then use --retry-failed."
        )
    if report.left_queued and not report.stopped and rerun:
        info(
            f"Queued: {plural(report.left_queued, 'message')} the server did not take for now; "
            f"run '{rerun}' again later to send them."
        )


def preview(item: Outgoing, *, raw: bool) -> None:
    if raw:
        sys.stdout.write(item.data.decode("utf-8", "replace"))
        return
    from email import message_from_bytes, policy

    msg = message_from_bytes(item.data, policy=policy.default)
    for name in ("From", "To", "Subject", "Date", "Message-ID"):
        info(f"{name}: {msg[name]}")
    parts = []
    text = ""
    for part in msg.walk():
        ctype = part.get_content_type()
        if part.is_multipart():
            continue
        fname = part.get_filename()
        parts.append(f"{ctype}" + (f" ({fname})" if fname else ""))
        if ctype == "text/plain" and not text:
            text = str(part.get_content())
    info(f"Parts: {', '.join(parts)}")
    if item.ics_uid:
        info(f"Calendar UID: {item.ics_uid} (SEQUENCE {item.sequence})")
    info("")
    info(text.rstrip())
