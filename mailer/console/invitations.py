"""Terminal output of ``mailer invite ...``: the plan shown before a round, and its outcome."""

from __future__ import annotations

from mailer.console import info, preview, send_report, send_summary, warning
from mailer.invitations import Preview, RoundOutcome, RoundPlan, RoundResult


def round_plan(plan: RoundPlan) -> None:
    """What the round is about to do (printed before the question, and for a dry run)."""
    if plan.recovery.in_doubt or plan.recovery.requeued:
        warning(
            f"an earlier run stopped: {plan.recovery.requeued} messages requeued, "
            f"{plan.recovery.in_doubt} in doubt"
        )
    if plan.requeued:
        info(f"Requeued {plan.requeued} messages on request.")
    send_summary(plan.summary)
    for text in plan.changes:
        info(f"Changed:      {text}")
    for text in plan.warnings:
        warning(text)
    for text in plan.delivery_plan:
        info(text)


def send_question(plan: RoundPlan) -> str:
    return f"Send {plan.count} {plan.kind.noun}?"


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
        send_report(result.report, already_done=result.already_done)


def previewed(result: Preview, *, raw: bool) -> None:
    preview(result.item, raw=raw)
    if result.written is not None:
        info(f"\nwrote {result.written}")
