"""Terminal output of ``mailer invite ...``: the plan shown before a round, and its outcome."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

from mailer.clock import Clock, SystemClock
from mailer.console.output import err, info, out, warning
from mailer.console.sending import SendProgress, duration, preview, send_report, send_summary
from mailer.invitations import Preview, RoundOutcome, RoundPlan, RoundResult
from mailer.wording import plural


def round_plan(plan: RoundPlan, progress: SendProgress | None = None) -> None:
    """What the round is about to do (printed before the question, and for a dry run); the
    *progress* of the send learns the planned pace, for its time left before it can measure."""
    delivery = plan.delivery
    if progress is not None and delivery is not None and delivery.seconds > 0:
        progress.plan(delivery.messages / delivery.seconds)
    if plan.recovery.in_doubt or plan.recovery.requeued:
        warning(
            f"an earlier run stopped: {plural(plan.recovery.requeued, 'message')} requeued, "
            f"{plan.recovery.in_doubt} in doubt"
        )
    if plan.requeued:
        info(f"Requeued {plural(plan.requeued, 'message')} on request.")
    send_summary(plan.summary)
    for text in plan.changes:
        info(f"Changed:      {text}")
    for text in plan.warnings:
        warning(text)
    for text in plan.delivery_plan:
        info(text)


def send_question(plan: RoundPlan) -> str:
    return f"Send {plural(plan.count, plan.kind.one, plan.kind.noun)}?"


def round_result(result: RoundResult) -> None:
    noun = result.kind.noun
    if result.outcome is RoundOutcome.UNCHANGED:
        info(f"Nothing to send: the {noun} would not change anything.")
    elif result.outcome is RoundOutcome.DRY_RUN:
        info("Dry run: every message was rendered and checked; nothing was sent.")
    elif result.outcome is RoundOutcome.NOTHING_LEFT:
        info(f"Nothing to send: all {noun} were handled by earlier runs.")
    elif result.outcome is RoundOutcome.DECLINED:
        info("Cancelled; nothing was sent.")
    elif result.report is not None:
        report = result.report
        send_report(
            report,
            already_done=result.already_done,
            not_to_send=result.not_to_send,
            rerun=result.rerun,
        )
        if result.over_limit:
            info(
                f"Not in this run: {plural(result.over_limit, 'contact')} over --limit; "
                f"'{result.rerun}' again sends the next ones."
            )
        whole = result.journal
        if whole is not None and (result.already_done or report.not_claimed):
            shown = "  ".join(f"{k.replace('_', ' ')} {v}" for k, v in whole.as_dict().items())
            info(f"Whole round:  {shown} (as 'mailer status' counts it)")
        timing(result)


def timing(result: RoundResult) -> None:
    """Planned against actual: ``Time: planned about 16 min 40 s, took 1 min 40 s (...)``."""
    report, plan = result.report, result.delivery
    if report is None or plan is None or not report.total:
        return
    zone = plan.expected_finish.tzinfo
    began = report.started.astimezone(zone)
    ended = report.finished.astimezone(zone)
    about = "" if plan.basis == "limit" else "about "
    info(
        f"Time:         planned {about}{duration(plan.seconds)}, took {duration(report.seconds)} "
        f"({began:%H:%M:%S} to {ended:%H:%M:%S %Z})"
    )


def previewed(result: Preview, *, raw: bool, open_html: bool = False) -> None:
    """The message (its text part, or with *raw* the whole MIME), where its HTML part was
    written, the facts the two parts disagree on; with *open_html*, the HTML in a browser."""
    preview(result.item, raw=raw)
    say = (lambda text: err.print(text, markup=False)) if raw else info  # raw: stdout is MIME
    say("")
    if result.html_file is None:
        say("No HTML part: the message is plain text (the template has no body.html).")
    else:
        then = "opening it in your browser" if open_html else "--open shows it in your browser"
        say(f"wrote {_shown(result.html_file)} (the HTML part, as Outlook shows it; {then})")
    if result.written is not None:
        say(f"wrote {result.written}")
    for line in result.disagreements:
        warning(line)
    if open_html and result.html_file is not None:
        import webbrowser  # lazy: only --open needs it

        if not webbrowser.open(result.html_file.resolve().as_uri()):
            warning(f"no web browser could be started; open {_shown(result.html_file)} yourself")


def _shown(path: Path) -> str:
    """A path as the officer finds it: relative to the current folder when it is inside it."""
    try:
        return str(path.resolve().relative_to(Path.cwd().resolve()))
    except (ValueError, OSError):
        return str(path)


class RenderProgress:
    """What a large round shows while it is rendered and checked, before its plan: on a
    terminal a bar with the count; without one (cron, a log) a line on stderr when it starts,
    at least every :data:`HEARTBEAT_SECONDS` and when it is done. Rounds of fewer than
    :data:`SHOW_FROM` messages render in a moment and show nothing."""

    SHOW_FROM = 1_000
    HEARTBEAT_SECONDS = 10.0

    def __init__(self, label: str, *, clock: Clock | None = None) -> None:
        self._label = label
        self._clock: Clock = clock or SystemClock()
        self._bar: Progress | None = None
        self._task: Any = None
        self._last = 0.0
        self._began = 0.0

    def __call__(self, done: int, total: int) -> None:
        if total < self.SHOW_FROM:
            return
        now = self._clock.monotonic()
        if done == 0:
            self._began = self._last = now
            if out.is_terminal:
                self._bar = Progress(
                    TextColumn("{task.description}"),
                    BarColumn(),
                    MofNCompleteColumn(),
                    console=out,
                    transient=True,
                )
                self._bar.start()
                self._task = self._bar.add_task(self._label, total=total)
            else:
                self._line(f"{self._label}: {total:,} messages")
        elif self._bar is not None:
            self._bar.update(self._task, completed=done)
        elif done == total:
            self._line(f"{self._label}: {done:,} of {total:,}, done")
        elif now - self._last >= self.HEARTBEAT_SECONDS:
            self._last = now
            self._line(f"{self._label}: {done:,} of {total:,} ({now - self._began:.0f} s)")
        if done == total:
            self.stop()

    def stop(self) -> None:
        if self._bar is not None:
            self._bar.stop()
            self._bar = None

    @staticmethod
    def _line(text: str) -> None:
        err.print(text, markup=False, soft_wrap=True)
