"""``mailer rsvp review``: the replies that need a person, decided one at a time.

:func:`review_replies` owns the loop and its decisions (:mod:`.decisions` applies each one);
the officer is asked through a :class:`Reviewer`, which the console implements on a terminal.
Without one (no terminal) the open items are only returned, to be listed.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from mailer.clock import Clock
from mailer.config import Config
from mailer.contacts import open_store, project_for
from mailer.errors import MailerError
from mailer.rsvp.decisions import (
    ANSWERS,
    Decided,
    Decision,
    decide,
    known_contacts,
    review_contact,
    suppress_target,
)
from mailer.store import ReviewItem

SKIP = "skip"  # leave the item open for later
QUIT = "quit"  # stop reviewing; the rest stays open


class Reviewer(Protocol):
    """The officer, asked about one review item at a time."""

    def choose(self, item: ReviewItem, number: int, total: int) -> str:
        """Show *item* (the *number*-th of *total*) and return a :class:`Decision` value,
        :data:`SKIP` or :data:`QUIT`."""
        ...

    def answered_by(self, item: ReviewItem) -> str:
        """The invited contact who answered, when the item names none ("": skip the item)."""
        ...

    def address_to_suppress(self, item: ReviewItem) -> str:
        """The address to get no more mail, when the item names none ("": skip the item)."""
        ...

    def decided(self, result: Decided) -> None: ...

    def refused(self, exc: MailerError) -> None:
        """The decision could not be applied; the item stays open and the review goes on."""
        ...


@dataclass(frozen=True)
class Reviewed:
    items: tuple[ReviewItem, ...]  # open when the review started
    asked: bool  # False: nobody was asked (no terminal, or nothing open)
    decided: int
    left: int  # still open at the end


def review_replies(config: Config, *, clock: Clock, reviewer: Reviewer | None) -> Reviewed:
    """Go through the open review items with *reviewer* (None: only return them)."""
    contacts = project_for(config).book.contacts
    with open_store(config) as store:
        items = tuple(store.rsvps.reviews(open_only=True))
        if not items or reviewer is None:
            return Reviewed(items, asked=False, decided=0, left=len(items))
        known = known_contacts(store, contacts)
        done = 0
        for number, item in enumerate(items, start=1):
            choice = reviewer.choose(item, number, len(items))
            if choice == QUIT:
                break
            if choice == SKIP:
                continue
            decision = Decision(choice)
            email = ""
            if decision in ANSWERS and not review_contact(item, known):
                email = reviewer.answered_by(item)
                if not email:
                    continue
            if decision is Decision.SUPPRESS and not suppress_target(item):
                email = reviewer.address_to_suppress(item)
                if not email:
                    continue
            try:
                result = decide(
                    store, item.id, decision, contacts=contacts, now=clock.now(), email=email
                )
            except MailerError as exc:
                reviewer.refused(exc)
                continue
            reviewer.decided(result)
            done += 1
        left = len(store.rsvps.reviews(open_only=True))
    return Reviewed(items, asked=True, decided=done, left=left)
