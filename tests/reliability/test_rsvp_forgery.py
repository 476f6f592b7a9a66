"""A reply cannot change another journalist's RSVP; calendar UIDs cannot be guessed.

Through ``mailer rsvp import`` on the starter project after its invitation round:

* a calendar REPLY from the victim's address with a UID that matches no invitation (made up,
  or the victim's real UID with one character changed) is not applied: it waits for review;
* an attacker who is invited too answers with their own UID but names the victim as ATTENDEE:
  only the attacker's answer changes;
* the victim's address with the attacker's UID: again only the UID's owner changes.

Generated: random mixes of UIDs (real, mutated, random), senders and attendees, imported
together; every applied calendar answer belongs to the owner of the UID in its message.

The UIDs of 2,000 invitations: all different, a random part of at least 24 URL-safe
characters (144 bits from ``secrets``), no common prefix between neighbours beyond the event's,
no relation to the address.
"""

from __future__ import annotations

import datetime as dt
import itertools
import json
import random
import tempfile
from collections import Counter
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from mailer.cli import app
from mailer.contacts import load_project
from mailer.messages.plan import build_plan, invitation_spec
from mailer.models import Campaign
from mailer.rsvp.apply import ingest
from mailer.rsvp.outcomes import Outcome
from mailer.rsvp.results import Kind
from mailer.store import Store
from tests.helpers import make_project
from tests.reliability.conftest import Figures
from tests.reliability.harness import big_project

runner = CliRunner()
VICTIM = "paivi.maki-jaakkola@keskipohjanmaa.example"
ATTACKER = "sarah.okafor@batteryinsider.example"


def reply(
    uid: str, attendee: str, sender: str, message_id: str, partstat: str = "DECLINED"
) -> bytes:
    ics = "\r\n".join(
        [
            "BEGIN:VCALENDAR",
            "VERSION:2.0",
            "PRODID:-//Forger//EN",
            "METHOD:REPLY",
            "BEGIN:VEVENT",
            f"UID:{uid}",
            "DTSTAMP:20270301T100000Z",
            "SEQUENCE:0",
            f"ATTENDEE;PARTSTAT={partstat}:mailto:{attendee}",
            "END:VEVENT",
            "END:VCALENDAR",
            "",
        ]
    )
    return (
        f"From: {sender}\r\nTo: viestinta@kokkola.example\r\nSubject: Declined: Kutsu\r\n"
        f"Message-ID: {message_id}\r\nDate: Mon, 01 Mar 2027 10:00:00 +0200\r\n"
        "MIME-Version: 1.0\r\nContent-Type: text/calendar; method=REPLY; charset=utf-8\r\n\r\n"
        + ics
    ).encode()


