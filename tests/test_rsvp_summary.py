"""mailer.rsvp.summary: the rows of ``rsvp list`` / ``export`` and the headcounts of ``summary``."""

from __future__ import annotations

import datetime as dt
import tempfile
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mailer.config.load import load_config
from mailer.contacts import load_project
from mailer.invitations.followups import reminder_contacts
from mailer.models import Campaign, Contact, JournalEntry, State
from mailer.rsvp.summary import (
    Delivery,
    RsvpRow,
    Status,
    build_rows,
    can_be_reminded,
    interview_wishes,
    load_rows,
    match_speaker,
    rsvp_section,
    select_rows,
    speakers_of,
    summarize,
)
from mailer.store import Reservation, Store
from mailer.store.rsvp import AnswerUpdate, BounceRecord, MessageOutcome, RsvpAnswer
from tests.conftest import FIXED_NOW
from tests.helpers import make_project, set_keys

NOW = FIXED_NOW


def contact(email: str, name: str = "", outlet: str = "") -> Contact:
    return Contact(email=email, name=name, outlet=outlet, language="fi", tags=(), line=2)


def entry(email: str, state: State = State.SENT, id_: int = 1, name: str = "") -> JournalEntry:
    return JournalEntry(
        id=id_,
        campaign=Campaign.INVITATION,
        email=email,
        name=name,
        message_id=f"<{id_}.{email}>",
        ics_uid=f"uid-{email}",
        sequence=0,
        state=state,
        attempts=1,
        last_error="",
        created_at=NOW,
        updated_at=NOW,
        sent_at=NOW,
    )


def answer(
    email: str,
    status: str,
    *,
    guests: int = 0,
    lunch: bool | None = None,
    interview: str = "",
    source: str = "text",
) -> RsvpAnswer:
    return RsvpAnswer(
        email=email,
        status=status,
        guests=guests,
        lunch=lunch,
        interview=interview,
        note="",
        source=source,
        stamp=NOW,
        sequence=None,
        from_address="",
        message_key="",
        updated_at=NOW,
    )


def bounce(email: str, status: str = "5.1.1") -> BounceRecord:
    return BounceRecord(email, email, status, "failed", "550 unknown", True)


def row(
    email: str,
    status: Status,
    *,
    guests: int = 0,
    lunch: bool | None = None,
    interview: str = "",
    delivery: Delivery = Delivery.SENT,
    suppressed: bool = False,
) -> RsvpRow:
    return RsvpRow(
        email=email,
        name="",
        outlet="",
        language="fi",
        status=status,
        guests=guests,
        lunch=lunch,
        interview=interview,
        note="",
        source="",
        answered_from="",
        answered_at=None,
        delivery=delivery,
        bounce="",
        suppressed=suppressed,
    )


# --- rows ----------------------------------------------------------------------------------------


def test_one_row_per_invited_contact_in_contacts_order() -> None:
    rows = build_rows(
        contacts=[
            contact("b@x.example", "Bea", "Yle"),
            contact("a@x.example", "Aki", "HS"),
            contact("c@x.example", "Cai"),
        ],
        invitations=[entry("a@x.example", id_=1), entry("b@x.example", id_=2)],
        answers=[answer("a@x.example", "yes", guests=1, lunch=True, interview="Vesa")],
        bounced={},
        suppressed=(),
    )
    assert [(r.email, r.name, r.outlet, r.status) for r in rows] == [
        ("b@x.example", "Bea", "Yle", Status.NONE),
        ("a@x.example", "Aki", "HS", Status.YES),
    ]  # Cai was not invited and did not answer: no row
    assert (rows[1].guests, rows[1].lunch, rows[1].interview, rows[1].people) == (
        1,
        True,
        "Vesa",
        2,
    )


def test_answered_contact_without_invitation_and_removed_contact() -> None:
    rows = build_rows(
        contacts=[contact("a@x.example", "Aki")],
        invitations=[entry("gone@x.example", name="Gone From Csv")],
        answers=[answer("a@x.example", "maybe", source="manual")],
        bounced={},
        suppressed=(),
    )
    assert [(r.email, r.name, r.delivery) for r in rows] == [
        ("a@x.example", "Aki", Delivery.NOT_INVITED),
        ("gone@x.example", "Gone From Csv", Delivery.SENT),
    ]


