"""The plan of a round and running it on the outbox: prepare, commit, send, journal."""

from __future__ import annotations

import datetime as dt
import email
import socket
import stat
from email import policy
from pathlib import Path

import pytest

from mailer.clock import FakeClock
from mailer.contacts import Project, load_project, loading
from mailer.errors import AttachmentError, ContactsError, MailerError, TemplateError
from mailer.invitations import rounds
from mailer.messages.plan import build_plan, invitation_spec
from mailer.models import Campaign, State, StateCounts
from mailer.sending.outbox import eml_name
from mailer.store import Reservation, Store
from tests.conftest import FIXED_NOW
from tests.helpers import config_path, make_project, set_keys, write_contacts

INV = Campaign.INVITATION
SARAH = "sarah.okafor@batteryinsider.example"
PAIVI = "paivi.maki-jaakkola@keskipohjanmaa.example"


@pytest.fixture
def project_dir(tmp_path: Path) -> Path:
    return make_project(tmp_path / "project")


@pytest.fixture
def project(project_dir: Path) -> Project:
    return load_project(config_path(project_dir))


def run(
    project: Project,
    *,
    tag: str | None = None,
    only: str | None = None,
    limit: int | None = None,
    retry_failed: bool = False,
    now: dt.datetime = FIXED_NOW,
) -> rounds.SendReport:
    """What ``invite send --yes`` does, with a fake clock."""
    spec = invitation_spec(project.config)
    clock = FakeClock(now)
    with loading.open_store(project.config) as store:
        prepared = rounds.prepare(
            project,
            spec,
            store,
            now=now,
            tag=tag,
            only=only,
            limit=limit,
            retry_failed=retry_failed,
            suppressed=rounds.suppressed(store),
        )
        plan = rounds.commit(project, prepared, store, now=now)
        return rounds.send(project, plan, store, clock=clock, progress=None, password=None)


def journal_rows(project: Project) -> int:
    with Store(project.config.store_path) as store:
        return len(store.journal.entries(INV))


def outbox(project: Project) -> list[Path]:
    folder = project.config.transport.outbox_dir
    return sorted(folder.glob("*.eml")) if folder.exists() else []


# --- a whole round -------------------------------------------------------------------------------


def test_send_writes_one_private_file_per_contact(project: Project) -> None:
    report = run(project)
    assert (report.sent, report.failed, report.in_doubt, report.left_pending) == (7, 0, 0, 0)
    assert report.ok
    files = outbox(project)
    assert len(files) == 7
    folder = project.config.transport.outbox_dir
    assert stat.S_IMODE(folder.stat().st_mode) == 0o700
    assert {stat.S_IMODE(f.stat().st_mode) for f in files} == {0o600}
    assert not list(folder.glob(".*"))  # no temporary files left
    with Store(project.config.store_path) as store:
        entries = store.journal.entries(INV)
        assert store.journal.counts(INV) == StateCounts(sent=7)
    assert {e.state for e in entries} == {State.SENT}
    assert all(e.sent_at == FIXED_NOW and e.attempts == 1 for e in entries)
    by_id = {e.message_id: e for e in entries}
    for path in files:
        msg = email.message_from_bytes(path.read_bytes(), policy=policy.default)
        entry = by_id[msg["Message-ID"]]
        assert [a.addr_spec for a in msg["To"].addresses] == [entry.email]
        assert path.name == f"invitation-{entry.email}-{path.name.rsplit('-', 1)[1]}"
        assert entry.last_error == f"written to outbox/{path.name}"


def test_second_run_sends_nothing(project: Project) -> None:
    run(project)
    before = {p.name: p.read_bytes() for p in outbox(project)}
    spec = invitation_spec(project.config)
    with loading.open_store(project.config) as store:
        prepared = rounds.prepare(project, spec, store, now=FIXED_NOW)
    assert prepared.plan.items == ()
    assert len(prepared.plan.done) == 7
    assert prepared.summary.already_done == 7 and prepared.summary.to_send == 0
    report = run(project)
    assert report.sent == 0 and report.ok
    assert {p.name: p.read_bytes() for p in outbox(project)} == before


def test_limit_then_the_rest(project: Project) -> None:
    assert run(project, limit=2).sent == 2
    assert len(outbox(project)) == 2
    assert journal_rows(project) == 2  # the others are not even reserved
    assert run(project).sent == 5
    assert len(outbox(project)) == 7


def test_tag_and_only(project: Project) -> None:
    assert run(project, tag="LOCAL").sent == 4  # tags ignore case
    assert run(project, only=SARAH.upper()).sent == 1
    with Store(project.config.store_path) as store:
        emails = {e.email for e in store.journal.entries(INV)}
    assert SARAH in emails and len(emails) == 5


def test_unknown_tag_is_an_error(project: Project) -> None:
    with pytest.raises(MailerError) as info:
        run(project, tag="nobody")
    assert str(info.value) == "contacts.csv: no contacts with tag 'nobody'"
    assert journal_rows(project) == 0


def test_suppressed_contacts_are_not_sent(project: Project) -> None:
    with Store(project.config.store_path) as store:
        store.rsvps.suppress(SARAH.upper(), "opted out", FIXED_NOW)
    report = run(project)
    assert report.sent == 6
    assert SARAH not in {d.email for d in report.deliveries}


