"""The delivery plan shown before sending and by ``mailer release schedule``."""

from __future__ import annotations

import dataclasses
import datetime as dt
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from mailer.config.model import SmtpConfig
from mailer.sending.plan import delivery_plan
from mailer.store import SendRate, Store
from tests.fixtures_smtp import smtp_config

HELSINKI = ZoneInfo("Europe/Helsinki")
ONE_PM = dt.datetime(2027, 6, 25, 13, 0, tzinfo=HELSINKI)


def smtp(tmp_path: Path, **keys: object) -> SmtpConfig:
    config = smtp_config(tmp_path, None, **keys)
    assert config.smtp is not None
    return config.smtp


def test_microsoft365_preset(tmp_path: Path) -> None:
    plan = delivery_plan(200, smtp(tmp_path, preset="microsoft365"), ONE_PM)
    assert plan.text == "200 messages at 30/min over 3 connections: 13:00:00 to 13:06:40 EEST"
    assert plan.seconds == 400
    assert plan.expected_finish == ONE_PM + dt.timedelta(minutes=6, seconds=40)
    assert (plan.messages, plan.rate_per_minute, plan.connections) == (200, 30, 3)
    assert not plan.daily_cap_exceeded


def test_gmail_preset_and_the_daily_cap(tmp_path: Path) -> None:
    gmail = smtp(tmp_path, preset="gmail")
    assert delivery_plan(150, gmail, ONE_PM).text == (
        "150 messages at 60/min over 3 connections: 13:00:00 to 13:02:30 EEST"
    )
    over = delivery_plan(150, gmail, ONE_PM, sent_last_24h=1900)
    assert over.daily_cap_exceeded
    assert over.text.endswith(
        "; over the daily cap of 2000 recipients ([smtp] daily_cap): room for 100 now, "
        "the rest stays queued for a later run"
    )
    bcc = delivery_plan(2, gmail, ONE_PM, recipients=150, sent_last_24h=1900)
    assert bcc.daily_cap_exceeded  # two Bcc messages, but 150 recipients


def test_no_rate_limit_is_an_estimate(tmp_path: Path) -> None:
    plan = delivery_plan(1000, smtp(tmp_path, host="smtp.example.org", connections=4), ONE_PM)
    assert plan.seconds == 125.0
    assert plan.text == (
        "1000 messages over 4 connections: 13:00:00 to about 13:02:05 EEST (no rate limit; "
        "estimated at 0.5 s a message on each connection; nothing measured yet)"
    )


def test_a_rate_the_connections_cannot_reach(tmp_path: Path) -> None:
    config = smtp(tmp_path, host="smtp.example.org", connections=1, rate_per_minute=600)
    plan = delivery_plan(60, config, ONE_PM)
    assert plan.seconds == 30.0  # one connection carries about 2 a second, not 10
    assert plan.text == (
        "60 messages at 600/min over 1 connection: 13:00:00 to about 13:00:30 EEST "
        "(estimated at 0.5 s a message on each connection; nothing measured yet)"
    )


def test_small_and_empty_batches(tmp_path: Path) -> None:
    config = smtp(tmp_path, preset="microsoft365")
    assert delivery_plan(1, config, ONE_PM).text == (
        "1 message at 30/min over 1 connection: 13:00:00 to 13:00:02 EEST"
    )
    empty = delivery_plan(0, config, ONE_PM)
    assert empty.seconds == 0 and empty.expected_finish == ONE_PM


def test_past_midnight_shows_the_date(tmp_path: Path) -> None:
    late = dt.datetime(2027, 6, 25, 23, 58, tzinfo=HELSINKI)
    plan = delivery_plan(200, smtp(tmp_path, preset="microsoft365"), late)
    assert plan.text == (
        "200 messages at 30/min over 3 connections: 23:58:00 to 2027-06-26 00:04:40 EEST"
    )


def test_times_are_shown_in_the_zone_of_start(tmp_path: Path) -> None:
    utc = ONE_PM.astimezone(dt.UTC)
    plan = delivery_plan(200, smtp(tmp_path, preset="microsoft365"), utc)
    assert plan.text.endswith(": 10:00:00 to 10:06:40 UTC")
    assert plan.expected_finish == ONE_PM + dt.timedelta(seconds=400)