@pytest.mark.parametrize(
    ("state", "delivery"),
    [
        (State.SENT, Delivery.SENT),
        (State.FAILED, Delivery.FAILED),
        (State.IN_DOUBT, Delivery.IN_DOUBT),
        (State.PENDING, Delivery.PENDING),
        (State.CLAIMED, Delivery.PENDING),
        (State.TRANSMITTING, Delivery.PENDING),
        (State.SKIPPED, Delivery.SKIPPED),
    ],
)
def test_delivery_from_the_journal(state: State, delivery: Delivery) -> None:
    (only,) = build_rows(
        contacts=[],
        invitations=[entry("a@x.example", state)],
        answers=[],
        bounced={},
        suppressed=(),
    )
    assert only.delivery is delivery
    assert Delivery.IN_DOUBT.value == "in-doubt"


def test_a_bounce_overrides_sent_and_case_does_not_matter() -> None:
    (only,) = build_rows(
        contacts=[contact("Anna.K@x.example")],
        invitations=[entry("Anna.K@x.example")],
        answers=[answer("anna.k@x.example", "yes")],
        bounced={"anna.k@x.example": bounce("anna.k@x.example", "5.2.2")},
        suppressed=frozenset({"anna.k@x.example"}),
    )
    assert (only.email, only.status, only.delivery, only.bounce, only.suppressed) == (
        "Anna.K@x.example",
        Status.YES,
        Delivery.BOUNCED,
        "5.2.2",
        True,
    )


def test_the_best_delivery_of_several_rounds_counts() -> None:
    (only,) = build_rows(
        contacts=[],
        answers=[],
        bounced={},
        suppressed=(),
        invitations=[
            entry("a@x.example", State.FAILED, 1),
            entry("a@x.example", State.SENT, 2),
            entry("a@x.example", State.PENDING, 3),
        ],
    )
    assert only.delivery is Delivery.SENT


def test_select_rows() -> None:
    rows = (row("a@x", Status.YES), row("b@x", Status.NONE), row("c@x", Status.YES))
    assert [r.email for r in select_rows(rows, Status.YES)] == ["a@x", "c@x"]
    assert select_rows(rows, None) == rows


# --- summary -------------------------------------------------------------------------------------


def test_headcounts() -> None:
    rows = [
        row("a@x", Status.YES, guests=1, lunch=True),  # 2 people, both eat
        row("b@x", Status.YES, lunch=False),
        row("c@x", Status.YES, guests=2),  # 3 people, lunch not said
        row("d@x", Status.MAYBE, guests=1, lunch=True),  # maybes do not count for lunch
        row("e@x", Status.NO, guests=3),
        row("f@x", Status.NONE),
        row("g@x", Status.NONE, delivery=Delivery.BOUNCED),
        row("h@x", Status.NONE, suppressed=True),
        row("i@x", Status.NONE, delivery=Delivery.IN_DOUBT),
        row("j@x", Status.NONE, delivery=Delivery.FAILED),
        row("k@x", Status.YES, delivery=Delivery.NOT_INVITED),
    ]
    s = summarize(rows, open_reviews=4, suppressions=1)
    assert (s.invited, s.yes, s.maybe, s.no, s.none) == (10, 4, 1, 1, 5)
    assert (s.guests, s.expected, s.maybe_people) == (3, 7, 2)
    assert (s.lunch, s.lunch_unknown) == (2, 4)
    assert s.bounced == (("g@x", ""),)
    assert dict(s.deliveries) == {"sent": 7, "failed": 1, "bounced": 1, "in-doubt": 1}
    assert (s.suppressed, s.review) == (1, 4)
    assert s.to_remind == 2  # f (sent) and i (in doubt); not bounced, suppressed or failed
    assert [r.email for r in rows if can_be_reminded(r)] == ["f@x", "i@x"]


def test_empty_summary() -> None:
    s = summarize([], open_reviews=0, suppressions=0)
    assert (s.invited, s.expected, s.lunch, s.interviews, s.deliveries) == (0, 0, 0, (), {})


SPEAKERS = ("Jarkko Vesa", "Anna-Liisa Virtanen")


@pytest.mark.parametrize(
    ("wish", "speaker"),
    [
        ("Vesa", "Jarkko Vesa"),
        ("Vesan", "Jarkko Vesa"),
        ("Vesalta", "Jarkko Vesa"),
        ("Jarkko", "Jarkko Vesa"),
        ("jarkon", "Jarkko Vesa"),
        ("Virtanen", "Anna-Liisa Virtanen"),
        ("Anna-Liisa", "Anna-Liisa Virtanen"),
        ("the mayor", ""),
        ("Veijo", ""),
        ("", ""),
    ],
)
def test_match_speaker(wish: str, speaker: str) -> None:
    assert match_speaker(wish, SPEAKERS) == speaker


