"""The spool of a large batch: bytes read back as rendered, shared parts once, a private file
that leaves nothing behind; and the compact planning and status queries."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from mailer.contacts import Project, load_project, loading
from mailer.contacts.book import count_contacts, load_contacts
from mailer.invitations import rounds
from mailer.messages import plan as campaign
from mailer.messages.plan import build_plan, invitation_spec
from mailer.messages.spool import Spool, SpoolError
from mailer.models import Campaign, Contact, Outgoing, SpooledBody
from mailer.project.status import collect_status
from mailer.store import Store
from tests.conftest import FIXED_NOW
from tests.helpers import config_path, make_project, write_contacts

INV = Campaign.INVITATION


@pytest.fixture
def project(tmp_path: Path) -> Project:
    return load_project(config_path(make_project(tmp_path / "project")))


@pytest.fixture
def fixed_boundaries(monkeypatch: pytest.MonkeyPatch) -> None:
    """Same MIME boundaries every time, so that two renderings can be compared byte by byte."""
    monkeypatch.setattr("mailer.messages.mime.secrets.token_hex", lambda n: "b" * (2 * n))


def spooled_plan(project: Project, monkeypatch: pytest.MonkeyPatch, **kw: object) -> campaign.Plan:
    monkeypatch.setattr(campaign, "SPOOL_MIN_MESSAGES", 2)
    with Store(project.config.store_path) as store:
        return build_plan(
            project.config,
            project.book.contacts,
            invitation_spec(project.config),
            now=FIXED_NOW,
            store=store,
            **kw,  # type: ignore[arg-type]
        )


def test_spool_reads_back_what_was_appended_and_is_private(tmp_path: Path) -> None:
    before = set(os.listdir(tmp_path))
    spool = Spool(tmp_path)
    chunks = [bytes([i]) * (1000 + i) for i in range(200)]
    offsets = [spool.append(c) for c in chunks]
    assert spool.read(offsets[5], len(chunks[5])) == chunks[5]  # before the flush as well
    spool.flush()
    assert all(spool.read(o, len(c)) == c for o, c in zip(offsets, chunks, strict=True))
    info = os.fstat(spool.fileno())
    assert stat.S_IMODE(info.st_mode) == 0o600
    assert info.st_nlink == 0  # no name in the folder: gone when the process ends, even killed
    assert set(os.listdir(tmp_path)) == before
    spool.close()
    with pytest.raises(SpoolError, match="closed"):
        spool.read(0, 1)


def test_spool_in_a_missing_folder_uses_the_temporary_folder(tmp_path: Path) -> None:
    spool = Spool(tmp_path / "missing")
    assert spool.read(spool.append(b"abc"), 3) == b"abc"
    assert not (tmp_path / "missing").exists()
    spool.close()


def test_a_large_batch_is_spooled_with_the_same_bytes(
    project: Project, monkeypatch: pytest.MonkeyPatch, fixed_boundaries: None
) -> None:
    plan = spooled_plan(project, monkeypatch, reserve=True)  # identifiers fixed in the journal
    monkeypatch.setattr(campaign, "SPOOL_MIN_MESSAGES", 10_000)
    with Store(project.config.store_path) as store:
        memory = build_plan(
            project.config,
            project.book.contacts,
            invitation_spec(project.config),
            now=FIXED_NOW,
            store=store,
        )
    assert plan.spool is not None and memory.spool is None
    assert all(isinstance(i.body, SpooledBody) for i in plan.items)
    assert len(plan.items) == len(memory.items) == 7
    for spooled, kept in zip(plan.items, memory.items, strict=True):
        assert spooled.message_id == kept.message_id
        assert spooled.data == kept.data
        assert b"".join(spooled.segments) == spooled.data
        assert spooled.size == len(spooled.data)
    assert os.fstat(plan.spool.fileno()).st_nlink == 0
    assert not [p for p in project.config.store_path.parent.iterdir() if "spool" in p.name]
    with plan:
        pass
    assert plan.spool.closed


def test_the_attachment_is_one_object_shared_by_every_message(
    project: Project, monkeypatch: pytest.MonkeyPatch
) -> None:
    plan = spooled_plan(project, monkeypatch)
    assert project.config.invitation.attachments  # the starter's programme.pdf
    pdfs = [next(s for s in i.segments if b"application/pdf" in s) for i in plan.items]
    assert all(p is pdfs[0] for p in pdfs)
    first = plan.items[0]
    assert len(first.segments) == 3  # own head, the shared PDF, own tail
    assert first.segments[1] is pdfs[0]
    assert first.size == len(first.data) == sum(len(s) for s in first.segments)


def test_messages_in_memory_keep_the_shared_part_too(project: Project) -> None:
    plan = build_plan(
        project.config,
        project.book.contacts[:2],
        invitation_spec(project.config),
        now=FIXED_NOW,
        store=None,
    )
    one, _two = plan.items
    assert isinstance(one.body, bytes) and plan.spool is None
    assert one.segments == (one.data,)
    assert one.size == len(one.data)
    keep = campaign.Keeper()
    assert keep.subject("".join(["Kutsu", " 25.6."])) is keep.subject("Kutsu 25.6.")


def test_outgoing_still_takes_the_bytes_as_ninth_argument() -> None:
    contact = Contact("c@d", "C", "", "en", (), 2)
    item = Outgoing(INV, contact, "<a@b>", None, 0, "a@b", ("c@d",), "S", b"data")
    assert (item.data, item.segments, item.size) == (b"data", (b"data",), 4)


def test_a_spooled_round_sends_and_a_rerun_sends_nothing(
    project: Project, monkeypatch: pytest.MonkeyPatch
) -> None:
    from mailer.clock import FakeClock

    monkeypatch.setattr(campaign, "SPOOL_MIN_MESSAGES", 2)
    spec = invitation_spec(project.config)
    for expected_sent, expected_done in ((7, 0), (0, 7)):
        with loading.open_store(project.config) as store:
            prepared = rounds.prepare(project, spec, store, now=FIXED_NOW)
            with rounds.commit(project, prepared, store, now=FIXED_NOW) as plan:
                report = rounds.send(
                    project, plan, store, clock=FakeClock(FIXED_NOW), progress=None, password=None
                )
        assert (report.sent, len(plan.done)) == (expected_sent, expected_done)
    files = sorted(project.config.transport.outbox_dir.glob("*.eml"))
    assert len(files) == 7
    with Store(project.config.store_path) as store:
        by_id = {e.message_id: e for e in store.journal.entries(INV)}
    for path in files:
        assert b"application/pdf" in path.read_bytes()
    assert len(by_id) == 7


def test_planning_reuses_the_identifiers_of_pending_rows(
    project: Project, monkeypatch: pytest.MonkeyPatch
) -> None:
    first = spooled_plan(project, monkeypatch, reserve=True)
    again = spooled_plan(project, monkeypatch, reserve=True)
    assert [i.message_id for i in again.items] == [i.message_id for i in first.items]
    assert [i.ics_uid for i in again.items] == [i.ics_uid for i in first.items]
    with Store(project.config.store_path) as store:
        assert set(store.journal.states(INV, 0).values()) == {"pending"}
        assert store.journal.pending(INV, 0).keys() == {i.contact.email for i in first.items}


def test_reserve_planned_returns_only_rows_another_run_reserved(project: Project) -> None:
    from mailer.store import Reservation

    with Store(project.config.store_path) as store:
        mine = [Reservation(f"j{i}@x.example", "", f"<m{i}@x>", None, 0) for i in range(3)]
        store.journal.reserve(
            INV, 0, [Reservation("j1@x.example", "", "<other@x>", None, 0)], FIXED_NOW
        )
        assert store.journal.has_rows(INV) and not store.journal.has_rows(Campaign.REMINDER)
        differ = store.journal.reserve_planned(INV, 0, iter(mine), FIXED_NOW)
        assert list(differ) == ["j1@x.example"]
        assert differ["j1@x.example"].message_id == "<other@x>"
        assert len(store.journal.entries(INV)) == 3


def test_status_counts_contacts_as_load_does(tmp_path: Path) -> None:
    root = make_project(tmp_path / "p")
    write_contacts(
        root,
        text="email,name,language\n"
        "a@x.example,A,fi\n"
        "A@X.example,A again,fi\n"  # duplicate
        "not-an-address,B,fi\n"
        "c@x.example,C,klingon\n"  # an unknown language
        "d@x.example,=1,fi\n",  # a warning only
    )
    path = root / "contacts.csv"
    book = load_contacts(path, default_language="fi")
    counts = count_contacts(path, default_language="fi")
    assert (counts.valid, counts.errors) == (len(book.contacts), len(book.errors)) == (2, 3)
    assert counts.keys == {c.key for c in book.contacts}


def test_status_reads_only_the_problems_it_shows(project: Project) -> None:
    from mailer.store import Reservation

    config = project.config
    with Store(config.store_path) as store:
        store.journal.reserve(
            INV,
            0,
            [Reservation(f"j{i}@x.example", "", f"<m{i}@x>", None, 0) for i in range(60)],
            FIXED_NOW,
        )
        for i in range(60):
            store.journal.claim(f"<m{i}@x>", "me", FIXED_NOW)
            store.journal.mark_failed(f"<m{i}@x>", FIXED_NOW, "550 no")
        counts = loading.count_project_contacts(config)
        shown = collect_status(config, counts, store, now=FIXED_NOW)
        every = collect_status(config, counts, store, now=FIXED_NOW, all_problems=True)
    assert (len(shown.problems), shown.problems_total) == (50, 60)
    assert (len(every.problems), every.problems_total) == (60, 60)
    assert shown.invitations.failed == 60
    assert shown.contacts == len(project.book.contacts)
