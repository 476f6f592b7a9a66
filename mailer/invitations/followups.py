"""Follow-up rounds after the invitation: reminders, event updates and cancellations.

Calendar clients update the entry they already have when a message carries the same UID and a
higher SEQUENCE. The journal therefore keeps, in its meta table, the fingerprint of the event
details the journalists last received and the SEQUENCE that went with them:

- ``invite update`` starts a new update round (SEQUENCE + 1) when the event in config.toml
  differs from what was sent, and resumes an unfinished round when it does not;
- ``invite cancel`` sends METHOD:CANCEL with SEQUENCE + 1;
- ``invite send`` refuses to invite new contacts with details that differ from what the others
  got, so that nobody ends up with a stale entry;
- ``invite remind`` re-sends the current REQUEST (same UID and SEQUENCE) with the reminder
  text, only to contacts who have not answered, did not bounce and did not opt out.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import json
from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo

from mailer.config import Config, EventConfig, EventText
from mailer.contacts import ContactBook, split_name
from mailer.errors import MailerError
from mailer.messages import RoundSpec
from mailer.models import Campaign, Contact, State
from mailer.store import Store

FINGERPRINT = "calendar_fingerprint"
SEQUENCE = "calendar_sequence"
CANCELLED = "calendar_cancelled"
EVENT = "calendar_event"  # the event details last sent (JSON), what an update compares with
UPDATE_FROM = "update_{round}_from"  # the details an update round changes from (JSON)


def fingerprint(config: Config) -> str:
    ev = config.event
    data: list[object] = [
        ev.title,
        ev.location,
        ev.description,
        ev.start.isoformat(),
        ev.end.isoformat(),
        ev.zone.key,
        ev.url,
        config.organizer.email,
    ]
    # Texts of other languages count where they differ from [event] (appended only then, so
    # that a journal written before [event.<language>] existed keeps its fingerprint).
    default = ev.default_text
    data.extend(
        [language, *dataclasses.astuple(text)]
        for language, text in sorted(ev.languages.items())
        if text != default
    )
    return hashlib.sha256(json.dumps(data).encode()).hexdigest()[:16]


def event_snapshot(event: EventConfig) -> str:
    """The event's details as JSON, kept in the journal when a round goes out."""
    return json.dumps(
        {
            "id": event.id,
            "title": event.title,
            "location": event.location,
            "description": event.description,
            "url": event.url,
            "start": event.start.isoformat(),
            "end": event.end.isoformat(),
            "timezone": event.zone.key,
            "languages": {
                language: dataclasses.asdict(text) for language, text in event.languages.items()
            },
        },
        ensure_ascii=False,
    )


def event_from_snapshot(text: str | None) -> EventConfig | None:
    """The event of :func:`event_snapshot`; None for a missing or unreadable one (a journal
    written before the details were kept: the update then tells the new details only)."""
    if not text:
        return None
    try:
        data = json.loads(text)
        zone = ZoneInfo(data["timezone"])
        return EventConfig(
            title=data["title"],
            location=data["location"],
            description=data["description"],
            start=dt.datetime.fromisoformat(data["start"]).astimezone(zone),
            end=dt.datetime.fromisoformat(data["end"]).astimezone(zone),
            zone=zone,
            id=data["id"],
            url=data["url"],
            languages={
                language: EventText(**values) for language, values in data["languages"].items()
            },
        )
    except (ValueError, KeyError, TypeError, AttributeError, LookupError):
        return None


@dataclass(frozen=True)
class CalendarState:
    fingerprint: str | None  # of the details last sent (None: nothing sent yet)
    sequence: int
    cancelled: bool


def calendar_state(store: Store) -> CalendarState:
    journal = store.journal
    seq = journal.get_meta(SEQUENCE)
    return CalendarState(
        fingerprint=journal.get_meta(FINGERPRINT),
        sequence=int(seq) if seq else 0,
        cancelled=journal.get_meta(CANCELLED) == "1",
    )


def invitation_sequence(config: Config, store: Store) -> int:
    """The SEQUENCE new invitations carry; refuses when the event changed since the last round."""
    state = calendar_state(store)
    if state.cancelled:
        raise MailerError(
            "the event was cancelled ('mailer invite cancel'); no new invitations are sent"
        )
    if (
        state.fingerprint is not None
        and state.fingerprint != fingerprint(config)
        and store.journal.entries(Campaign.INVITATION)
    ):
        raise MailerError(
            "config.toml: [event] changed since the invitations went out; run "
            "'mailer invite update' first so that everybody's calendar entry is updated",
        )
    return state.sequence


