"""The release: schedule, send-due, wait, send-now, cancel, Bcc, pre-brief, status, run log.

The clock is a FakeClock: its sleeps (the transports' and the ``wait`` loop's only way to wait)
advance it, so waiting for an embargo takes no real time and every message's transmission time is
exact.
"""

from __future__ import annotations

import datetime as dt
import email
import email.policy
import json
import socket
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from typer.testing import CliRunner

from mailer.cli import app
from mailer.clock import FakeClock, SystemClock
from mailer.config.load import load_config
from mailer.config.model import Config
from mailer.contacts import load_project, project_for
from mailer.errors import (
    EmbargoGuardError,
    ExitCode,
    ReleaseCancelled,
    ScheduleError,
    TemplateError,
    UsageError,
)
from mailer.messages.plan import new_message_id
from mailer.models import Campaign, Outgoing, Schedule, ScheduleState, State
from mailer.release.audience import release_spec
from mailer.release.batches import bcc_items
from mailer.release.lock import ReleaseLock, lock_path
from mailer.release.plan import send_prebrief
from mailer.release.runner import (
    Command,
    RunResult,
    cancel,
    plan_schedule,
    run_release,
    save_schedule,
)
from mailer.release.status import release_status, status_json
from mailer.sending import NoProgress, RunContext
from mailer.store import Reservation, Store
from tests.fixtures_smtp import SmtpTestServer
from tests.helpers import make_project, set_keys

HEL = ZoneInfo("Europe/Helsinki")
EMBARGO = dt.datetime(2027, 6, 25, 13, 0, tzinfo=HEL)  # the starter project's [release] embargo
SCHEDULED_AT = dt.datetime(2027, 6, 25, 9, 0, tzinfo=HEL)
TRUSTED = {"paivi.maki-jaakkola@keskipohjanmaa.example", "asa.sjoholm@ot.example"}
EVERYONE = TRUSTED | {
    "jyrki.hyvonen@yle.example",
    "riikka.lansimaki@teollisuusuutiset.example",
    "jorgen.bystrom@yle.example",
    "mikael.bjorklund@nordiskenergi.example",
    "sarah.okafor@batteryinsider.example",
}


@pytest.fixture
def project(tmp_path: Path) -> Path:
    return make_project(tmp_path / "press")


class HookedClock(FakeClock):
    """A FakeClock that calls ``on_sleep`` (in the event loop) or ``on_sleep_blocking`` (in the
    ``wait`` countdown) before each sleep: a test's way to act while the code under test waits."""

    def __init__(self, start: dt.datetime) -> None:
        super().__init__(start)
        self.on_sleep: Callable[[], None] | None = None
        self.on_sleep_blocking: Callable[[], None] | None = None

    async def sleep(self, seconds: float) -> None:
        if self.on_sleep is not None:
            self.on_sleep()
        await super().sleep(seconds)

    def sleep_blocking(self, seconds: float) -> None:
        if self.on_sleep_blocking is not None:
            self.on_sleep_blocking()
        super().sleep_blocking(seconds)


@pytest.fixture
def clock() -> HookedClock:
    return HookedClock(SCHEDULED_AT.astimezone(dt.UTC))


def at(clock: FakeClock, offset_seconds: float) -> None:
    """Set the fake clock to *offset_seconds* relative to the embargo."""
    target = EMBARGO.astimezone(dt.UTC) + dt.timedelta(seconds=offset_seconds)
    clock.advance((target - clock.now()).total_seconds())


def config_of(project: Path) -> Config:
    return load_config(project / "config.toml")


def schedule(project: Path, clock: FakeClock, *, at_: str | None = None) -> Schedule:
    proj = load_project(project / "config.toml")
    with Store(proj.config.store_path) as store:
        proposal = plan_schedule(proj, store, at=at_, tz=None, tag=None, now=clock.now())
        return save_schedule(store, proposal, now=clock.now())


def run(
    project: Path, clock: FakeClock, command: Command = Command.SEND_DUE, **kw: Any
) -> RunResult:
    return run_release(config_of(project), command=command, clock=clock, **kw)


def outbox(project: Path) -> list[Path]:
    folder = project / "outbox"
    return sorted(folder.glob("*.eml")) if folder.exists() else []


def journal(project: Path, campaign: Campaign = Campaign.RELEASE) -> dict[str, Any]:
    with Store(config_of(project).store_path) as store:
        return store.journal.existing(campaign, 0)


def use_smtp(project: Path, server: SmtpTestServer, **smtp: Any) -> None:
    set_keys(project, "transport", kind="smtp")
    set_keys(project, "smtp", **server.smtp_section(**smtp))


# --- schedule --------------------------------------------------------------------------------


