"""What one classified reply means: an answer to apply, a bounce to mark, or items for review.

Pure decisions on a :class:`~mailer.rsvp.results.Classification` and the :class:`~.match.Matcher`;
:mod:`.apply` records the resulting :class:`Plan` in the store. The matching rules:

- a calendar reply is matched by its UID only (per-recipient UIDs identify the contact); a UID
  that matches no invitation goes to review and is never applied to anyone, even when the sender
  is a contact;
- a text reply, auto-reply or unsubscribe request is matched by In-Reply-To / References to an
  invitation's Message-ID, else by the sender's address;
- an answer is applied only when the sender's real address (read from the raw ``From:``) is the
  matched contact's own; otherwise it goes to review ("sent from x, not from y"), and an
  unsubscribe request from another address only ever offers to suppress that address;
- a bounce marks only an address it reports, that an invitation went to, and only when it comes
  from a mail server or returns that very invitation's Message-ID.
"""

from __future__ import annotations

import datetime as dt
import enum
from dataclasses import dataclass, field

from mailer.rsvp.match import Matcher, bounce_doubt, sender_mismatch
from mailer.rsvp.results import CalendarAnswer, Classification, Kind
from mailer.rsvp.text import read_text_answer
from mailer.store import AnswerUpdate, BounceRecord, ReviewDraft


class ReviewKind(enum.StrEnum):
    """Why an item waits for the officer."""

    UNMATCHED_CALENDAR = "unmatched_calendar"  # a REPLY whose UID matches no invitation
    UNCLEAR_TEXT = "unclear_text"  # a contact's reply that is not clearly yes / no / maybe
    UNMATCHED_TEXT = "unmatched_text"  # a clear answer from someone not invited
    QUESTION = "question"  # a contact's answer that also asks something
    CONFLICT = "conflict"  # a calendar button and its comment disagree
    DELEGATED = "delegated"  # PARTSTAT=DELEGATED: someone else may come instead
    UNSUBSCRIBE = "unsubscribe"  # an opt-out request: suppress after review
    SUPPRESS = "suppress"  # a permanent address failure (5.1.x): offer suppression
    UNMATCHED_BOUNCE = "unmatched_bounce"  # a failure that names no invitation or contact
    UNREADABLE = "unreadable"  # mail that could not be read (broken MIME or iCalendar, TNEF)
    OTHER_SENDER = "other_sender"  # an answer about a contact, not sent from the contact's address
    SUSPECT_BOUNCE = "suspect_bounce"  # a failure report that does not come from a mail server


class Outcome(enum.StrEnum):
    APPLIED = "applied"  # an answer was recorded for a contact
    SUPERSEDED = "superseded"  # an older answer than the stored one: kept on record only
    BOUNCED = "bounced"  # a failed delivery recorded for a contact
    NOTED = "noted"  # auto-reply, delay notice, unrelated mail: recorded, nothing changes
    REVIEW = "review"  # waits for the officer
    DUPLICATE = "duplicate"  # processed before: nothing written


@dataclass
class Plan:
    """What to record for one message."""

    email: str | None = None
    outcome: Outcome = Outcome.NOTED
    detail: str = ""
    answers: list[AnswerUpdate] = field(default_factory=list)
    bounces: list[BounceRecord] = field(default_factory=list)
    reviews: list[ReviewDraft] = field(default_factory=list)


def plan_for(c: Classification, matcher: Matcher, now: dt.datetime) -> Plan:
    env = c.envelope
    if c.kind is Kind.CALENDAR_REPLY:
        return _calendar_plan(c, matcher, now)
    if c.kind is Kind.BOUNCE:
        return _bounce_plan(c, matcher)
    contact = matcher.by_ids(c.message_ids) or matcher.by_address(env.sender)
    doubt = sender_mismatch(contact, env) if contact else ""
    if c.kind is Kind.TEXT_REPLY and c.text is not None:
        return _text_plan(c, contact, doubt, now)
    if c.kind is Kind.AUTO_REPLY:
        return Plan(contact, Outcome.NOTED, f"auto-reply ({c.reason})")
    if c.kind is Kind.UNSUBSCRIBE:
        reason = f"asks to be removed: {c.reason}"
        if doubt:  # only ever the sender's own address can be suppressed from here
            target = env.sender or "an address you type"
            reason = f"{reason}; {doubt}: suppressing acts on {target} only"
        draft = ReviewDraft(
            ReviewKind.UNSUBSCRIBE, "" if doubt else contact or "", env.sender, reason, c.lines
        )
        return Plan(contact, Outcome.REVIEW, "unsubscribe request", reviews=[draft])
    if c.kind is Kind.UNREADABLE:
        reason = f"{c.reason}; {doubt}" if doubt else c.reason
        draft = ReviewDraft(
            ReviewKind.UNREADABLE, "" if doubt else contact or "", env.sender, reason, c.lines
        )
        return Plan(contact, Outcome.REVIEW, f"unreadable: {c.reason}", reviews=[draft])
    return Plan(contact, Outcome.NOTED, c.reason or "not related to the invitation")