def followup_spec(
    campaign: Campaign,
    config: Config,
    *,
    round_: int,
    sequence: int,
    previous_event: EventConfig | None = None,
) -> RoundSpec:
    """What a reminder, update or cancellation round sends, given its round number and the
    calendar SEQUENCE (and, for an update, the event as it was sent before). A real round
    takes them from the journal (:func:`choose_round`); ``mailer check`` renders every
    follow-up with stand-in values, without a journal."""
    if campaign is Campaign.REMINDER:
        return RoundSpec(
            campaign=campaign,
            round=round_,
            template=config.invitation.reminder_template,
            calendar_method="REQUEST",
            attachments=(),
            attachments_key="",
            sequence=sequence,
        )
    if campaign is Campaign.UPDATE:
        return RoundSpec(
            campaign=campaign,
            round=round_,
            template="update",
            calendar_method="REQUEST",
            attachments=config.invitation.attachments,
            attachments_key="[invitation] attachments",
            sequence=sequence,
            previous_event=previous_event,
        )
    if campaign is Campaign.CANCEL:
        return RoundSpec(
            campaign=campaign,
            round=round_,
            template="cancel",
            calendar_method="CANCEL",
            attachments=(),
            attachments_key="",
            sequence=sequence,
        )
    raise ValueError(f"not a follow-up round: {campaign}")


def check_specs(config: Config) -> tuple[RoundSpec, ...]:
    """Every follow-up round as ``mailer check`` renders it: the first of its kind, after an
    invitation with SEQUENCE 0 (an update and a cancellation raise it to 1)."""
    return (
        followup_spec(Campaign.REMINDER, config, round_=1, sequence=0),
        followup_spec(
            Campaign.UPDATE, config, round_=1, sequence=1, previous_event=_moved(config.event)
        ),
        followup_spec(Campaign.CANCEL, config, round_=0, sequence=1),
    )


def _moved(event: EventConfig) -> EventConfig:
    """A stand-in for the event as sent before, differing in every fact an update lists, so
    that ``mailer check`` renders the update templates' ``changes`` too."""
    day = dt.timedelta(days=1)

    def other(text: EventText) -> EventText:
        return EventText(f"{text.title} (-)", f"{text.location} (-)", text.description, "-")

    return dataclasses.replace(
        event,
        title=f"{event.title} (-)",
        location=f"{event.location} (-)",
        url="-",
        start=event.start - day,
        end=event.end - day,
        languages={language: other(text) for language, text in event.languages.items()},
    )


def _open_round(store: Store, campaign: Campaign) -> tuple[int, int] | None:
    """(round, SEQUENCE) of the latest round of *campaign* if it still has messages to send."""
    last = store.journal.max_round(campaign)
    rows = store.journal.entries(campaign, last)
    if not rows or not any(r.state in (State.PENDING, State.CLAIMED) for r in rows):
        return None
    return last, rows[0].sequence


def update_spec(config: Config, store: Store) -> RoundSpec | None:
    """The update round to send (an unfinished one first), or None when nothing changed."""
    state = calendar_state(store)
    if state.cancelled:
        raise MailerError("the event was cancelled; an update cannot be sent after a cancellation")
    if not store.journal.entries(Campaign.INVITATION):
        raise MailerError(
            "no invitations were sent yet; 'mailer invite send' sends the current details"
        )
    resume = _open_round(store, Campaign.UPDATE)
    if resume is not None:
        round_, sequence = resume
        previous = store.journal.get_meta(UPDATE_FROM.format(round=round_))
    elif state.fingerprint == fingerprint(config):
        return None
    else:
        round_, sequence = store.journal.max_round(Campaign.UPDATE) + 1, state.sequence + 1
        previous = store.journal.get_meta(EVENT)
    return followup_spec(
        Campaign.UPDATE,
        config,
        round_=round_,
        sequence=sequence,
        previous_event=event_from_snapshot(previous),
    )


def stale_translations(previous: EventConfig, current: EventConfig) -> tuple[str, ...]:
    """Warnings for language tables that kept a text while ``[event]`` changed it: their
    contacts are told the text of the table (an ``invite update`` shows them before asking)."""
    out = []
    before, after = previous.default_text, current.default_text
    for language in sorted(current.languages):
        for key in ("title", "location", "description", "url"):
            old, new = getattr(before, key), getattr(after, key)
            kept = getattr(current.text(language), key)
            if old != new and kept == getattr(previous.text(language), key) and kept != new:
                out.append(
                    f"[event] {key} changed but [event.{language}] {key} did not; its "
                    f"contacts are still told {_short(kept)}"
                )
    return tuple(out)


def _short(text: str) -> str:
    line = " ".join(text.split())
    return repr(line if len(line) <= 60 else line[:57] + "...")


def cancel_spec(config: Config, store: Store) -> RoundSpec:
    state = calendar_state(store)
    if not store.journal.entries(Campaign.INVITATION):
        raise MailerError("no invitations were sent, so there is nothing to cancel")
    sequence = state.sequence if state.cancelled else state.sequence + 1
    return followup_spec(Campaign.CANCEL, config, round_=0, sequence=sequence)