def test_interview_wishes_grouped_by_speaker() -> None:
    rows = [
        row("a@x", Status.YES, interview="Vesa"),
        row("b@x", Status.MAYBE, interview="Virtanen, Vesan"),
        row("c@x", Status.YES, interview="the mayor"),
        row("d@x", Status.YES, interview="The Mayor"),
        row("e@x", Status.YES, interview="Jarkko Vesa, Vesa"),  # one person asks once
    ]
    wishes = interview_wishes(rows, SPEAKERS)
    assert [(w.speaker, w.emails) for w in wishes] == [
        ("Jarkko Vesa", ("a@x", "b@x", "e@x")),
        ("Anna-Liisa Virtanen", ("b@x",)),
        ("the mayor", ("c@x", "d@x")),
    ]
    no = summarize(
        [row("z@x", Status.NO, interview="Vesa")], open_reviews=0, suppressions=0, speakers=SPEAKERS
    )
    assert no.interviews == ()  # someone not coming is not interviewed


def test_speakers_from_vars(tmp_path: Path) -> None:
    project = make_project(tmp_path / "p")
    assert speakers_of(load_config(project / "config.toml")) == ("Jarkko Vesa",)
    set_keys(project, "vars", speakers="Anna Virtanen; Jarkko Vesa, Matti Meikäläinen")
    assert speakers_of(load_config(project / "config.toml")) == (
        "Jarkko Vesa",
        "Anna Virtanen",
        "Matti Meikäläinen",
    )


# --- against the store ---------------------------------------------------------------------------


def test_rsvp_section_of_mailer_status(tmp_path: Path) -> None:
    project = make_project(tmp_path / "p")
    config = load_config(project / "config.toml")
    with Store(tmp_path / "m.db") as store:
        assert rsvp_section(config, store) is None  # nothing sent yet
        store.journal.reserve(
            Campaign.INVITATION, 0, [Reservation("a@x.example", "A", "<1@x>", "u1", 0)], NOW
        )
        store.rsvps.set_answer(
            AnswerUpdate("a@x.example", "yes", "manual", NOW, guests=1, lunch=True), NOW
        )
        assert rsvp_section(config, store) == (
            "rsvp",
            {
                "yes": 1,
                "no": 0,
                "maybe": 0,
                "none": 0,
                "guests": 1,
                "lunch": 2,
                "bounced": 0,
                "review": 0,
            },
        )


STATES = st.sampled_from([State.SENT, State.FAILED, State.IN_DOUBT, State.PENDING])
PER_CONTACT = st.tuples(
    STATES,
    st.sampled_from([None, "yes", "no", "maybe"]),  # answer
    st.booleans(),  # bounced
    st.booleans(),  # suppressed
)


@pytest.fixture(scope="module")
def starter(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_project(tmp_path_factory.mktemp("starter") / "p")


@settings(max_examples=40, deadline=None)
@given(states=st.lists(PER_CONTACT, min_size=7, max_size=7))
def test_to_remind_is_what_invite_remind_reaches(
    starter: Path, states: list[tuple[State, str | None, bool, bool]]
) -> None:
    project = load_project(starter / "config.toml")
    contacts = project.book.contacts
    with tempfile.TemporaryDirectory() as tmp, Store(Path(tmp) / "m.db") as store:
        store.journal.reserve(
            Campaign.INVITATION,
            0,
            [Reservation(c.email, c.name, f"<{n}@x>", f"u{n}", 0) for n, c in enumerate(contacts)],
            NOW,
        )
        for n, (c, (state, status, bounced, blocked)) in enumerate(
            zip(contacts, states, strict=True)
        ):
            mid = f"<{n}@x>"
            if state is not State.PENDING:
                store.journal.claim(mid, "t", NOW)
            if state is State.SENT:
                store.journal.mark_sent(mid, NOW)
            elif state is State.FAILED:
                store.journal.mark_failed(mid, NOW, "550 refused")
            elif state is State.IN_DOUBT:
                store.journal.mark_in_doubt(mid, NOW, "connection lost")
            if status:
                store.rsvps.set_answer(AnswerUpdate(c.email, status, "manual", NOW), NOW)
            if bounced:
                store.rsvps.record(
                    MessageOutcome(
                        key=f"b{n}",
                        source="x",
                        kind="bounce",
                        outcome="bounced",
                        email=c.email,
                        message_id="",
                        sender="",
                        subject="",
                        details="{}",
                        received_at=NOW,
                        bounces=(BounceRecord(c.email, c.email, "5.1.1", "failed", "", True),),
                    ),
                    NOW + dt.timedelta(seconds=1),
                )
            if blocked:
                store.rsvps.suppress(c.email, "test", NOW)
        rows = load_rows(store, contacts)
        expected = sorted(c.email for c in reminder_contacts(project.book, store, project.config))
        assert sorted(r.email for r in rows if can_be_reminded(r)) == expected
