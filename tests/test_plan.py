"""The delivery plan shown before sending and by ``mailer release schedule``."""

from __future__ import annotations

import dataclasses
import datetime as dt
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from mailer.config.load import SmtpConfig
from mailer.sending.plan import delivery_plan
from tests.fixtures_smtp import smtp_config

HELSINKI = ZoneInfo("Europe/Helsinki")
ONE_PM = dt.datetime(2027, 6, 25, 13, 0, tzinfo=HELSINKI)


def smtp(tmp_path: Path, **keys: object) -> SmtpConfig:
    config = smtp_config(tmp_path, None, **keys)
    assert config.smtp is not None
    return config.smtp


def test_microsoft365_preset(tmp_path: Path) -> None:
    plan = delivery_plan(200, smtp(tmp_path, preset="microsoft365"), ONE_PM)
    assert plan.text == "200 messages at 30/min over 3 connections: 13:00:00 to 13:06:40"
    assert plan.seconds == 400
    assert plan.expected_finish == ONE_PM + dt.timedelta(minutes=6, seconds=40)
    assert (plan.messages, plan.rate_per_minute, plan.connections) == (200, 30, 3)
    assert not plan.daily_cap_exceeded


def test_gmail_preset_and_the_daily_cap(tmp_path: Path) -> None:
    gmail = smtp(tmp_path, preset="gmail")
    assert delivery_plan(150, gmail, ONE_PM).text == (
        "150 messages at 60/min over 3 connections: 13:00:00 to 13:02:30"
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
        "1000 messages over 4 connections: 13:00:00 to about 13:02:05 (no rate limit)"
    )


def test_a_rate_the_connections_cannot_reach(tmp_path: Path) -> None:
    config = smtp(tmp_path, host="smtp.example.org", connections=1, rate_per_minute=600)
    plan = delivery_plan(60, config, ONE_PM)
    assert plan.seconds == 30.0  # one connection carries about 2 a second, not 10
    assert plan.text == "60 messages at 600/min over 1 connection: 13:00:00 to about 13:00:30"


def test_small_and_empty_batches(tmp_path: Path) -> None:
    config = smtp(tmp_path, preset="microsoft365")
    assert delivery_plan(1, config, ONE_PM).text == (
        "1 message at 30/min over 1 connection: 13:00:00 to 13:00:02"
    )
    empty = delivery_plan(0, config, ONE_PM)
    assert empty.seconds == 0 and empty.expected_finish == ONE_PM


def test_past_midnight_shows_the_date(tmp_path: Path) -> None:
    late = dt.datetime(2027, 6, 25, 23, 58, tzinfo=HELSINKI)
    plan = delivery_plan(200, smtp(tmp_path, preset="microsoft365"), late)
    assert plan.text == "200 messages at 30/min over 3 connections: 23:58:00 to 2027-06-26 00:04:40"


def test_times_are_shown_in_the_zone_of_start(tmp_path: Path) -> None:
    utc = ONE_PM.astimezone(dt.UTC)
    plan = delivery_plan(200, smtp(tmp_path, preset="microsoft365"), utc)
    assert plan.text.endswith(": 10:00:00 to 10:06:40")
    assert plan.expected_finish == ONE_PM + dt.timedelta(seconds=400)


def test_outbox() -> None:
    plan = delivery_plan(200, None, ONE_PM)
    assert plan.text == "200 messages to the outbox: 13:00:00 to 13:00:01"
    assert plan.connections == 1 and plan.rate_per_minute == 0


def test_plan_is_frozen_and_checks_its_input(tmp_path: Path) -> None:
    plan = delivery_plan(3, None, ONE_PM)
    with pytest.raises(dataclasses.FrozenInstanceError):
        plan.messages = 4  # type: ignore[misc]
    with pytest.raises(ValueError, match="negative"):
        delivery_plan(-1, None, ONE_PM)
