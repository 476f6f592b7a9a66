"""The officer's own decisions: answers taken by phone, review decisions, the suppression list.

- ``rsvp set`` records a manual answer (it always wins over older mail, see
  :mod:`mailer.store.rsvp`) and closes the contact's open review items that asked for an answer;
- ``rsvp review`` resolves one item at a time: yes / no / maybe (a manual answer for the contact
  the item names, or one the officer types), suppress, or ignore;
- ``contacts suppress`` / ``unsuppress`` edit the list that every send honours.

An answer is only ever recorded for a known contact: one in contacts.csv or one who was invited.
"""

from __future__ import annotations

import datetime as dt
import enum
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from mailer.addresses import AddressError, normalize_address
from mailer.errors import MailerError
from mailer.models import Campaign, Contact
from mailer.rsvp.outcomes import ReviewKind
from mailer.rsvp.results import Answer
from mailer.store import AnswerUpdate, ReviewItem, RsvpAnswer, Store


class Decision(enum.StrEnum):
    YES = "yes"
    NO = "no"
    MAYBE = "maybe"
    SUPPRESS = "suppress"
    IGNORE = "ignore"  # nothing to record (a question answered by phone, an unrelated mail)


ANSWERS = (Decision.YES, Decision.NO, Decision.MAYBE)
# Review items that wait for an answer: a manual answer for the contact closes them.
ANSWER_KINDS = frozenset(
    {ReviewKind.UNCLEAR_TEXT, ReviewKind.CONFLICT, ReviewKind.DELEGATED, ReviewKind.OTHER_SENDER}
)
# Items whose sender is a mail server, not the person: never suppress or answer for the sender.
_SERVER_KINDS = frozenset(
    {ReviewKind.UNMATCHED_BOUNCE, ReviewKind.SUPPRESS, ReviewKind.SUSPECT_BOUNCE}
)
# Items about a contact sent from another address: suppressing acts on that sender only.
_SENDER_KINDS = frozenset({ReviewKind.OTHER_SENDER})
_TEXT_KINDS = frozenset({ReviewKind.UNCLEAR_TEXT, ReviewKind.UNMATCHED_TEXT})
_SUPPRESS_REASON: dict[str, tuple[str, str]] = {
    ReviewKind.UNSUBSCRIBE: ("asked to be removed", "unsubscribe"),
    ReviewKind.SUPPRESS: ("the address does not exist (bounce)", "bounce"),
}


@dataclass(frozen=True)
class ManualAnswer:
    answer: RsvpAnswer
    closed_reviews: tuple[int, ...]  # review items this answer settled
    invited: bool
    suppressed: bool  # the address is on the suppression list (it gets no further mail)


@dataclass(frozen=True)
class Decided:
    item: ReviewItem
    decision: Decision
    email: str  # the contact answered for, or the address suppressed; "" when ignored
    resolution: str  # as stored with the item


def known_contacts(store: Store, contacts: Sequence[Contact]) -> dict[str, str]:
    """Lower-case address -> the address as stored (contacts.csv first, then invitations)."""
    known = {c.email.lower(): c.email for c in contacts}
    for entry in store.journal.entries(Campaign.INVITATION):
        known.setdefault(entry.email.lower(), entry.email)
    return known


def _contact(address: str, known: Mapping[str, str]) -> str:
    found = known.get(address.strip().lower())
    if found is None:
        raise MailerError(
            f"{address.strip()}: not in contacts.csv and never invited",
            hint="check the address with 'mailer rsvp list' or 'mailer contacts list'",
        )
    return found