def test_schedule_renders_and_checks_everything_now(project: Path, clock: FakeClock) -> None:
    proj = load_project(project / "config.toml")
    with Store(proj.config.store_path) as store:
        p = plan_schedule(proj, store, at=None, tz=None, tag=None, now=clock.now())
        assert p.embargo.utc == EMBARGO.astimezone(dt.UTC)
        assert (p.recipients, p.messages, p.checked) == (7, 7, 9)  # 7 releases + 2 pre-briefs
        assert p.by_language == {"en": 1, "fi": 3, "sv": 3}
        assert set(p.prebrief_due) == TRUSTED
        assert p.subject.startswith("Tiedote: Akkukemian")
        assert p.plan == "7 messages to the outbox: 13:00:00 to 13:00:00 EEST"
        assert p.warnings == ()
        assert p.shorten == ()
        saved = save_schedule(store, p, now=clock.now())
    assert saved.state is ScheduleState.SCHEDULED
    assert saved.checked == 9
    assert outbox(project) == []  # scheduling sends nothing
    assert journal(project) == {}  # and reserves nothing


def test_schedule_fails_now_for_a_template_error_of_one_language(
    project: Path, clock: FakeClock
) -> None:
    body = project / "templates" / "release" / "sv" / "body.txt"
    body.write_text(
        body.read_text(encoding="utf-8") + "\n{{ vars.no_such_thing }}\n", encoding="utf-8"
    )
    with pytest.raises(TemplateError, match=r"templates/release/sv/body\.txt:\d+: undefined"):
        schedule(project, clock)


def test_schedule_refuses_a_missing_attachment(project: Path, clock: FakeClock) -> None:
    set_keys(project, "release", attachments=["photo.jpg"])
    with pytest.raises(
        Exception,
        match=r"photo\.jpg: no such file \(listed in config\.toml "
        r"\[release\] attachments\)",
    ):
        schedule(project, clock)


def test_delivery_plan_with_a_rate_limit_and_the_options(
    project: Path, clock: FakeClock, smtp_server: Callable[..., SmtpTestServer]
) -> None:
    use_smtp(project, smtp_server(), rate_per_minute=2, connections=3, recipients_per_message=2)
    proj = load_project(project / "config.toml")
    with Store(proj.config.store_path) as store:
        p = plan_schedule(proj, store, at=None, tz=None, tag=None, now=clock.now())
    assert p.plan == "7 messages at 2/min over 3 connections: 13:00:00 to 13:03:30 EEST"
    assert p.shorten == (
        'Bcc mode ([release] mode = "bcc"): 5 messages at 2/min over 3 connections: '
        "13:00:00 to 13:02:30 EEST",
        "a relay or mail service without a per-minute limit: 7 messages over 3 connections: "
        "13:00:00 to about 13:00:00 EEST (no rate limit; estimated at 0.02 s a message on each "
        "connection; nothing measured yet); more connections do not help here: "
        "2/min is a limit of the mailbox",
    )


def test_the_scheduled_time_is_used_in_the_message(project: Path, clock: FakeClock) -> None:
    schedule(project, clock, at_="2027-06-25 14:30")
    at(clock, 90 * 60 - 20)
    result = run(project, clock)
    assert result.exit_code == ExitCode.OK, result.outcome
    text = outbox(project)[0].read_bytes().decode()
    assert "14.30" in text or "14:30" in text


def test_reschedule_replaces_but_not_while_sending(project: Path, clock: FakeClock) -> None:
    first = schedule(project, clock)
    second = schedule(project, clock, at_="2027-06-25 14:00")
    with Store(config_of(project).store_path) as store:
        releases = store.releases
        old = releases.get(first.id)
        assert old is not None and old.state is ScheduleState.CANCELLED
        assert old.note == f"replaced by schedule {second.id}"
        releases.set_state(
            second.id, ScheduleState.SENDING, clock.now(), from_states=[ScheduleState.SCHEDULED]
        )
    with pytest.raises(ScheduleError, match="has started sending"):
        schedule(project, clock)


# --- send-due ----------------------------------------------------------------------------------


def test_send_due_with_nothing_scheduled(project: Path, clock: FakeClock) -> None:
    result = run(project, clock)
    assert (result.decision, result.exit_code) == ("nothing-scheduled", ExitCode.OK)
    assert result.line == (
        "2027-06-25T06:00:00.000Z mailer release send-due: nothing scheduled "
        "(mailer release schedule)"
    )