def test_failed_messages_and_retry(project_dir: Path) -> None:
    (project_dir / "blocker").write_text("a file where the outbox folder should be")
    set_keys(project_dir, "transport", outbox_dir="blocker/outbox")
    project = load_project(config_path(project_dir))
    report = run(project)
    assert (report.sent, report.failed) == (0, 7)
    assert not report.ok
    assert {d.detail for d in report.deliveries} == {
        f"cannot write to the outbox {project_dir.resolve()}/blocker/outbox: Not a directory"
    }
    with Store(project.config.store_path) as store:
        assert store.journal.counts(INV) == StateCounts(failed=7)
    assert run(project).sent == 0  # failed messages are not retried by themselves
    set_keys(project_dir, "transport", outbox_dir="outbox")
    project = load_project(config_path(project_dir))
    assert run(project, retry_failed=True).sent == 7


def test_rows_of_a_dead_process_are_recovered(project: Project) -> None:
    spec = invitation_spec(project.config)
    with Store(project.config.store_path) as store:
        store.journal.reserve(
            INV,
            0,
            [Reservation(PAIVI, "Päivi", "<dead@kokkola.example>", "uid-dead", 0)],
            FIXED_NOW,
        )
        dead = f"{socket.gethostname()}:999999999:1"  # this machine, no such process
        assert store.journal.claim("<dead@kokkola.example>", dead, FIXED_NOW)
        prepared = rounds.prepare(project, spec, store, now=FIXED_NOW)
    assert (prepared.recovery.requeued, prepared.recovery.in_doubt) == (1, 0)
    assert [i.message_id for i in prepared.plan.items if i.contact.email == PAIVI] == [
        "<dead@kokkola.example>"
    ]


# --- plan first: errors stop everything before the first message ---------------------------------


def test_template_error_stops_before_anything_is_reserved(project_dir: Path) -> None:
    body = project_dir / "templates" / "invitation" / "sv" / "body.txt"
    body.write_text("Hej {{ contact.first_name }},\n\n{{ kontakt.namn }}\n", encoding="utf-8")
    project = load_project(config_path(project_dir))
    with pytest.raises(TemplateError) as info:
        run(project)
    assert str(info.value) == (
        "templates/invitation/sv/body.txt:3: undefined variable kontakt — did you mean contact?"
        " (a template knows contact, event, language, organizer, release, vars)"
    )
    assert journal_rows(project) == 0
    assert outbox(project) == []


def test_syntax_error_stops_build_plan_before_reserving(project_dir: Path) -> None:
    (project_dir / "templates" / "invitation" / "en" / "subject.txt").write_text("{{ x", "utf-8")
    project = load_project(config_path(project_dir))
    with Store(project.config.store_path) as store, pytest.raises(TemplateError) as info:
        build_plan(
            project.config,
            project.book.contacts,
            invitation_spec(project.config),
            now=FIXED_NOW,
            store=store,
        )
    assert str(info.value).startswith("templates/invitation/en/subject.txt:1: syntax error: ")
    assert journal_rows(project) == 0


def test_missing_attachment_stops_before_anything_is_reserved(project_dir: Path) -> None:
    (project_dir / "programme.pdf").unlink()
    project = load_project(config_path(project_dir))
    with pytest.raises(AttachmentError) as info:
        run(project)
    assert str(info.value) == (
        "programme.pdf: no such file (listed in config.toml [invitation] attachments)"
    )
    assert journal_rows(project) == 0
    assert outbox(project) == []


def test_contacts_error_stops_everything(project_dir: Path) -> None:
    write_contacts(
        project_dir,
        [
            {"email": "ok@lehti.example", "name": "Ok"},
            {"email": "not-an-address", "name": "Bad"},
        ],
    )
    project = load_project(config_path(project_dir))
    with pytest.raises(ContactsError) as info:
        run(project)
    assert str(info.value).startswith("contacts.csv:3: ")
    assert str(info.value).endswith("(1 error; run 'mailer contacts check')")
    assert journal_rows(project) == 0


# --- commit --------------------------------------------------------------------------------------


def test_commit_uses_identifiers_another_run_reserved_first(project: Project) -> None:
    spec = invitation_spec(project.config)
    with loading.open_store(project.config) as store:
        prepared = rounds.prepare(project, spec, store, now=FIXED_NOW)
        planned = {i.contact.email: i.message_id for i in prepared.plan.items}
        with Store(project.config.store_path) as other:  # another process, in between
            other.journal.reserve(
                INV,
                0,
                [Reservation(SARAH, "Sarah", "<other@kokkola.example>", "uid-o", 0)],
                FIXED_NOW,
            )
        plan = rounds.commit(project, prepared, store, now=FIXED_NOW)
    final = {i.contact.email: i for i in plan.items}
    assert final[SARAH].message_id == "<other@kokkola.example>"
    assert final[SARAH].ics_uid == "uid-o"
    assert b"<other@kokkola.example>" in final[SARAH].data
    assert final[PAIVI].message_id == planned[PAIVI]


def test_prepare_reserves_nothing(project: Project) -> None:
    with loading.open_store(project.config) as store:
        prepared = rounds.prepare(project, invitation_spec(project.config), store, now=FIXED_NOW)
    assert len(prepared.plan.items) == 7
    assert journal_rows(project) == 0
    summary = prepared.summary
    assert summary.by_language == {"en": 1, "fi": 3, "sv": 3}
    assert summary.transport == f"outbox folder {project.config.transport.outbox_dir}"
    assert summary.first_subject == (
        "Kutsu medialle: Akkukemian vetovastuuhankkeen loppuseminaari 25. kesäkuuta 2027"
    )


def test_eml_names_are_safe_and_unique(project: Project) -> None:
    with loading.open_store(project.config) as store:
        prepared = rounds.prepare(project, invitation_spec(project.config), store, now=FIXED_NOW)
    names = [eml_name(i) for i in prepared.plan.items]
    assert len(set(names)) == 7
    assert all("/" not in n and n.endswith(".eml") for n in names)