def set_answer(
    store: Store,
    *,
    contacts: Sequence[Contact],
    email: str,
    status: str,
    now: dt.datetime,
    guests: int | None = None,
    lunch: bool | None = None,
    interview: str = "",
    note: str = "",
) -> ManualAnswer:
    """Record an answer given by phone or in person (source "manual", stamped *now*)."""
    known = known_contacts(store, contacts)
    contact = _contact(email, known)
    try:
        answer = Answer(status)
    except ValueError:
        raise MailerError(f"--status: {status!r} is not one of yes, no, maybe") from None
    if guests is not None and guests < 0:
        raise MailerError(f"--guests: {guests} is negative")
    rsvps = store.rsvps
    rsvps.set_answer(
        AnswerUpdate(
            email=contact,
            status=answer.value,
            source="manual",
            stamp=now,
            guests=guests,
            lunch=lunch,
            interview=interview.strip(),
            note=note.strip(),
        ),
        now,
    )
    closed = []
    for item in rsvps.reviews(open_only=True):
        if (
            item.email.lower() == contact.lower()
            and item.kind in ANSWER_KINDS
            and rsvps.resolve_review(item.id, f"{answer.value}: {contact} (rsvp set)", now)
        ):
            closed.append(item.id)
    stored = rsvps.answer(contact)
    assert stored is not None
    invited = any(
        e.email.lower() == contact.lower() for e in store.journal.entries(Campaign.INVITATION)
    )
    return ManualAnswer(stored, tuple(closed), invited, rsvps.is_suppressed(contact))


def review_contact(item: ReviewItem, known: Mapping[str, str]) -> str:
    """The known contact an item is about ("" when the officer must say who)."""
    if item.email:
        return known.get(item.email.lower(), item.email)
    if item.kind in _SERVER_KINDS:
        return ""
    return known.get(item.sender.lower(), "")


def suppress_target(item: ReviewItem) -> str:
    """The address a suppress decision adds to the list ("" when the item names none).

    An answer sent from another address than the contact's suppresses that sender, never the
    contact it claims to speak for.
    """
    if item.kind in _SENDER_KINDS:
        return item.sender
    if item.email:
        return item.email
    return "" if item.kind in _SERVER_KINDS else item.sender


def decide(
    store: Store,
    item_id: int,
    decision: Decision,
    *,
    contacts: Sequence[Contact],
    now: dt.datetime,
    email: str = "",
) -> Decided:
    """Apply *decision* to the open review item *item_id*; *email* names the contact when the
    item does not (a reply from an unknown address)."""
    rsvps = store.rsvps
    item = next((i for i in rsvps.reviews(open_only=True) if i.id == item_id), None)
    if item is None:
        raise MailerError(f"review item {item_id}: not found, or decided already")
    kind = item.kind
    target = ""
    if decision in ANSWERS:
        known = known_contacts(store, contacts)
        target = _contact(email, known) if email else review_contact(item, known)
        if not target:
            raise MailerError(f"review item {item_id}: say which invited contact answered")
        target = _contact(target, known)
        note = " ".join(item.lines)[:500] if kind in _TEXT_KINDS else ""
        rsvps.set_answer(
            AnswerUpdate(
                email=target, status=decision.value, source="manual", stamp=now, note=note
            ),
            now,
        )
        resolution = f"{decision.value}: {target}"
    elif decision is Decision.SUPPRESS:
        target = email.strip() or suppress_target(item)
        if not target:
            raise MailerError(f"review item {item_id}: names no address to suppress")
        reason, source = _SUPPRESS_REASON.get(kind, ("decided in review", "review"))
        suppress(store, target, reason=reason, now=now, source=source)
        resolution = f"suppressed: {target}"
    else:
        resolution = "ignored"
    rsvps.resolve_review(item.id, resolution, now)
    return Decided(item, decision, target, resolution)


# --- the suppression list ------------------------------------------------------------------------


def _address(email: str) -> str:
    try:
        return normalize_address(email)
    except AddressError as exc:
        raise MailerError(str(exc)) from None


def suppress(
    store: Store, email: str, *, reason: str, now: dt.datetime, source: str = "manual"
) -> tuple[str, bool]:
    """Add *email* to the suppression list: (the address, False when it was there already)."""
    address = _address(email)
    return address, store.rsvps.suppress(address, reason or "manual", now, source)


def unsuppress(store: Store, email: str) -> str:
    address = _address(email)
    if not store.rsvps.unsuppress(address):
        raise MailerError(
            f"{address}: not on the suppression list", hint="'mailer contacts suppressed' lists it"
        )
    return address
