"""The officer's view of the answers: one row per invited contact, and the headcounts (pure).

Rows are built from three sources: contacts.csv (name, outlet), the invitation journal (who was
invited and how the delivery went) and the stored answers, bounces and suppressions. Everyone
who was invited gets a row (status ``none`` until they answer); a contact who was not invited
appears only when an answer was recorded for them (``rsvp set`` for someone who phoned).

Counting rules of the summary (the caterer and the reception desk rely on them):

- *expected* people are the journalists who said yes plus the guests they bring;
- *lunch* counts people (journalist + guests) of yes answers that asked for lunch; yes answers
  that said nothing about lunch are counted in *lunch_unknown*;
- interview wishes of yes and maybe answers are grouped by speaker (names from ``[vars]
  speaker`` / ``speakers``, matched by any part of the name, also inflected: "Vesan" ->
  "Jarkko Vesa"); a wish naming nobody known is kept as written;
- *to_remind* is what ``invite remind`` would reach: no answer, delivered (sent or in doubt),
  not bounced, not suppressed.
"""

from __future__ import annotations

import datetime as dt
import enum
import re
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

from mailer.config import Config
from mailer.models import Campaign, Contact, Invited, JournalEntry, State
from mailer.store import BounceRecord, RsvpAnswer, Store


class Status(enum.StrEnum):
    """An RSVP status as the officer sees it (``none``: no answer yet)."""

    YES = "yes"
    NO = "no"
    MAYBE = "maybe"
    NONE = "none"


class Delivery(enum.StrEnum):
    """What happened to the contact's invitation."""

    SENT = "sent"
    FAILED = "failed"  # the server refused it when sending
    BOUNCED = "bounced"  # accepted, then returned by a delivery status notification
    IN_DOUBT = "in-doubt"  # the connection broke after the data was sent
    PENDING = "pending"  # planned, not sent yet
    SKIPPED = "skipped"
    NOT_INVITED = "not-invited"  # an answer recorded for a contact who got no invitation


_JOURNAL_DELIVERY = {
    State.SENT: Delivery.SENT,
    State.FAILED: Delivery.FAILED,
    State.IN_DOUBT: Delivery.IN_DOUBT,
    State.PENDING: Delivery.PENDING,
    State.CLAIMED: Delivery.PENDING,
    State.TRANSMITTING: Delivery.PENDING,
    State.SKIPPED: Delivery.SKIPPED,
}
# When a contact has several invitation rows (rounds), the best delivery counts.
_RANK = {
    State.SENT: 0,
    State.IN_DOUBT: 1,
    State.TRANSMITTING: 2,
    State.CLAIMED: 3,
    State.PENDING: 4,
    State.FAILED: 5,
    State.SKIPPED: 6,
}


@dataclass(frozen=True)
class RsvpRow:
    email: str
    name: str
    outlet: str
    language: str
    status: Status
    guests: int  # people coming along (photographer, colleague)
    lunch: bool | None  # None: not said
    interview: str  # wishes as read ("Vesa"), comma-separated
    note: str
    source: str  # calendar / text / manual; "" without an answer
    answered_from: str  # the address that answered, when not the contact's own
    answered_at: dt.datetime | None  # DTSTAMP, the reply's Date, or when it was set by hand
    delivery: Delivery
    bounce: str  # the bounce status code ("5.1.1"), "" when not bounced
    suppressed: bool

    @property
    def people(self) -> int:
        return 1 + self.guests


@dataclass(frozen=True)
class InterviewWish:
    speaker: str  # the known speaker's name, or the wish as written
    emails: tuple[str, ...]  # who asked


@dataclass(frozen=True)
class RsvpSummary:
    invited: int  # contacts with an invitation row (any delivery)
    yes: int
    maybe: int
    no: int
    none: int
    guests: int  # guests of yes answers
    expected: int  # yes + their guests
    maybe_people: int  # maybe + their guests
    lunch: int  # people (journalist + guests) of yes answers with lunch
    lunch_unknown: int  # people of yes answers that said nothing about lunch
    interviews: tuple[InterviewWish, ...]
    deliveries: Mapping[str, int]  # invitations by delivery (sent, bounced, failed...), nonzero
    bounced: tuple[tuple[str, str], ...]  # (email, status code)
    suppressed: int  # addresses on the suppression list
    review: int  # open review items
    to_remind: int  # what `invite remind` would reach now


# --- rows ----------------------------------------------------------------------------------------