def test_send_due_not_yet_logs_one_line(project: Path, clock: FakeClock) -> None:
    set_keys(project, "log", file="mailer.log")
    schedule(project, clock)
    at(clock, -61)
    result = run(project, clock)
    assert result.decision == "not-yet"
    assert result.exit_code == ExitCode.OK
    assert result.outcome == (
        "not yet: the embargo 2027-06-25 13:00:00 EEST (10:00:00 UTC) is in 1 min 01 s; "
        "pre-flight ok"
    )
    assert (project / "mailer.log").read_text().splitlines() == [result.line]
    assert outbox(project) == []


def test_send_due_arms_waits_and_sends_on_the_second(project: Path, clock: FakeClock) -> None:
    schedule(project, clock)
    at(clock, -59.5)  # cron's run of 12:59, half a second after it started
    result = run(project, clock)
    assert result.decision == "arm"
    assert result.exit_code == ExitCode.OK, result.outcome
    assert len(outbox(project)) == 7
    rows = journal(project)
    assert set(rows) == EVERYONE
    embargo = EMBARGO.astimezone(dt.UTC)
    assert all(r.state is State.SENT and r.sent_at == embargo for r in rows.values())
    assert result.first == 0.0 and result.last == 0.0
    assert result.outcome == (
        "sent 7 now (7 of 7 in all) for the embargo 2027-06-25 13:00:00 EEST (10:00:00 UTC); "
        "first +0.000 s, last +0.000 s"
    )
    # Date header: the embargo second, not the time it was rendered.
    msg = email.message_from_bytes(outbox(project)[0].read_bytes(), policy=email.policy.default)
    assert msg["Date"] == "Fri, 25 Jun 2027 10:00:00 +0000"
    again = run(project, clock)
    assert (again.decision, again.exit_code) == ("done", ExitCode.OK)
    assert len(outbox(project)) == 7


def test_never_early_the_guard_before_each_transmission(project: Path, clock: FakeClock) -> None:
    with Store(config_of(project).store_path) as store:
        ctx = RunContext(
            config=config_of(project),
            journal=store.journal,
            smtp_log=store.smtp_log,
            clock=clock,
            owner="test",
            progress=NoProgress(),
            not_before=EMBARGO,
            password=None,
        )
        at(clock, -0.001)
        item = Outgoing(Campaign.RELEASE, None, "<x@y>", None, 0, "a@b", ("c@d",), "", b"")  # type: ignore[arg-type]
        with pytest.raises(EmbargoGuardError) as caught:
            ctx.transmitting(item)
    assert str(caught.value) == (
        "embargo guard: a message was about to be transmitted at 09:59:59 UTC, before the "
        "embargo 10:00:00 UTC; it was not sent"
    )


