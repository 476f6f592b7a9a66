"""What the report shows, read from the journal, contacts.csv and the config (no rendering).

The numbers are the ones of ``rsvp summary`` and ``release status``: the rows and headcounts
come from :mod:`mailer.rsvp`, the release's recipients from :mod:`mailer.release`; this module
groups them (by language, by outlet type, by day) and picks out what must be shown loudly.
"""

from __future__ import annotations

import datetime as dt
import json
import math
import statistics
from collections.abc import Callable, Iterable, Mapping, Sequence
from zoneinfo import ZoneInfo

from mailer.config import Config
from mailer.models import Campaign, Contact, ScheduleState, State
from mailer.release import release_status
from mailer.report.model import (
    AnswerCounts,
    AnswersOnDay,
    Bin,
    Headcounts,
    InvitationCounts,
    Prebriefed,
    ReleaseProblem,
    ReleaseReport,
    Report,
    ReviewEntry,
)
from mailer.rsvp import RsvpRow, RsvpSummary, guest_roles, load_rows, load_summary
from mailer.store import Store

LANGUAGES = {"fi": "Finnish", "sv": "Swedish", "en": "English"}
NO_TAG = "(no outlet type)"
# What each kind of review item needs from the officer (mailer.rsvp.ReviewKind's values).
NEEDS = {
    "unmatched_calendar": "a calendar answer to no invitation of ours: find who it is and "
    "record the answer with 'rsvp set'",
    "unclear_text": "read the reply and record yes, no or maybe",
    "unmatched_text": "an answer from someone not invited: record it for the right contact "
    "or dismiss it",
    "question": "the reply asks something: answer the journalist",
    "conflict": "the calendar button and the comment disagree: decide which answer holds",
    "delegated": "someone else may come instead: confirm who",
    "unsubscribe": "an opt-out request: confirm it to suppress the address",
    "suppress": "the address no longer works: confirm to suppress it",
    "unmatched_bounce": "a delivery failure naming no invitation: check which address failed",
    "unreadable": "mail that could not be read: open it in the mail program",
}
HISTOGRAM_BINS = 12
_WIDTHS = (1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 1800, 3600)
DAILY_UP_TO = 21  # days; a longer campaign is shown by week


def build_report(
    config: Config, store: Store, contacts: Sequence[Contact], *, now: dt.datetime
) -> Report:
    zone = config.zone
    rows = load_rows(store, contacts)
    summary = load_summary(store, contacts, config)
    by_email = {c.email.lower(): c for c in contacts}
    sent = [e.sent_at for e in store.journal.entries(Campaign.INVITATION) if e.sent_at]
    sent_out = min(sent).astimezone(zone) if sent else None
    return Report(
        title=config.event.title,
        start=config.event.start.astimezone(zone),
        end=config.event.end.astimezone(zone),
        location=config.event.location,
        zone=zone.key,
        generated=now.astimezone(zone),
        invitations=invitation_counts(summary),
        answers=answer_counts("all invited", rows),
        by_language=grouped(rows, lambda r: (LANGUAGES.get(r.language, r.language or "?"),)),
        by_tag=grouped(
            rows,
            lambda r: c.tags if (c := by_email.get(r.email.lower())) and c.tags else (NO_TAG,),
        ),
        sent_out=sent_out,
        timeline=timeline(rows, sent_out, zone),
        headcounts=headcounts(summary, rows, photographers(store, rows)),
        reviews=tuple(
            ReviewEntry(
                id=item.id,
                kind=item.kind,
                who=item.email or item.sender,
                reason=item.reason,
                needs=NEEDS.get(item.kind, "decide with 'mailer rsvp review'"),
                received=item.created_at.astimezone(zone),
            )
            for item in store.rsvps.reviews(open_only=True)
        ),
        release=release_report(config, store, by_email, now=now),
    )


def invitation_counts(summary: RsvpSummary) -> InvitationCounts:
    d = summary.deliveries
    return InvitationCounts(
        invited=summary.invited,
        delivered=d.get("sent", 0),
        failed=d.get("failed", 0),
        in_doubt=d.get("in-doubt", 0),
        bounced=d.get("bounced", 0),
        suppressed=summary.suppressed,
        pending=d.get("pending", 0),
    )


def answer_counts(label: str, rows: Iterable[RsvpRow]) -> AnswerCounts:
    found = {"yes": 0, "no": 0, "maybe": 0, "none": 0}
    for row in rows:
        found[row.status.value] += 1
    return AnswerCounts(label, found["yes"], found["no"], found["maybe"], found["none"])


def grouped(
    rows: Sequence[RsvpRow], keys: Callable[[RsvpRow], Iterable[str]]
) -> tuple[AnswerCounts, ...]:
    """The answers per group, the biggest group first; a row may be in several (tags)."""
    groups: dict[str, list[RsvpRow]] = {}
    for row in rows:
        for key in keys(row):
            groups.setdefault(key, []).append(row)
    ordered = sorted(groups, key=lambda k: (-len(groups[k]), k.casefold()))
    return tuple(answer_counts(k, groups[k]) for k in ordered)