def _calendar_plan(c: Classification, matcher: Matcher, now: dt.datetime) -> Plan:
    env = c.envelope
    plan = Plan()
    for reply in c.calendar:
        contact, why = matcher.by_uid(reply.uid, reply.attendee, env.sender)
        lines = (
            f"UID: {reply.uid}",
            f"ATTENDEE: {reply.attendee}",
            f"PARTSTAT: {reply.partstat.value}",
            *([reply.comment] if reply.comment else ()),
        )
        if contact is None:
            plan.reviews.append(
                ReviewDraft(ReviewKind.UNMATCHED_CALENDAR, "", env.sender, why, lines)
            )
            continue
        plan.email = plan.email or contact
        doubt = sender_mismatch(contact, env)
        if doubt:
            said = _describe_calendar(reply)
            plan.reviews.append(
                ReviewDraft(
                    ReviewKind.OTHER_SENDER, contact, env.sender, f"{doubt}; it says {said}", lines
                )
            )
            continue
        status = reply.answer
        if status is None:
            plan.reviews.append(
                ReviewDraft(
                    ReviewKind.DELEGATED,
                    contact,
                    env.sender,
                    f"delegated to {reply.delegated_to or 'someone else'}",
                    lines,
                )
            )
            continue
        extras = read_text_answer(reply.comment.splitlines()) if reply.comment else None
        if extras is not None and extras.answer is not None and extras.answer != status:
            plan.reviews.append(
                ReviewDraft(
                    ReviewKind.CONFLICT,
                    contact,
                    env.sender,
                    f"the button says {status.value}, the comment says {extras.answer.value}",
                    lines,
                )
            )
        guests = reply.guests if reply.guests is not None else (extras.guests if extras else None)
        plan.answers.append(
            AnswerUpdate(
                email=contact,
                status=status.value,
                source="calendar",
                stamp=_clamp(reply.dtstamp or env.date, now),
                guests=guests,
                lunch=extras.lunch if extras else None,
                interview=", ".join(extras.interview) if extras else "",
                note=reply.comment[:500],
                sequence=reply.sequence,
                from_address=env.sender,
                message_key=env.key,
            )
        )
    if plan.answers:
        plan.outcome = Outcome.APPLIED
        plan.detail = ", ".join(_describe_calendar(r) for r in c.calendar)
    elif plan.reviews:
        plan.outcome = Outcome.REVIEW
        plan.detail = plan.reviews[0].reason
    return plan


def _text_plan(c: Classification, contact: str | None, doubt: str, now: dt.datetime) -> Plan:
    assert c.text is not None
    env, text = c.envelope, c.text
    if contact is None:
        if text.answer is None:
            return Plan(None, Outcome.NOTED, "a reply from someone not invited, no answer")
        draft = ReviewDraft(
            ReviewKind.UNMATCHED_TEXT,
            "",
            env.sender,
            f"says {text.answer.value} but matches no invitation",
            text.lines,
        )
        return Plan(None, Outcome.REVIEW, draft.reason, reviews=[draft])
    if doubt:
        said = f"it says {_describe_text(c)}" if text.answer is not None else text.reason
        reason = f"{doubt}; {said}" if said else doubt
        draft = ReviewDraft(ReviewKind.OTHER_SENDER, contact, env.sender, reason, text.lines)
        return Plan(contact, Outcome.REVIEW, reason, reviews=[draft])
    if text.answer is None:
        draft = ReviewDraft(ReviewKind.UNCLEAR_TEXT, contact, env.sender, text.reason, text.lines)
        return Plan(contact, Outcome.REVIEW, text.reason, reviews=[draft])
    plan = Plan(contact, Outcome.APPLIED, _describe_text(c))
    plan.answers.append(
        AnswerUpdate(
            email=contact,
            status=text.answer.value,
            source="text",
            stamp=_clamp(env.date, now),
            guests=text.guests,
            lunch=text.lunch,
            interview=", ".join(text.interview),
            note=" ".join(text.lines)[:500],
            from_address=env.sender,
            message_key=env.key,
        )
    )
    if text.questions:
        reason = (
            f"the reply asks something; its answer ({text.answer.value}) is recorded already, "
            "so only the question waits: reply, then choose ignore"
        )
        plan.reviews.append(
            ReviewDraft(ReviewKind.QUESTION, contact, env.sender, reason, text.questions)
        )
    return plan