def build_rows(
    *,
    contacts: Sequence[Contact],
    invitations: Sequence[Invited | JournalEntry],
    answers: Sequence[RsvpAnswer],
    bounced: Mapping[str, BounceRecord],
    suppressed: Collection[str],
) -> tuple[RsvpRow, ...]:
    """One row per invited contact (and per answered one), in contacts.csv order."""
    book = {c.email.lower(): c for c in contacts}
    order = {c.email.lower(): n for n, c in enumerate(contacts)}
    best: dict[str, Invited | JournalEntry] = {}
    for invitation in invitations:
        key = invitation.email.lower()
        held = best.get(key)
        if held is None or _RANK[invitation.state] < _RANK[held.state]:
            best[key] = invitation
    by_answer = {a.email.lower(): a for a in answers}
    blocked = {s.lower() for s in suppressed}
    bounces = {k.lower(): b for k, b in bounced.items()}
    keys = sorted({*best, *by_answer}, key=lambda k: (order.get(k, len(order)), k))
    rows = []
    for key in keys:
        contact, entry, answer = book.get(key), best.get(key), by_answer.get(key)
        email = entry.email if entry else answer.email if answer else key
        bounce = bounces.get(key)
        if entry is None:
            delivery = Delivery.NOT_INVITED
        elif bounce is not None:
            delivery = Delivery.BOUNCED
        else:
            delivery = _JOURNAL_DELIVERY[entry.state]
        rows.append(
            RsvpRow(
                email=contact.email if contact else email,
                name=contact.name if contact else entry.name if entry else "",
                outlet=contact.outlet if contact else "",
                language=contact.language if contact else "",
                status=Status(answer.status) if answer else Status.NONE,
                guests=answer.guests if answer else 0,
                lunch=answer.lunch if answer else None,
                interview=answer.interview if answer else "",
                note=answer.note if answer else "",
                source=answer.source if answer else "",
                answered_from=answer.from_address if answer else "",
                answered_at=answer.stamp if answer else None,
                delivery=delivery,
                bounce=(bounce.status or "failed") if bounce else "",
                suppressed=key in blocked,
            )
        )
    return tuple(rows)


def load_rows(store: Store, contacts: Sequence[Contact]) -> tuple[RsvpRow, ...]:
    """:func:`build_rows` with everything read from *store*."""
    rsvps = store.rsvps
    return build_rows(
        contacts=contacts,
        invitations=store.journal.invited(Campaign.INVITATION),
        answers=rsvps.answers(),
        bounced=rsvps.bounced(),
        suppressed=rsvps.suppressed_emails(),
    )


def select_rows(rows: Iterable[RsvpRow], status: Status | None) -> tuple[RsvpRow, ...]:
    return tuple(r for r in rows if status is None or r.status is status)


def can_be_reminded(row: RsvpRow) -> bool:
    """The rule of ``invite remind`` (``followups.reminder_contacts``), row by row."""
    return (
        row.status is Status.NONE
        and not row.suppressed
        and row.delivery in (Delivery.SENT, Delivery.IN_DOUBT)
    )


# --- summary -------------------------------------------------------------------------------------


def summarize(
    rows: Sequence[RsvpRow],
    *,
    open_reviews: int,
    suppressions: int,
    speakers: Sequence[str] = (),
) -> RsvpSummary:
    count = {s: sum(1 for r in rows if r.status is s) for s in Status}
    yes = [r for r in rows if r.status is Status.YES]
    maybe = [r for r in rows if r.status is Status.MAYBE]
    guests = sum(r.guests for r in yes)
    return RsvpSummary(
        invited=sum(1 for r in rows if r.delivery is not Delivery.NOT_INVITED),
        yes=count[Status.YES],
        maybe=count[Status.MAYBE],
        no=count[Status.NO],
        none=count[Status.NONE],
        guests=guests,
        expected=len(yes) + guests,
        maybe_people=sum(r.people for r in maybe),
        lunch=sum(r.people for r in yes if r.lunch is True),
        lunch_unknown=sum(r.people for r in yes if r.lunch is None),
        interviews=interview_wishes([*yes, *maybe], speakers),
        deliveries={
            d.value: n
            for d in Delivery
            if d is not Delivery.NOT_INVITED and (n := sum(1 for r in rows if r.delivery is d))
        },
        bounced=tuple((r.email, r.bounce) for r in rows if r.delivery is Delivery.BOUNCED),
        suppressed=suppressions,
        review=open_reviews,
        to_remind=sum(1 for r in rows if can_be_reminded(r)),
    )


def load_summary(store: Store, contacts: Sequence[Contact], config: Config) -> RsvpSummary:
    rows = load_rows(store, contacts)
    return summarize(
        rows,
        open_reviews=len(store.rsvps.reviews(open_only=True)),
        suppressions=len(store.rsvps.suppressions()),
        speakers=speakers_of(config),
    )


