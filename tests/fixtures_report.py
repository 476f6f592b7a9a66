"""A project with a journal of known counts, for the report and door list tests and the docs'
screenshots (scripts/screenshots.py): the starter project with 24 contacts, an invitation round,
answers over twelve days, bounces, suppressions, review items, a pre-brief and a release.

Everything goes through the store's own API, as the commands write it; :data:`EXPECTED` holds
the numbers the report must show.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from zoneinfo import ZoneInfo

from mailer.config import load_config
from mailer.models import Campaign, ScheduleState
from mailer.project import write_starter
from mailer.store import (
    AnswerUpdate,
    BounceRecord,
    MessageOutcome,
    Reservation,
    ReviewDraft,
    Store,
)

HELSINKI = ZoneInfo("Europe/Helsinki")
SENT_OUT = dt.datetime(2027, 5, 20, 9, 0, tzinfo=HELSINKI)
EMBARGO = dt.datetime(2027, 6, 25, 13, 0, tzinfo=HELSINKI)
NOW = dt.datetime(2027, 6, 25, 14, 0, tzinfo=HELSINKI)

# (name, outlet, language, tags)
PEOPLE = [
    ("Päivi Mäki-Jaakkola", "Keskipohjanmaa", "fi", "local|trusted"),
    ("Jyrki Hyvönen", "Yle Keski-Pohjanmaa", "fi", "local|broadcast"),
    ("Riikka Länsimäki", "Teollisuusuutiset", "fi", "national|trade"),
    ("Åsa Sjöholm", "Österbottens Tidning", "sv", "local|trusted"),
    ("Jörgen Byström", "Yle Österbotten", "sv", "local|broadcast"),
    ("Mikael Björklund", "Nordisk Energi", "sv", "national|trade"),
    ("Sarah Okafor", "Battery Insider", "en", "international|trade"),
    ("Antti Östman", "Helsingin Sanomat", "fi", "national"),
    ("Laura Ahonen", "Kauppalehti", "fi", "national|trade"),
    ("Olli Zetterberg", "Apu & <Kumppanit>", "fi", "national"),
    ("Hanna Kivelä", "Kokkola-lehti", "fi", "local"),
    ("Tuomas Rinne", "MTV Uutiset", "fi", "national|broadcast"),
    ("Eva Lindholm", "Hufvudstadsbladet", "sv", "national"),
    ("Peter Nyman", "Vasabladet", "sv", "local"),
    ("Mari Salo", "Tekniikka&Talous", "fi", "national|trade"),
    ("Jussi Ylönen", "Iltalehti", "fi", "national"),
    ("Ida Holm", "Svenska Yle", "sv", "national|broadcast"),
    ("Tom Becker", "Electrive", "en", "international|trade"),
    ("Noora Heikkilä", "STT", "fi", "national"),
    ("Karin Åberg", "Kokkola Radio", "sv", "local|broadcast"),
    ("Lucy Grant", "Reuters", "en", "international"),
    ("Matti Virtanen", "Maaseudun Tulevaisuus", "fi", "national"),
    ("Elina Koski", "Keskipohjanmaa", "fi", "local"),
    ("Niklas Ek", "Österbottens Tidning", "sv", "local"),
]


def address(n: int) -> str:
    return f"journalist{n:02d}@media.example"


# index -> (status, guests, lunch, interview, note, days after the invitation went out)
ANSWERS: dict[int, tuple[str, int, bool | None, str, str, int]] = {
    4: ("yes", 1, True, "Vesa", "Tulen kuvaajan kanssa.", 0),
    5: ("yes", 1, True, "", "With a photographer.", 0),
    6: ("yes", 2, False, "", "Kahden kollegan kanssa.", 1),
    7: ("yes", 0, True, "Jarkko Vesa", "", 1),
    8: ("yes", 0, True, "Lindqvist", "", 2),
    9: ("yes", 0, None, "", "", 3),
    10: ("yes", 0, None, "", "", 5),
    11: ("yes", 0, True, "", "", 7),
    12: ("yes", 0, False, "", "", 9),
    13: ("yes", 0, True, "", "", 12),
    14: ("no", 0, None, "", "", 0),
    15: ("no", 0, None, "", "", 2),
    16: ("no", 0, None, "", "", 4),
    17: ("no", 0, None, "", "", 8),
    18: ("maybe", 1, None, "Vesan", "", 3),
    19: ("maybe", 0, None, "", "", 6),
}
EXPECTED = {
    "invited": 23,
    "delivered": 20,
    "failed": 1,
    "in_doubt": 1,
    "bounced": 1,
    "suppressed": 1,
    "yes": 10,
    "no": 4,
    "maybe": 2,
    "none": 7,
    "expected": 14,
    "journalists": 10,
    "guests": 4,
    "photographers": 2,
    "lunch": 8,
    "lunch_unknown": 2,
    "maybe_people": 3,
    "interviews": {"Jarkko Vesa": 3, "Maria Lindqvist": 1},
    "reviews": 2,
    "release_recipients": 20,
    "prebriefed": 2,
}
RELEASE_GAP = 0.15  # seconds between release acceptances


def write_sample(folder: Path, *, early: bool = False) -> Path:
    """The sample project in *folder*; returns its config.toml. *early*: one release message
    was accepted 3 s before the embargo (the report must shout)."""
    write_starter(folder, now=SENT_OUT)
    lines = ["email,name,outlet,language,tags"]
    for n, (name, outlet, language, tags) in enumerate(PEOPLE):
        quoted = f'"{outlet}"' if "," in outlet else outlet
        lines.append(f"{address(n)},{name},{quoted},{language},{tags}")
    (folder / "contacts.csv").write_text("\n".join(lines) + "\n", encoding="utf-8")
    config_path = folder / "config.toml"
    with config_path.open("a", encoding="utf-8") as f:
        f.write('speakers = "Jarkko Vesa, Maria Lindqvist"\n')
    config = load_config(config_path)
    with Store(folder / "mailer.db") as store:
        _journal(store, early=early)
    assert config.event.title
    return config_path


def _send(store: Store, campaign: Campaign, n: int, at: dt.datetime, outcome: str = "sent") -> None:
    mid = f"<{campaign.value}-{n}@kokkola.example>"
    name = PEOPLE[n][0]
    store.journal.reserve(campaign, 0, [Reservation(address(n), name, mid, None, 0)], at)
    store.journal.claim(mid, "test", at)
    if outcome == "sent":
        store.journal.mark_sent(mid, at, "250 2.0.0 Ok")
    elif outcome == "failed":
        store.journal.mark_failed(mid, at, "550 5.1.1 mailbox unknown")
    else:
        store.journal.mark_in_doubt(mid, at, "connection lost after DATA")


def _journal(store: Store, *, early: bool) -> None:
    rsvps = store.rsvps
    rsvps.suppress(address(0), "asked not to be mailed", SENT_OUT - dt.timedelta(days=30))
    for n in range(1, len(PEOPLE)):
        at = SENT_OUT + dt.timedelta(seconds=n)
        _send(store, Campaign.INVITATION, n, at, {1: "failed", 2: "in_doubt"}.get(n, "sent"))
    rsvps.record(
        MessageOutcome(
            key="mid:<bounce-3@mx.example>",
            source="imap:INBOX/1",
            kind="bounce",
            outcome="bounced",
            email=address(3),
            message_id="<bounce-3@mx.example>",
            sender="mailer-daemon@mx.example",
            subject="Undelivered Mail Returned to Sender",
            details="{}",
            received_at=SENT_OUT + dt.timedelta(minutes=5),
            bounces=(
                BounceRecord(address(3), address(3), "5.1.1", "failed", "no such user", True),
            ),
        ),
        SENT_OUT + dt.timedelta(minutes=5),
    )
    for n, (status, guests, lunch, interview, note, day) in ANSWERS.items():
        stamp = SENT_OUT + dt.timedelta(days=day, hours=2)
        rsvps.set_answer(
            AnswerUpdate(
                email=address(n),
                status=status,
                source="manual",
                stamp=stamp,
                guests=guests,
                lunch=lunch,
                interview=interview,
                note=note,
            ),
            stamp,
        )
    rsvps.add_review(
        ReviewDraft("question", address(20), address(20), "asks: <b>is there parking?</b>"),
        SENT_OUT + dt.timedelta(days=2),
    )
    rsvps.add_review(
        ReviewDraft(
            "unclear_text", address(21), address(21), "<script>alert(1)</script> unclear answer"
        ),
        SENT_OUT + dt.timedelta(days=4),
    )
    schedule = store.releases.add(
        embargo=EMBARGO,
        zone="Europe/Helsinki",
        tag="",
        mode="personal",
        grace_minutes=15,
        checked=20,
        fingerprint="sample",
        now=EMBARGO - dt.timedelta(days=2),
    )
    for k, n in enumerate((0, 3)):  # the trusted outlets, a day ahead
        _send(store, Campaign.PREBRIEF, n, EMBARGO - dt.timedelta(days=1, minutes=-k))
    for k, n in enumerate(range(4, 24)):
        at = EMBARGO + dt.timedelta(seconds=0.2 + k * RELEASE_GAP)
        if early and k == 0:
            at = EMBARGO - dt.timedelta(seconds=3)
        _send(store, Campaign.RELEASE, n, at)
    store.releases.set_state(
        schedule.id, ScheduleState.DONE, NOW, from_states=(ScheduleState.SCHEDULED,)
    )