def timeline(
    rows: Sequence[RsvpRow], sent_out: dt.datetime | None, zone: ZoneInfo
) -> tuple[AnswersOnDay, ...]:
    """Answers by the day they came (by week after :data:`DAILY_UP_TO` days), day 0 being the
    day the invitation went out; an answer stamped before it counts on day 0."""
    if sent_out is None:
        return ()
    first = sent_out.date()
    days: list[tuple[int, str]] = []
    for row in rows:
        if row.answered_at is not None and row.status.value != "none":
            day = max(0, (row.answered_at.astimezone(zone).date() - first).days)
            days.append((day, row.status.value))
    last = max((d for d, _ in days), default=0)
    step = 1 if last < DAILY_UP_TO else 7
    periods = []
    answered = 0
    for begin in range(0, last + 1, step):
        end = begin + step - 1
        inside = [s for d, s in days if begin <= d <= end]
        answered += len(inside)
        periods.append(
            AnswersOnDay(
                label=f"day {begin}" if step == 1 else f"days {begin}-{end}",
                start=first + dt.timedelta(days=begin),
                yes=inside.count("yes"),
                no=inside.count("no"),
                maybe=inside.count("maybe"),
                answered=answered,
            )
        )
    return tuple(periods)


def photographers(store: Store, rows: Iterable[RsvpRow]) -> frozenset[str]:
    """Addresses of the yes answers that bring a photographer: said in the reply (as the reply
    reader understood it) or in the answer's note."""
    found = set()
    answers = {a.email.lower(): a for a in store.rsvps.answers("yes")}
    for row in rows:
        if row.status.value != "yes":
            continue
        roles = set(guest_roles(row.note))
        answer = answers.get(row.email.lower())
        if answer is not None and answer.message_key:
            message = store.rsvps.processed(answer.message_key)
            if message is not None:
                roles.update(_reply_roles(message.details))
        if "photographer" in roles:
            found.add(row.email.lower())
    return frozenset(found)


def _reply_roles(details: str) -> list[str]:
    try:
        text = json.loads(details).get("text") or {}
        return [str(r) for r in text.get("guest_roles") or ()]
    except (ValueError, AttributeError):
        return []


def headcounts(
    summary: RsvpSummary, rows: Sequence[RsvpRow], with_photographer: frozenset[str]
) -> Headcounts:
    return Headcounts(
        journalists=summary.yes,
        guests=summary.guests,
        photographers=sum(
            1 for r in rows if r.status.value == "yes" and r.email.lower() in with_photographer
        ),
        expected=summary.expected,
        lunch=summary.lunch,
        lunch_unknown=summary.lunch_unknown,
        maybe_people=summary.maybe_people,
        interviews=tuple((w.speaker, len(w.emails)) for w in summary.interviews),
    )


# --- the release ---------------------------------------------------------------------------------


def release_report(
    config: Config, store: Store, contacts: Mapping[str, Contact], *, now: dt.datetime
) -> ReleaseReport | None:
    status = release_status(config, store, now=now, runs=0)
    schedule = status.schedule
    if schedule is None:
        return None
    zone = ZoneInfo(schedule.zone)
    embargo = schedule.embargo
    grace = schedule.grace_minutes * 60
    after: list[float] = []
    problems: list[ReleaseProblem] = []
    prebriefed: list[Prebriefed] = []
    for p in status.recipients:
        if p.round == "prebrief":
            contact = contacts.get(p.email.lower())
            prebriefed.append(
                Prebriefed(
                    email=p.email,
                    name=p.name,
                    outlet=contact.outlet if contact else "",
                    state=p.state.value.replace("_", " "),
                    at=p.at.astimezone(zone) if p.at else None,
                )
            )
            continue
        if p.state is State.SENT and p.at is not None:
            seconds = (p.at - embargo).total_seconds()
            if seconds < 0:
                problems.append(
                    ReleaseProblem(p.email, p.name, "early", f"{-seconds:.1f} s before the embargo")
                )
                continue
            after.append(seconds)
            if seconds > grace:
                problems.append(
                    ReleaseProblem(p.email, p.name, "late", f"{seconds:.1f} s after the embargo")
                )
        elif p.state in (State.FAILED, State.IN_DOUBT):
            problems.append(
                ReleaseProblem(p.email, p.name, p.state.value.replace("_", " "), p.detail)
            )
        elif p.state is not State.SKIPPED and (
            now > embargo + dt.timedelta(seconds=grace)
            or schedule.state in (ScheduleState.MISSED, ScheduleState.CANCELLED)
        ):
            problems.append(ReleaseProblem(p.email, p.name, "not sent", p.detail))
    after.sort()
    return ReleaseReport(
        embargo=embargo.astimezone(zone),
        zone=schedule.zone,
        state=schedule.state.value,
        mode=schedule.mode,
        tag=schedule.tag,
        grace_minutes=schedule.grace_minutes,
        scheduled_at=schedule.created_at.astimezone(zone),
        prebriefed=tuple(prebriefed),
        recipients=sum(1 for p in status.recipients if p.round == "release"),
        accepted=len(after) + sum(1 for x in problems if x.problem == "early"),
        first=after[0] if after else None,
        median=statistics.median(after) if after else None,
        last=after[-1] if after else None,
        histogram=histogram(after),
        problems=tuple(problems),
    )


def histogram(seconds: Sequence[float]) -> tuple[Bin, ...]:
    """Acceptances after the embargo in at most :data:`HISTOGRAM_BINS` bins of a round width."""
    if not seconds:
        return ()
    top = max(seconds)
    width = next(
        (w for w in _WIDTHS if math.floor(top / w) + 1 <= HISTOGRAM_BINS),
        math.ceil(top / HISTOGRAM_BINS) + 1,
    )
    bins = [0] * (math.floor(top / width) + 1)
    for s in seconds:
        bins[math.floor(s / width)] += 1
    return tuple(Bin(_span(i * width, (i + 1) * width, width), n) for i, n in enumerate(bins))


def _span(start: int, end: int, width: int) -> str:
    if width < 60:
        return f"{start}-{end} s"
    return f"{start / 60:g}-{end / 60:g} min"
