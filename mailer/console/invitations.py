"""Terminal output of ``mailer invite ...``: the plan shown before a round, and its outcome."""

from __future__ import annotations

from mailer.console import (
    SendProgress,
    duration,
    info,
    plural,
    preview,
    send_report,
    send_summary,
    warning,
)
from mailer.invitations import Preview, RoundOutcome, RoundPlan, RoundResult


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


def previewed(result: Preview, *, raw: bool) -> None:
    preview(result.item, raw=raw)
    if result.written is not None:
        info(f"\nwrote {result.written}")
