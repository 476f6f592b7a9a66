"""Which contact a reply is about, and whether its sender may speak for them.

A reply is matched to a contact by what it carries (the calendar UID, the Message-ID of the
invitation in In-Reply-To / References) or by its sender's address; it is applied only when the
sender's real address (from the raw ``From:``, see :mod:`.senders`) is the contact's own. Every
other match goes to review with a reason the officer can read ("sent from attacker@evil.example,
not from jyrki.hyvonen@yle.example").
"""

from __future__ import annotations

from collections.abc import Iterable

from mailer.models import Campaign
from mailer.rsvp.results import BounceRecipient, BounceReport, Envelope
from mailer.rsvp.senders import address_key, mismatch
from mailer.store import Store


def sender_mismatch(contact: str, env: Envelope) -> str:
    """Why the message in *env* may not change *contact* ("" when its sender is the contact)."""
    return mismatch(contact, env.sender, env.sender_doubt)


def bounce_doubt(
    report: BounceReport, recipient: BounceRecipient, proof: bool, env: Envelope
) -> str:
    """Why a failure report may not mark its recipient ("" when it may).

    A report counts when it comes from a mail server (:attr:`BounceReport.from_server`), or
    when it is a delivery-status report that returns the very invitation sent to the address it
    reports (*proof*: its original Message-ID is that contact's invitation).
    """
    if report.from_server or (proof and report.format == "rfc3464"):
        return ""
    who = env.sender or "no sender address"
    return (
        f"a delivery report about {recipient.address} sent from {who}, which is not a mail "
        "server's address: nothing was marked"
    )


class Matcher:
    """Look-ups in the journal, with the address index built once per run."""

    def __init__(self, store: Store) -> None:
        self._journal = store.journal
        self._emails: dict[str, str] | None = None

    def by_ids(self, ids: Iterable[str]) -> str | None:
        for mid in ids:
            entry = self._journal.by_message_id(mid)
            if entry is not None:
                return entry.email
        return None

    def by_address(self, address: str) -> str | None:
        """The contact whose address is *address* in :func:`address_key`'s normal form."""
        key = address_key(address) if address else None
        if key is None:
            return None
        if self._emails is None:
            self._emails = {}
            for campaign in Campaign:
                for entry in self._journal.entries(campaign):
                    own = address_key(entry.email)
                    if own is not None:
                        self._emails.setdefault(own, entry.email)
        return self._emails.get(key)

    def by_uid(self, uid: str, attendee: str, sender: str) -> tuple[str | None, str]:
        """(contact, "") or (None, why not)."""
        emails: list[str] = []
        for entry in self._journal.by_uid(uid):
            if entry.email not in emails:
                emails.append(entry.email)
        if not emails:
            return None, f"the calendar UID {uid[:80]} matches no invitation"
        if len(emails) == 1:
            return emails[0], ""
        for wanted in (attendee, sender):
            wanted_key = address_key(wanted) if wanted else None
            for email in emails:
                if wanted_key is not None and address_key(email) == wanted_key:
                    return email, ""
        return None, f"the calendar UID {uid[:80]} belongs to several contacts"