def test_never_early_even_when_a_transport_does_not_wait(
    project: Path, clock: FakeClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def no_wait(self: RunContext) -> None:
        return None

    monkeypatch.setattr(RunContext, "wait_for_embargo", no_wait)
    schedule(project, clock)
    at(clock, -30)
    result = run(project, clock)
    assert (result.decision, result.exit_code) == ("paused", ExitCode.FAILED)
    assert result.outcome.startswith(
        "PAUSED: the embargo guard refused a message at 12:59:30 EEST, before the embargo "
    )
    assert outbox(project) == []
    assert {r.state for r in journal(project).values()} == {State.PENDING}  # claim released
    assert result.schedule is not None and result.schedule.state is ScheduleState.SCHEDULED


def test_release_journal_guard(project: Path, clock: FakeClock) -> None:
    with Store(config_of(project).store_path) as store:
        guarded = store.release_journal(schedule_id=None, embargo=EMBARGO, batches={})
        with pytest.raises(EmbargoGuardError, match=r"^embargo guard: "):
            guarded.mark_transmitting("<x@y>", EMBARGO - dt.timedelta(microseconds=1))


def test_send_late_within_the_grace(project: Path, clock: FakeClock) -> None:
    schedule(project, clock)
    at(clock, 5 * 60 + 10)
    result = run(project, clock)
    assert result.decision == "send-late"
    assert result.exit_code == ExitCode.OK
    assert result.outcome.startswith("LATE: started +5 min 10 s after the embargo; sent 7 now")
    assert len(outbox(project)) == 7


def test_missed_past_the_grace_then_send_now(project: Path, clock: FakeClock) -> None:
    schedule(project, clock)
    at(clock, 15 * 60 + 1)
    result = run(project, clock)
    assert result.decision == "missed"
    assert result.exit_code == ExitCode.FAILED
    assert result.outcome == (
        "MISSED: the embargo 2027-06-25 13:00:00 EEST (10:00:00 UTC) was 15 min 01 s ago, more "
        "than the grace of 15 min; not sent. To send it anyway: mailer release send-now --late-ok"
    )
    assert outbox(project) == []
    later = run(project, clock)  # cron keeps running: reminded, but no new failure
    assert (later.decision, later.exit_code) == ("missed", ExitCode.OK)
    with pytest.raises(UsageError, match="add --late-ok"):
        run(project, clock, Command.SEND_NOW)
    sent = run(project, clock, Command.SEND_NOW, late_ok=True)
    assert sent.exit_code == ExitCode.OK
    assert len(outbox(project)) == 7
    with Store(config_of(project).store_path) as store:
        current = store.releases.current()
        assert current is not None and current.state is ScheduleState.DONE


def test_send_now_is_never_early(project: Path, clock: FakeClock) -> None:
    schedule(project, clock)
    at(clock, -1)
    with pytest.raises(ScheduleError, match="mailer never sends the release early"):
        run(project, clock, Command.SEND_NOW, late_ok=True)


def test_a_run_killed_halfway_is_resumed_without_duplicates(
    project: Path, clock: FakeClock
) -> None:
    schedule(project, clock)
    at(clock, -10)
    config = config_of(project)
    dead = f"{socket.gethostname()}:999999999:1"  # a process of this host that is gone
    # The first run reserved the rows and got through four messages before it was killed:
    # two sent, one claimed (not yet transmitting), one transmitting.
    with Store(config.store_path) as store:
        contacts = project_for(config).book.contacts
        store.journal.reserve(
            Campaign.RELEASE,
            0,
            [Reservation(c.email, c.name, new_message_id(config), None, 0) for c in contacts],
            clock.now(),
        )
        rows = store.journal.existing(Campaign.RELEASE, 0)
        emails = [c.email for c in contacts]
        for e in emails[:4]:
            assert store.journal.claim(rows[e].message_id, dead, clock.now())
        for e in emails[:2]:
            store.journal.mark_sent(rows[e].message_id, EMBARGO, "250 ok")
        store.journal.mark_transmitting(rows[emails[3]].message_id, EMBARGO)
    result = run(project, clock)
    assert result.exit_code == ExitCode.FAILED  # one is in doubt: the officer must look at it
    assert "1 in doubt" in result.outcome
    after = journal(project)
    assert after[emails[0]].state is State.SENT and after[emails[0]].sent_at == EMBARGO
    assert after[emails[2]].state is State.SENT  # the claimed one went back and was sent now
    assert after[emails[3]].state is State.IN_DOUBT  # may have arrived: never resent by itself
    written = {p.name for p in outbox(project)}
    assert len(written) == 4  # 7 - 2 sent before - 1 in doubt
    assert not any(emails[0] in name or emails[3] in name for name in written)


def test_ctrl_c_while_waiting_leaves_nothing_half_done(project: Path, clock: HookedClock) -> None:
    schedule(project, clock)
    at(clock, -30)

    def interrupted() -> None:
        raise KeyboardInterrupt

    clock.on_sleep = interrupted
    with pytest.raises(KeyboardInterrupt):
        run(project, clock)
    assert outbox(project) == []
    assert {r.state for r in journal(project).values()} == {State.PENDING}
    with Store(config_of(project).store_path) as store:
        last = store.releases.runs()[-1]
        current = store.releases.current()
    assert (last.decision, last.ok) == ("error", False)
    assert last.outcome == "interrupted (1 claims released, 0 in doubt)"
    assert current is not None and current.state is ScheduleState.SCHEDULED  # can be moved


# --- wait ------------------------------------------------------------------------------------


def test_wait_counts_down_then_sends(project: Path, clock: FakeClock) -> None:
    schedule(project, clock)
    at(clock, -300)
    seen: list[float] = []
    result = run(project, clock, Command.WAIT, on_wait=lambda s, left: seen.append(left))
    assert result.decision == "arm"
    assert result.exit_code == ExitCode.OK
    assert seen[0] == 300.0 and seen[-1] <= 60
    assert len(outbox(project)) == 7
    assert {r.sent_at for r in journal(project).values()} == {EMBARGO}


def test_wait_notices_a_cancel(project: Path, clock: HookedClock) -> None:
    schedule(project, clock)
    at(clock, -300)

    def cancel_200_s_before() -> None:
        if clock.now() > EMBARGO - dt.timedelta(seconds=200):
            with Store(config_of(project).store_path) as store:
                cancel(config_of(project), store, now=clock.now())

    clock.on_sleep_blocking = cancel_200_s_before
    result = run(project, clock, Command.WAIT)
    assert result.decision == "cancelled"
    assert outbox(project) == []


# --- cancel ----------------------------------------------------------------------------------


def test_cancel_before_the_embargo(project: Path, clock: FakeClock) -> None:
    schedule(project, clock)
    with Store(config_of(project).store_path) as store:
        done = cancel(config_of(project), store, now=clock.now())
    assert done.schedule.state is ScheduleState.CANCELLED and done.sent == 0
    at(clock, -30)
    result = run(project, clock)
    assert result.decision == "cancelled"
    assert outbox(project) == []
    with (
        Store(config_of(project).store_path) as store,
        pytest.raises(ScheduleError, match="nothing to cancel: the release is cancelled"),
    ):
        cancel(config_of(project), store, now=clock.now())


def test_cancel_during_the_run_stops_before_the_next_message(
    project: Path, clock: FakeClock
) -> None:
    schedule(project, clock)
    at(clock, -30)
    config = config_of(project)

    class CancelAfterFirst(NoProgress):
        def advance(self, delivery: Any) -> None:
            with Store(config.store_path) as store:
                cancel(config, store, now=clock.now())

    result = run(project, clock, progress=CancelAfterFirst())
    assert len(outbox(project)) == 1
    states = [r.state for r in journal(project).values()]
    assert states.count(State.SENT) == 1 and states.count(State.PENDING) == 6
    assert result.exit_code == ExitCode.OK  # cancelled on purpose
    assert result.outcome.startswith(
        "CANCELLED during the run: nothing more is sent; sent 1 now (1 of 7 in all)"
    )
    assert result.outcome.endswith("; 6 still queued")


def test_cancel_while_the_smtp_run_waits_for_the_embargo(
    project: Path, clock: HookedClock, smtp_server: Callable[..., SmtpTestServer]
) -> None:
    server = smtp_server()
    use_smtp(project, server, connections=2)
    schedule(project, clock)
    at(clock, -10)
    config = config_of(project)

    def cancel_5_s_before() -> None:
        if clock.now() >= EMBARGO - dt.timedelta(seconds=5):
            with Store(config.store_path) as store:
                if store.releases.state_of(1) is not ScheduleState.CANCELLED:
                    cancel(config, store, now=clock.now())

    clock.on_sleep = cancel_5_s_before
    result = run(project, clock)
    assert result.decision == "cancelled"
    assert result.outcome == (
        "CANCELLED during the run: nothing more is sent (0 sent before the cancel)"
    )
    assert server.messages == []
    assert {r.state for r in journal(project).values()} == {State.PENDING}  # claims released


def test_cancel_between_claim_and_transmission_raises(project: Path, clock: FakeClock) -> None:
    s = schedule(project, clock)
    config = config_of(project)
    with Store(config.store_path) as store:
        store.journal.reserve(
            Campaign.RELEASE,
            0,
            [Reservation("a@example.org", "A", "<a@example.org>", None, 0)],
            clock.now(),
        )
        guarded = store.release_journal(schedule_id=s.id, embargo=EMBARGO, batches={})
        assert guarded.claim("<a@example.org>", "me", clock.now())
        cancel(config, store, now=clock.now())
        with pytest.raises(ReleaseCancelled):
            guarded.mark_transmitting("<a@example.org>", EMBARGO)
        assert not guarded.claim("<a@example.org>", "me", clock.now())


# --- Bcc mode ----------------------------------------------------------------------------------


def test_bcc_batches_within_the_recipient_limit(
    project: Path, clock: FakeClock, smtp_server: Callable[..., SmtpTestServer]
) -> None:
    server = smtp_server()
    use_smtp(project, server, recipients_per_message=2)
    set_keys(project, "release", mode="bcc", prebrief_tag="")
    s = schedule(project, clock)
    assert s.checked == 5  # fi 3 -> 2, sv 3 -> 2, en 1 -> 1
    at(clock, -10)
    result = run(project, clock)
    assert result.exit_code == ExitCode.OK, result.outcome
    assert len(server.messages) == 5
    got = [r for m in server.messages for r in m.rcpt_tos]
    assert sorted(got) == sorted(EVERYONE)  # each journalist exactly once
    assert all(len(m.rcpt_tos) <= 2 for m in server.messages)
    for m in server.messages:
        msg = email.message_from_bytes(m.data, policy=email.policy.default)
        assert msg["To"] == "Kokkolan kaupunki / Viestintä <viestinta@kokkola.example>"
        assert msg["Bcc"] is None and msg["Cc"] is None
        assert not any(r in m.data.decode("utf-8", "replace") for r in m.rcpt_tos)
    rows = journal(project)
    assert set(rows) == EVERYONE and all(r.state is State.SENT for r in rows.values())
    with Store(config_of(project).store_path) as store:
        batches = store.releases.batches()
    assert sorted(len(b.members) for b in batches) == [1, 1, 1, 2, 2]
    assert {b.message_id for b in batches} == {m.message_id for m in server.messages}
    assert {b.language for b in batches} == {"fi", "sv", "en"}
    # Rerun: nothing twice.
    assert run(project, clock).decision == "done"
    assert len(server.messages) == 5


def test_bcc_batch_is_claimed_whole_or_not_at_all(project: Path, clock: FakeClock) -> None:
    set_keys(project, "release", mode="bcc", prebrief_tag="")
    s = schedule(project, clock)
    config = config_of(project)
    with Store(config.store_path) as store:
        items, batches = bcc_items(
            config,
            store,
            project_for(config).book.contacts,
            release_spec(config, EMBARGO),
            now=clock.now(),
            render_now=EMBARGO,
            blocked=(),
            size=100,
        )
        assert len(items) == 3 and sum(len(v) for v in batches.values()) == 7
        first = items[0]
        rows = batches[first.message_id]
        one = store.release_journal(schedule_id=s.id, embargo=EMBARGO, batches=batches)
        two = store.release_journal(schedule_id=s.id, embargo=EMBARGO, batches=batches)
        assert one.claim(first.message_id, "p1", clock.now())
        assert not two.claim(first.message_id, "p2", clock.now())
        one.mark_transmitting(first.message_id, EMBARGO)
        one.mark_sent(first.message_id, EMBARGO, "250 ok")
        states = {store.journal.by_message_id(r).state for r in rows}  # type: ignore[union-attr]
        assert states == {State.SENT}
        # The same rows are never put into another batch.
        again, again_batches = bcc_items(
            config,
            store,
            project_for(config).book.contacts,
            release_spec(config, EMBARGO),
            now=clock.now(),
            render_now=EMBARGO,
            blocked=(),
            size=100,
        )
        assert first.message_id not in again_batches
        assert len(again) == 2


def test_each_bcc_batch_tells_the_event_in_its_language(project: Path, clock: FakeClock) -> None:
    set_keys(project, "release", mode="bcc", prebrief_tag="")
    schedule(project, clock)
    config = config_of(project)
    with Store(config.store_path) as store:
        items, _ = bcc_items(
            config,
            store,
            project_for(config).book.contacts,
            release_spec(config, EMBARGO),
            now=clock.now(),
            render_now=EMBARGO,
            blocked=(),
            size=100,
        )
    texts = {}
    for item in items:
        msg = email.message_from_bytes(item.data, policy=email.policy.default)
        body = msg.get_body(preferencelist=("plain",))
        assert body is not None
        texts[str(msg["Content-Language"])] = str(body.get_content())
    assert "slutseminarium (Villa Elba, Karleby)." in texts["sv"]
    assert "Fri för publicering 25 juni 2027 kl. 13.00 (finsk tid)" in texts["sv"]
    assert "final seminar (Villa Elba, Kokkola, Finland)." in texts["en"]
    assert "Free for publication: 25 June 2027, 13:00 (Finnish time)" in texts["en"]
    assert "loppuseminaariin (Villa Elba, Kokkola)." in texts["fi"]


@pytest.mark.parametrize("field", ["first_name", "name", "email"])
def test_bcc_template_must_not_use_contact_fields(
    project: Path, clock: FakeClock, field: str
) -> None:
    set_keys(project, "release", mode="bcc")
    subject = project / "templates" / "release" / "fi" / "subject.txt"
    subject.write_text(f"Hei {{{{ contact.{field} }}}}", encoding="utf-8")
    with pytest.raises(TemplateError) as caught:
        schedule(project, clock)
    assert caught.value.hint is not None and "Bcc mode" in caught.value.hint


# --- pre-brief -------------------------------------------------------------------------------


def test_prebrief_then_the_release_without_duplicates(project: Path, clock: FakeClock) -> None:
    schedule(project, clock)
    count, report = send_prebrief(config_of(project), clock=clock)
    assert count == 2 and report is not None and report.sent == 2
    pre = outbox(project)
    assert len(pre) == 2 and all(p.name.startswith("prebrief-") for p in pre)
    subjects = {}
    for path in pre:
        msg = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
        subjects[str(msg["To"].addresses[0].addr_spec)] = str(msg["Subject"])
        body = msg.get_body(preferencelist=("plain",))
        assert body is not None
        assert str(body.get_content()).splitlines()[0].startswith("EMBARGO")
    assert subjects["asa.sjoholm@ot.example"].startswith(
        "EMBARGO: fri för publicering 25 juni 2027 kl. 13.00 (finsk tid) – Pressmeddelande:"
    )
    assert subjects["paivi.maki-jaakkola@keskipohjanmaa.example"].startswith(
        "EMBARGO: julkaisuvapaa 25. kesäkuuta 2027 klo 13.00"
    )
    # Nobody waits for it any more.
    assert send_prebrief(config_of(project), clock=clock) == (0, None)
    at(clock, -20)
    result = run(project, clock)
    assert result.exit_code == ExitCode.OK
    release = [p for p in outbox(project) if p.name.startswith("release-")]
    assert len(release) == 5
    assert set(journal(project)) == EVERYONE - TRUSTED


def test_prebrief_too_close_to_the_embargo(project: Path, clock: FakeClock) -> None:
    schedule(project, clock)
    at(clock, -120)
    with pytest.raises(ScheduleError, match="too late for a pre-brief"):
        send_prebrief(config_of(project), clock=clock)


def test_schedule_close_to_the_embargo_offers_no_prebrief(project: Path, clock: FakeClock) -> None:
    at(clock, -100)
    proj = load_project(project / "config.toml")
    with Store(proj.config.store_path) as store:
        p = plan_schedule(proj, store, at=None, tz=None, tag=None, now=clock.now())
    assert p.prebrief_due == ()
    assert p.warnings == (
        "no pre-brief 1 min 40 s before the embargo: the 2 contacts with tag 'trusted' get the "
        "release with everyone else",
    )
    assert p.recipients == 7


# --- lock, status, run log -------------------------------------------------------------------


def test_a_second_run_while_one_holds_the_lock(project: Path, clock: FakeClock) -> None:
    schedule(project, clock)
    at(clock, -30)
    config = config_of(project)
    with ReleaseLock(lock_path(config), "vm:1:1 send-due since then") as held:
        assert held.acquired
        result = run(project, clock)
        assert (result.decision, result.exit_code) == ("locked", ExitCode.OK)
        assert result.outcome == (
            "another release run is in progress (vm:1:1 send-due since then); it does the sending"
        )
        with pytest.raises(ScheduleError, match="another release run is in progress"):
            run(project, clock, Command.WAIT)
    assert outbox(project) == []


def test_status_after_a_release(project: Path, clock: FakeClock) -> None:
    set_keys(project, "log", file="logs/release.log")
    schedule(project, clock)
    send_prebrief(config_of(project), clock=clock)
    at(clock, -120)
    run(project, clock)
    at(clock, -30)
    run(project, clock)
    config = config_of(project)
    with Store(config.store_path) as store:
        st = release_status(config, store, now=clock.now())
    assert st.schedule is not None and st.schedule.state is ScheduleState.DONE
    assert st.release.sent == 5 and st.prebrief.sent == 2
    assert (st.first, st.last) == (0.0, 0.0)
    assert [r.decision for r in st.runs] == ["prebrief", "not-yet", "arm"]
    data = status_json(st)
    assert data["schedule"]["embargo"] == "2027-06-25T13:00:00+03:00"
    assert data["schedule"]["embargo_utc"] == "2027-06-25T10:00:00+00:00"
    assert data["release"] == {"sent": 5, "failed": 0, "in_doubt": 0, "pending": 0, "skipped": 0}
    rounds = {r["email"]: r["round"] for r in data["recipients"]}
    assert {e for e, r in rounds.items() if r == "prebrief"} == TRUSTED
    log = (project / "logs" / "release.log").read_text().splitlines()
    assert len(log) == 3
    assert log[0].endswith(
        "mailer release prebrief: pre-brief: sent 2 of 2, embargoed until "
        "2027-06-25 13:00:00 EEST (10:00:00 UTC)"
    )
    assert "send-due: not yet" in log[1] and "send-due: sent 5 now" in log[2]


# --- the CLI ---------------------------------------------------------------------------------


@pytest.fixture
def cli(project: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[..., Any]]:
    runner = CliRunner()

    def invoke(*args: str) -> Any:
        return runner.invoke(app, ["--config", str(project / "config.toml"), *args])

    yield invoke


def test_cli_schedule_status_and_send_due(cli: Callable[..., Any], project: Path) -> None:
    res = cli("release", "schedule", "--yes", "--no-prebrief")
    assert res.exit_code == 0, res.output
    lines = res.stdout.splitlines()
    assert lines[0] == (
        "Embargo:      Friday 2027-06-25 13:00:00 EEST (UTC+03:00, Europe/Helsinki) = 10:00:00 UTC"
    )
    assert "Checked:      7 messages rendered and checked now" in lines
    assert not any(line.startswith("Pre-brief:") for line in lines)
    assert "Delivery:     7 messages to the outbox: 13:00:00 to 13:00:00 EEST" in lines
    due = cli("release", "send-due")
    assert due.exit_code == 0
    assert len(due.stdout.splitlines()) == 1
    assert " mailer release send-due: not yet: the embargo 2027-06-25 13:00:00 EEST " in due.stdout
    st = cli("release", "status", "--json")
    data = json.loads(st.stdout)
    assert data["schedule"]["state"] == "scheduled" and data["decision_now"] == "not-yet"
    whole = cli("status", "--json")
    assert json.loads(whole.stdout)["release"] == {
        "sent": 0,
        "failed": 0,
        "in_doubt": 0,
        "pending": 0,
        "skipped": 0,
    }


def test_cli_schedule_refusals(cli: Callable[..., Any]) -> None:
    res = cli("release", "schedule", "--at", "2027-03-28 03:30", "--yes")
    assert res.exit_code == 1
    assert res.stderr == (
        "error: --at: 2027-03-28 03:30:00 does not exist in Europe/Helsinki (the clocks skip it "
        "for daylight saving time)\n"
    )
    res = cli("release", "schedule", "--at", "2027-10-31 03:30", "--yes")
    assert "is ambiguous in Europe/Helsinki" in res.stderr
    res = cli("release", "schedule", "--at", "2020-01-01 12:00", "--yes")
    assert "is not in the future" in res.stderr


def test_cli_without_terminal_and_without_yes(cli: Callable[..., Any]) -> None:
    res = cli("release", "schedule")
    assert res.exit_code == 2
    assert "not a terminal" in res.stderr


def test_cli_send_now_needs_late_ok(cli: Callable[..., Any]) -> None:
    res = cli("release", "send-now", "--yes")
    assert res.exit_code == 2
    assert "add --late-ok" in res.stderr


def test_cli_cancel(cli: Callable[..., Any]) -> None:
    assert cli("release", "schedule", "--yes", "--no-prebrief").exit_code == 0
    res = cli("release", "cancel", "--yes")
    assert res.exit_code == 0
    assert res.stdout.startswith("Cancelled the release of Friday 2027-06-25 13:00:00 EEST")
    assert cli("release", "cancel", "--yes").exit_code == 1


def test_cli_cron_line(cli: Callable[..., Any], project: Path) -> None:
    res = cli("release", "cron")
    assert res.exit_code == 0
    job = [line for line in res.stdout.splitlines() if line.startswith("* * * * * ")]
    assert len(job) == 2  # logged; and logged with the failures mailed (MAILTO)
    assert f"--config {project / 'config.toml'} release send-due" in job[0]
    assert f">> {project / 'release-cron.log'} 2>&1" in job[0]
    assert "PATH=" in job[0]
    assert "crontab -e" in res.stdout
    sysd = cli("release", "cron", "--systemd")
    assert "OnCalendar=*-*-* *:*:00" in sysd.stdout and "AccuracySec=1s" in sysd.stdout


def test_cron_line_names_the_password_variable_but_never_its_value(
    project: Path, smtp_server: Callable[..., SmtpTestServer], monkeypatch: pytest.MonkeyPatch
) -> None:
    server = smtp_server()
    use_smtp(project, server, username="officer", password_env="CITY_SMTP_PASSWORD")
    monkeypatch.setenv("CITY_SMTP_PASSWORD", "hunter2-secret")
    res = CliRunner().invoke(app, ["--config", str(project / "config.toml"), "release", "cron"])
    assert "# CITY_SMTP_PASSWORD=<the password>" in res.stdout
    assert "hunter2-secret" not in res.stdout


def test_commands_have_help() -> None:
    from mailer.cli.release import app as release_app

    for command in release_app.registered_commands:
        assert command.callback is not None and command.callback.__doc__, command.name


# --- two runs at once, without the lock: the journal alone keeps it exactly once ---------------


def test_two_runs_at_once_without_the_lock_send_each_message_once(
    project: Path, smtp_server: Callable[..., SmtpTestServer]
) -> None:
    server = smtp_server()
    use_smtp(project, server, connections=2)
    set_keys(project, "release", prebrief_tag="")
    real = SystemClock()
    embargo = (real.now() + dt.timedelta(seconds=1.2)).astimezone(HEL)
    text = f"{embargo:%Y-%m-%d %H:%M:%S}"
    proj = load_project(project / "config.toml")
    with Store(proj.config.store_path) as store:
        p = plan_schedule(proj, store, at=text, tz=None, tag=None, now=real.now())
        save_schedule(store, p, now=real.now())
    target = p.embargo.utc
    results: list[RunResult] = []

    def one() -> None:
        results.append(
            run_release(config_of(project), command=Command.SEND_DUE, clock=real, use_lock=False)
        )

    threads = [threading.Thread(target=one) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert len(results) == 2
    assert sorted(r for m in server.messages for r in m.rcpt_tos) == sorted(EVERYONE)
    assert min(m.at for m in server.messages) >= target.timestamp()