def test_outbox() -> None:
    plan = delivery_plan(200, None, ONE_PM)
    assert plan.text == "200 messages to the outbox: 13:00:00 to 13:00:01 EEST"
    assert plan.connections == 1 and plan.rate_per_minute == 0


def test_plan_is_frozen_and_checks_its_input(tmp_path: Path) -> None:
    plan = delivery_plan(3, None, ONE_PM)
    with pytest.raises(dataclasses.FrozenInstanceError):
        plan.messages = 4  # type: ignore[misc]
    with pytest.raises(ValueError, match="negative"):
        delivery_plan(-1, None, ONE_PM)


# --- the measured pace (issue 13, finding 3) ---------------------------------------------------


def test_a_measured_pace_replaces_the_estimate(tmp_path: Path) -> None:
    """2,000 messages that took 100 s were planned at 16 min 40 s: the next plan uses the pace
    this server kept (20 a second) instead of the 0.5 s a message estimate."""
    config = smtp(tmp_path, host="smtp.example.org", connections=1)
    estimate = delivery_plan(2000, config, ONE_PM)
    assert estimate.seconds == 1000.0 and estimate.basis == "estimate"
    measured = SendRate(messages=2001, seconds=100.0, ended=ONE_PM)
    plan = delivery_plan(1504, config, ONE_PM, measured=measured)
    assert plan.basis == "measured"
    assert plan.seconds == pytest.approx(75.2)
    assert plan.text == (
        "1504 messages over 1 connection: 13:00:00 to about 13:01:15 EEST "
        "(no rate limit; this server's pace in its last run: 20 a second)"
    )


def test_a_binding_rate_limit_wins_over_the_measured_pace(tmp_path: Path) -> None:
    config = smtp(tmp_path, preset="microsoft365")  # 30/min
    fast = SendRate(messages=101, seconds=10.0, ended=ONE_PM)  # 10 a second
    plan = delivery_plan(200, config, ONE_PM, measured=fast)
    assert plan.basis == "limit" and plan.seconds == 400
    slow = SendRate(messages=11, seconds=60.0, ended=ONE_PM)  # 10 a minute: the server binds
    plan = delivery_plan(20, config, ONE_PM, measured=slow)
    assert plan.basis == "measured" and plan.seconds == pytest.approx(120.0)
    assert plan.text == (
        "20 messages at 30/min over 3 connections: 13:00:00 to about 13:02:00 EEST "
        "(this server's pace in its last run: 10/min)"
    )


def test_a_server_on_this_machine_is_estimated_faster(tmp_path: Path) -> None:
    plan = delivery_plan(2000, smtp(tmp_path, host="127.0.0.1", connections=1), ONE_PM)
    assert plan.seconds == pytest.approx(40.0)


def test_the_pace_of_the_latest_run_comes_from_the_journal(tmp_path: Path) -> None:
    now = ONE_PM.astimezone(dt.UTC)
    with Store(tmp_path / "mailer.db") as store:
        assert store.smtp_log.recent_rate(now) is None
        day = now - dt.timedelta(days=2)
        for i in range(50):  # an old run: 50 messages in 49 s
            store.smtp_log.record(f"<old-{i}@x>", 1, day + dt.timedelta(seconds=i))
        start = now - dt.timedelta(hours=1)
        for i in range(21):  # the latest: 21 messages in 2 s
            store.smtp_log.record(f"<new-{i}@x>", 1, start + dt.timedelta(seconds=i / 10))
        for i in range(3):  # a later handful (a single reminder) is too few to measure
            store.smtp_log.record(f"<few-{i}@x>", 1, now - dt.timedelta(minutes=5 - i))
        rate = store.smtp_log.recent_rate(now)
        assert rate is not None
        assert (rate.messages, rate.seconds) == (21, pytest.approx(2.0))
        assert rate.per_second == pytest.approx(10.0)
        assert store.smtp_log.recent_rate(now + dt.timedelta(days=31)) is None  # too old