def speakers_of(config: Config) -> tuple[str, ...]:
    """Speaker names from ``[vars] speaker`` and ``[vars] speakers`` (separated by , or ;)."""
    found: list[str] = []
    for key in ("speaker", "speakers"):
        for name in re.split(r"[,;]", config.vars.get(key, "")):
            if name.strip() and name.strip() not in found:
                found.append(name.strip())
    return tuple(found)


def interview_wishes(rows: Iterable[RsvpRow], speakers: Sequence[str]) -> tuple[InterviewWish, ...]:
    """Wishes grouped by speaker, known speakers first (in [vars] order), then by count."""
    asked: dict[str, list[str]] = {}
    shown: dict[str, str] = {}
    for row in rows:
        for wish in (w.strip() for w in row.interview.split(",")):
            if not wish:
                continue
            name = match_speaker(wish, speakers) or wish
            key = name.casefold()
            shown.setdefault(key, name)
            if row.email not in asked.setdefault(key, []):
                asked[key].append(row.email)
    known = [s.casefold() for s in speakers]

    def order(key: str) -> tuple[int, int, str]:
        return (known.index(key) if key in known else len(known), -len(asked[key]), key)

    return tuple(InterviewWish(shown[k], tuple(asked[k])) for k in sorted(asked, key=order))


def with_speakers(rows: Iterable[RsvpRow], speakers: Sequence[str]) -> tuple[RsvpRow, ...]:
    """The rows with each interview wish named as ``rsvp summary`` names it: a known speaker by
    the full name ("Vesan" -> "Jarkko Vesa"), any other wish as written."""
    named = []
    for row in rows:
        wishes = [w.strip() for w in row.interview.split(",") if w.strip()]
        names = list(dict.fromkeys(match_speaker(w, speakers) or w for w in wishes))
        named.append(replace(row, interview=", ".join(names)) if wishes else row)
    return tuple(named)


def match_speaker(wish: str, speakers: Sequence[str]) -> str:
    """The speaker a wish names, by any part of the name ("Vesan" -> "Jarkko Vesa"), or ""."""
    words = [w.casefold() for w in re.findall(r"\w+", wish)]
    for speaker in speakers:
        for part in re.findall(r"\w+", speaker):
            part = part.casefold()
            if len(part) < 3:
                continue
            stem = part[: max(3, len(part) - 2)]  # Finnish endings change the last letters
            if any(w == part or (w.startswith(stem) and len(w) <= len(part) + 4) for w in words):
                return speaker
    return ""


# --- JSON and mailer status ----------------------------------------------------------------------


def row_json(row: RsvpRow) -> dict[str, Any]:
    return {
        "email": row.email,
        "name": row.name,
        "outlet": row.outlet,
        "language": row.language,
        "status": row.status.value,
        "guests": row.guests,
        "lunch": row.lunch,
        "interview": row.interview,
        "note": row.note,
        "source": row.source,
        "answered_from": row.answered_from,
        "answered_at": row.answered_at.isoformat() if row.answered_at else None,
        "delivery": row.delivery.value,
        "bounce": row.bounce,
        "suppressed": row.suppressed,
    }


def summary_json(s: RsvpSummary) -> dict[str, Any]:
    return {
        "invited": s.invited,
        "yes": s.yes,
        "maybe": s.maybe,
        "no": s.no,
        "none": s.none,
        "guests": s.guests,
        "expected": s.expected,
        "maybe_people": s.maybe_people,
        "lunch": s.lunch,
        "lunch_unknown": s.lunch_unknown,
        "interviews": {w.speaker: list(w.emails) for w in s.interviews},
        "delivery": dict(s.deliveries),
        "bounced": [{"email": e, "status": code} for e, code in s.bounced],
        "suppressed": s.suppressed,
        "review": s.review,
        "to_remind": s.to_remind,
    }


def status_counts(s: RsvpSummary) -> dict[str, int]:
    """The ``rsvp`` part of ``mailer status`` (all numbers, so the console can show one line)."""
    return {
        "yes": s.yes,
        "no": s.no,
        "maybe": s.maybe,
        "none": s.none,
        "guests": s.guests,
        "lunch": s.lunch,
        "bounced": len(s.bounced),
        "review": s.review,
    }


def rsvp_section(config: Config, store: Store) -> tuple[str, dict[str, Any]] | None:
    """``mailer status``: the answers' counts; nothing before the first invitation or answer."""
    if not store.journal.has_rows(Campaign.INVITATION) and not store.rsvps.answers():
        return None
    return "rsvp", dict(status_counts(load_summary(store, (), config)))