def _bounce_plan(c: Classification, matcher: Matcher) -> Plan:
    assert c.bounce is not None
    env, report = c.envelope, c.bounce
    by_id = matcher.by_ids((report.original_message_id,) if report.original_message_id else ())
    plan = Plan(by_id)
    recipients = report.recipients
    for r in recipients:
        reported = [a for a in (r.address, r.original) if a]
        contact = next((m for m in map(matcher.by_address, reported) if m), None)
        if not r.failed:
            plan.detail = plan.detail or f"{r.action or 'notice'} {r.status} for {r.address}"
            plan.email = plan.email or contact
            continue
        if contact is None:
            reason = (
                f"the report about the invitation to {by_id} names {r.address}, to which no "
                "invitation went: nothing was marked"
                if by_id
                else f"delivery to {r.address} failed ({r.status or 'no status'}), "
                "no invitation found"
            )
            plan.reviews.append(
                ReviewDraft(ReviewKind.UNMATCHED_BOUNCE, "", env.sender, reason, c.lines)
            )
            continue
        doubt = bounce_doubt(report, r, by_id == contact, env)
        if doubt:
            plan.reviews.append(
                ReviewDraft(ReviewKind.SUSPECT_BOUNCE, contact, env.sender, doubt, c.lines)
            )
            continue
        plan.email = plan.email or contact
        plan.bounces.append(
            BounceRecord(
                contact, r.address, r.status, r.action or "failed", r.diagnostic, r.permanent
            )
        )
        if r.address_failure:
            plan.reviews.append(
                ReviewDraft(
                    ReviewKind.SUPPRESS,
                    contact,
                    env.sender,
                    f"the address does not exist ({r.status}): suppress {contact}?",
                    (r.diagnostic,),
                )
            )
    if not recipients and by_id and report.from_server:
        plan.bounces.append(
            BounceRecord(by_id, by_id, "", "failed", "no recipient in report", False)
        )
    elif not recipients:
        plan.reviews.append(
            ReviewDraft(
                ReviewKind.UNMATCHED_BOUNCE,
                "",
                env.sender,
                "a delivery failure naming no recipient",
                c.lines,
            )
        )
    if plan.bounces:
        plan.outcome = Outcome.BOUNCED
        plan.detail = "; ".join(f"{b.recipient} {b.status}".strip() for b in plan.bounces)
    elif plan.reviews:
        plan.outcome, plan.detail = Outcome.REVIEW, plan.reviews[0].reason
    return plan


def _describe_calendar(reply: CalendarAnswer) -> str:
    extra = f" +{reply.guests}" if reply.guests else ""
    return f"{reply.partstat.value}{extra} ({reply.attendee})"


def _describe_text(c: Classification) -> str:
    assert c.text is not None and c.text.answer is not None
    parts = [c.text.answer.value]
    if c.text.guests:
        parts.append(f"+{c.text.guests} {'/'.join(c.text.guest_roles)}".strip())
    if c.text.lunch is not None:
        parts.append("lunch" if c.text.lunch else "no lunch")
    parts.extend(f"interview: {w}" for w in c.text.interview)
    return ", ".join(parts)


def _clamp(when: dt.datetime | None, now: dt.datetime) -> dt.datetime:
    """A time stamp from the sender, never later than now (a future stamp would lock answers)."""
    return now if when is None or when > now else when