def record_round(config: Config, store: Store, spec: RoundSpec) -> None:
    """After a round's rows are reserved: remember what the calendars now hold."""
    journal = store.journal
    if spec.campaign in (Campaign.INVITATION, Campaign.UPDATE):
        if spec.campaign is Campaign.UPDATE and spec.previous_event is not None:
            # A resumed round still tells what changed from the details sent before it.
            journal.set_meta(
                UPDATE_FROM.format(round=spec.round), event_snapshot(spec.previous_event)
            )
        journal.set_meta(FINGERPRINT, fingerprint(config))
        journal.set_meta(EVENT, event_snapshot(config.event))
        journal.set_meta(SEQUENCE, str(spec.sequence))
    elif spec.campaign is Campaign.CANCEL:
        journal.set_meta(SEQUENCE, str(spec.sequence))
        journal.set_meta(CANCELLED, "1")


def reminder_spec(config: Config, store: Store) -> RoundSpec:
    state = calendar_state(store)
    if state.cancelled:
        raise MailerError("the event was cancelled; no reminders are sent")
    resume = _open_round(store, Campaign.REMINDER)
    round_ = resume[0] if resume is not None else store.journal.max_round(Campaign.REMINDER) + 1
    return followup_spec(Campaign.REMINDER, config, round_=round_, sequence=state.sequence)


def invited_contacts(book: ContactBook, store: Store, config: Config) -> tuple[Contact, ...]:
    """Everyone who was sent (or may have been sent) an invitation, also if since removed from
    contacts.csv: their calendars hold the entry and must get updates and cancellations."""
    sent = {
        e.email: e
        for e in store.journal.entries(Campaign.INVITATION)
        if e.state in (State.SENT, State.IN_DOUBT)
    }
    by_email = {c.email: c for c in book.contacts}
    out = []
    for email, entry in sent.items():
        contact = by_email.get(email)
        if contact is None:
            first, last = split_name(entry.name)
            contact = Contact(
                email=email,
                name=entry.name,
                outlet="",
                language=config.contacts.default_language,
                tags=(),
                line=0,
                fields={"email": email, "name": entry.name},
                first_name=first,
                last_name=last,
            )
        out.append(contact)
    return tuple(out)


def reminder_contacts(book: ContactBook, store: Store, config: Config) -> tuple[Contact, ...]:
    """Invited contacts without an answer, not bounced and not opted out."""
    rsvps = store.rsvps
    skip = {a.email.lower() for a in rsvps.answers()}
    skip |= {e.lower() for e in rsvps.bounced()}
    skip |= {e.lower() for e in rsvps.suppressed_emails()}
    return tuple(c for c in invited_contacts(book, store, config) if c.key not in skip)


def choose_round(
    kind: str, config: Config, book: ContactBook, store: Store
) -> tuple[RoundSpec, tuple[Contact, ...]] | None:
    """The round and the recipients of a follow-up ('reminder', 'update' or 'cancel')."""
    if kind == "reminder":
        return reminder_spec(config, store), reminder_contacts(book, store, config)
    if kind == "cancel":
        return cancel_spec(config, store), invited_contacts(book, store, config)
    spec = update_spec(config, store)
    return None if spec is None else (spec, invited_contacts(book, store, config))


# --- mailer status -----------------------------------------------------------------------------

FOLLOWUPS = (Campaign.REMINDER, Campaign.UPDATE, Campaign.CANCEL)


def followups_section(config: Config, store: Store) -> tuple[str, dict[str, Any]] | None:
    """``"followups"``: each reminder, update and cancel round with its rows by state (from the
    journal by campaign and round); nothing when no follow-up was sent."""
    found: dict[str, Any] = {}
    for campaign in FOLLOWUPS:
        rounds = store.journal.round_counts(campaign)
        if rounds:
            found[campaign.value] = [{"round": r, **c.as_dict()} for r, c in rounds.items()]
    return ("followups", found) if found else None


def update_due_section(config: Config, store: Store) -> tuple[str, dict[str, Any]] | None:
    """``"update_due"``: whether ``mailer invite update`` has something to send, because
    ``[event]`` changed since the invitations (or the last update) went out, or an update round
    is unfinished; nothing before the first invitation."""
    if not store.journal.has_rows(Campaign.INVITATION):
        return None
    state = calendar_state(store)
    since = "the last update" if store.journal.has_rows(Campaign.UPDATE) else "the invitations"
    if state.cancelled:
        due, reason = False, "the event was cancelled (mailer invite cancel)"
    elif _open_round(store, Campaign.UPDATE) is not None:
        due, reason = True, "an update round is unfinished (mailer invite update resumes it)"
    elif state.fingerprint is not None and state.fingerprint != fingerprint(config):
        due, reason = True, f"[event] changed since {since} went out (mailer invite update)"
    else:
        due, reason = False, ""
    return "update_due", {"due": due, "reason": reason}
