"""The value types of the report and the door list (frozen dataclasses, no behaviour)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from mailer.wording import plural


@dataclass(frozen=True)
class InvitationCounts:
    """The invitation round, one number per contact (a contact's best delivery counts)."""

    invited: int  # contacts with an invitation
    delivered: int  # accepted by the server and not bounced
    failed: int  # refused by the server
    in_doubt: int  # the connection broke after the data was sent
    bounced: int  # accepted, then returned
    suppressed: int  # addresses on the suppression list
    pending: int  # planned, not sent yet


@dataclass(frozen=True)
class AnswerCounts:
    """Answers of one group of contacts (all of them, a language, an outlet type)."""

    label: str
    yes: int
    no: int
    maybe: int
    none: int

    @property
    def total(self) -> int:
        return self.yes + self.no + self.maybe + self.none


@dataclass(frozen=True)
class AnswersOnDay:
    """Answers received in one period after the invitation went out (day 0 = that day)."""

    label: str  # "day 0", "days 7-13"
    start: dt.date
    yes: int
    no: int
    maybe: int
    answered: int  # answers received up to the end of this period, all of them


@dataclass(frozen=True)
class Headcounts:
    journalists: int  # yes answers
    guests: int  # people the yes answers bring along
    photographers: int  # yes answers that bring a photographer
    expected: int  # journalists + guests
    lunch: int  # people of yes answers with lunch
    lunch_unknown: int  # people of yes answers that said nothing about lunch
    maybe_people: int  # maybe answers + their guests
    interviews: tuple[tuple[str, int], ...]  # (speaker, requests), as rsvp summary orders them


@dataclass(frozen=True)
class ReviewEntry:
    id: int
    kind: str
    who: str  # the contact, or the sender
    reason: str
    needs: str  # what the officer has to do, in her terms
    received: dt.datetime  # local time


@dataclass(frozen=True)
class Bin:
    label: str  # "0-1 s"
    count: int


@dataclass(frozen=True)
class ReleaseProblem:
    """A release message shown loudly: early, late, failed, in doubt or never sent."""

    email: str
    name: str
    problem: str  # "early", "late", "failed", "in doubt", "not sent"
    detail: str  # "12.3 s before the embargo", the server's answer...


@dataclass(frozen=True)
class Prebriefed:
    email: str
    name: str
    outlet: str
    state: str  # sent / failed / in doubt / pending
    at: dt.datetime | None  # local time it was accepted


@dataclass(frozen=True)
class ReleaseReport:
    embargo: dt.datetime  # local, in the schedule's zone
    zone: str
    state: str  # scheduled / sending / done / missed / cancelled / paused
    mode: str  # personal / bcc
    tag: str
    grace_minutes: int
    scheduled_at: dt.datetime  # local: when it was scheduled
    prebriefed: tuple[Prebriefed, ...]
    recipients: int  # release messages in the journal
    accepted: int  # accepted by the server
    first: float | None  # seconds after the embargo of the first, median and last acceptance
    median: float | None
    last: float | None
    histogram: tuple[Bin, ...]
    problems: tuple[ReleaseProblem, ...]


@dataclass(frozen=True)
class Report:
    title: str
    start: dt.datetime  # local
    end: dt.datetime
    location: str
    zone: str
    generated: dt.datetime  # local
    invitations: InvitationCounts
    answers: AnswerCounts
    by_language: tuple[AnswerCounts, ...]
    by_tag: tuple[AnswerCounts, ...]
    sent_out: dt.datetime | None  # local: when the first invitation was accepted
    timeline: tuple[AnswersOnDay, ...]
    headcounts: Headcounts
    reviews: tuple[ReviewEntry, ...]
    release: ReleaseReport | None  # None: never scheduled nor sent


@dataclass(frozen=True)
class DoorRow:
    surname: str
    first_name: str
    outlet: str
    email: str
    party: int  # the journalist and the guests
    photographer: bool
    lunch: bool | None  # None: not said
    interview: str  # speakers, as rsvp summary names them


@dataclass(frozen=True)
class DoorList:
    title: str
    start: dt.datetime  # local
    location: str
    generated: dt.datetime  # local
    rows: tuple[DoorRow, ...]  # the yes answers, by surname
    maybe: tuple[DoorRow, ...]  # the maybe answers, by surname (not counted)
    expected: int  # people: yes answers and their guests
    lunch: int
    lunch_unknown: int

    @property
    def caterer(self) -> str:
        """The line the caterer reads."""
        unknown = f" (and {self.lunch_unknown} more who did not say)" if self.lunch_unknown else ""
        return (
            f"For the caterer: lunch for {plural(self.lunch, 'person', 'people')}{unknown}; "
            f"{plural(self.expected, 'person', 'people')} expected."
        )