@pytest.fixture
def invited(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[Path, dict[str, str]]:
    project = make_project(tmp_path / "project")
    monkeypatch.chdir(project)
    assert runner.invoke(app, ["invite", "send", "--yes"]).exit_code == 0
    with Store(project / "mailer.db") as store:
        uids = {e.email: str(e.ics_uid) for e in store.journal.entries(Campaign.INVITATION)}
    return project, uids


def answers(project: Path) -> dict[str, str]:
    result = runner.invoke(app, ["rsvp", "list", "--json"])
    assert result.exit_code == 0, result.output
    return {row["email"]: row["status"] for row in json.loads(result.stdout)}


def mutate(uid: str) -> str:
    at = uid.index("@") - 5
    return uid[:at] + ("A" if uid[at] != "A" else "B") + uid[at + 1 :]


def test_forged_replies_change_nobody_elses_answer(
    invited: tuple[Path, dict[str, str]], tmp_path: Path, figures: Figures
) -> None:
    project, uids = invited
    forged = {
        "made_up_uid.eml": reply("20270625-made-up@kokkola.example", VICTIM, VICTIM, "<f1@x>"),
        "mutated_uid.eml": reply(mutate(uids[VICTIM]), VICTIM, VICTIM, "<f2@x>"),
        "other_uid_attendee_victim.eml": reply(
            uids[ATTACKER], VICTIM, ATTACKER, "<f3@x>", "ACCEPTED"
        ),
        "victim_from_attacker_uid.eml": reply(
            uids[ATTACKER], ATTACKER, VICTIM, "<f4@x>", "ACCEPTED"
        ),
    }
    folder = tmp_path / "forged"
    folder.mkdir()
    for name, data in forged.items():
        (folder / name).write_bytes(data)
    result = runner.invoke(app, ["rsvp", "import", str(folder)])
    assert result.exit_code == 0, result.output
    flat = " ".join(result.stdout.split())
    assert "matches no invitation" in flat
    got = answers(project)
    assert got[VICTIM] == "none"  # untouched
    assert got[ATTACKER] == "yes"  # the UID's owner, and only them
    assert Counter(got.values()) == Counter({"none": 6, "yes": 1})
    figures.add("forged replies tried", "through rsvp import", len(forged))


EXAMPLES = 150


def test_generated_forgeries_only_ever_answer_for_the_uids_owner(
    invited: tuple[Path, dict[str, str]], figures: Figures
) -> None:
    project, uids = invited
    owners = {uid: email for email, uid in uids.items()}
    emails = sorted(uids)
    counter = {"n": 0}
    with tempfile.TemporaryDirectory() as scratch:
        db = Path(scratch) / "mailer.db"
        db.write_bytes((project / "mailer.db").read_bytes())
        with Store(db) as store:

            @settings(
                max_examples=EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.too_slow]
            )
            @given(
                uid=st.one_of(
                    st.sampled_from(sorted(owners)),
                    st.sampled_from(sorted(owners)).map(mutate),
                    st.text(alphabet="abcdefABCDEF0123456789-@.", min_size=1, max_size=60),
                ),
                sender=st.sampled_from([*emails, "spy@evil.example"]),
                attendee=st.sampled_from([*emails, "spy@evil.example"]),
                partstat=st.sampled_from(["ACCEPTED", "DECLINED", "TENTATIVE"]),
            )
            def check(uid: str, sender: str, attendee: str, partstat: str) -> None:
                counter["n"] += 1
                raw = reply(uid, attendee, sender, f"<gen-{counter['n']}@x>", partstat)
                report = ingest(
                    [("generated.eml", raw)],
                    store=store,
                    now=dt.datetime(2027, 3, 2, tzinfo=dt.UTC),
                )
                (item,) = report.items
                assert item.kind is Kind.CALENDAR_REPLY
                if item.outcome is Outcome.APPLIED or item.outcome is Outcome.SUPERSEDED:
                    assert item.contact == owners[uid], (uid, sender, attendee, item)
                else:
                    assert uid not in owners or item.outcome is not Outcome.APPLIED

            check()
    figures.add("hypothesis examples (this suite)", "forged calendar replies", counter["n"])


def test_uids_of_2000_invitations_cannot_be_guessed_from_each_other(
    tmp_path: Path, figures: Figures
) -> None:
    project = big_project(tmp_path / "project", 2000)
    proj = load_project(project / "config.toml")
    plan = build_plan(
        proj.config,
        proj.book.contacts,
        invitation_spec(proj.config),
        now=dt.datetime.now(dt.UTC),
        store=None,
    )
    uids = [str(item.ics_uid) for item in plan.items]
    mids = [item.message_id for item in plan.items]
    assert len(set(uids)) == len(uids) == 2000
    assert len(set(mids)) == len(mids)
    prefix = f"{proj.config.event.id}-"
    randoms = [u.removeprefix(prefix).split("@")[0] for u in uids]
    assert all(u.startswith(prefix) for u in uids)
    assert min(len(r) for r in randoms) >= 24  # 18 bytes from secrets.token_urlsafe
    for a, b in itertools.pairwise(randoms):
        common = len([1 for x, y in zip(a, b, strict=False) if x == y])
        assert common < 8, (a, b)  # neighbours share no more than chance
    letters = Counter("".join(randoms))
    assert len(letters) >= 60  # the whole URL-safe alphabet is used
    for item, rnd in zip(plan.items, randoms, strict=True):
        assert item.contact.email.split("@")[0] not in rnd
    rng = random.Random(1)
    sample = rng.sample(randoms, 200)
    assert len({r[:6] for r in sample}) == 200
    figures.add("calendar UIDs checked", "unique, >= 144 random bits", len(uids))
