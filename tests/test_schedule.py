"""Embargo decisions with the clock passed in (mailer.release.schedule)."""

from __future__ import annotations

import datetime as dt
import os
import time
from collections.abc import Iterator
from zoneinfo import ZoneInfo

import pytest

from mailer.errors import ScheduleError
from mailer.models import Schedule, ScheduleState
from mailer.release.schedule import (
    ARM_WINDOW,
    Decision,
    brief,
    decide,
    describe,
    in_words,
    relative,
    requested_embargo,
)

HEL = ZoneInfo("Europe/Helsinki")
EMBARGO = dt.datetime(2027, 6, 25, 13, 0, tzinfo=HEL)  # "julkaisuvapaa 25.6. klo 13"
NOW = dt.datetime(2027, 6, 20, 9, 0, tzinfo=dt.UTC)


def schedule(
    embargo: dt.datetime = EMBARGO,
    *,
    state: ScheduleState = ScheduleState.SCHEDULED,
    grace: int = 15,
) -> Schedule:
    return Schedule(
        id=1,
        embargo=embargo.astimezone(dt.UTC),
        zone="Europe/Helsinki",
        tag="",
        mode="personal",
        grace_minutes=grace,
        state=state,
        checked=7,
        fingerprint="",
        created_at=NOW,
        updated_at=NOW,
        note="",
    )


def at(offset_seconds: float) -> dt.datetime:
    """A moment relative to the embargo, in UTC (as the clock gives it)."""
    return (EMBARGO + dt.timedelta(seconds=offset_seconds)).astimezone(dt.UTC)


# --- decide ------------------------------------------------------------------------------------

CASES = [
    # (seconds relative to the embargo, grace minutes, decision)
    (-86_400, 15, Decision.NOT_YET),
    (-61, 15, Decision.NOT_YET),
    (-60.001, 15, Decision.NOT_YET),
    (-60, 15, Decision.ARM),  # exactly one minute ahead: cron's run of 12:59 arms
    (-59.5, 15, Decision.ARM),
    (-0.001, 15, Decision.ARM),
    (0, 15, Decision.ARM),  # on the second: send, not "late"
    (0.001, 15, Decision.SEND_LATE),
    (60, 15, Decision.SEND_LATE),
    (15 * 60, 15, Decision.SEND_LATE),  # the last moment of the grace
    (15 * 60 + 0.001, 15, Decision.MISSED),
    (3 * 3600, 15, Decision.MISSED),
    (0.001, 0, Decision.MISSED),  # no grace: only on time
    (0, 0, Decision.ARM),
]


@pytest.mark.parametrize(("offset", "grace", "expected"), CASES)
def test_decide_around_the_embargo(offset: float, grace: int, expected: Decision) -> None:
    assert decide(schedule(grace=grace), at(offset)) is expected


def test_nothing_scheduled() -> None:
    assert decide(None, NOW) is Decision.NOTHING_SCHEDULED


@pytest.mark.parametrize(
    ("state", "expected"),
    [
        (ScheduleState.DONE, Decision.DONE),
        (ScheduleState.CANCELLED, Decision.CANCELLED),
        (ScheduleState.MISSED, Decision.MISSED),
    ],
)
def test_final_states_do_not_depend_on_the_time(state: ScheduleState, expected: Decision) -> None:
    for offset in (-3600, -30, 0, 30, 3600):
        assert decide(schedule(state=state), at(offset)) is expected


def test_a_run_stopped_halfway_is_continued_within_the_grace() -> None:
    sending = schedule(state=ScheduleState.SENDING)
    assert decide(sending, at(-30)) is Decision.ARM
    assert decide(sending, at(120)) is Decision.SEND_LATE
    assert decide(sending, at(16 * 60)) is Decision.MISSED


def test_now_in_any_zone_is_the_same_instant() -> None:
    moment = at(-30)
    for zone in ("UTC", "Europe/Helsinki", "Pacific/Auckland", "America/Los_Angeles"):
        assert decide(schedule(), moment.astimezone(ZoneInfo(zone))) is Decision.ARM


def test_naive_now_is_refused() -> None:
    with pytest.raises(ValueError, match="aware"):
        decide(schedule(), dt.datetime(2027, 6, 25, 13, 0))


def test_arm_window_is_one_minute() -> None:
    assert dt.timedelta(seconds=60) == ARM_WINDOW


# --- DST change days ---------------------------------------------------------------------------


def test_embargo_after_the_spring_change_is_compared_in_utc() -> None:
    # 2027-03-28: Helsinki goes from 03:00 EET to 04:00 EEST. 13:00 that day is 10:00 UTC,
    # not 11:00 UTC (the mistake of a server "not adjusted for DST").
    embargo = dt.datetime(2027, 3, 28, 13, 0, tzinfo=HEL)
    assert embargo.astimezone(dt.UTC) == dt.datetime(2027, 3, 28, 10, 0, tzinfo=dt.UTC)
    s = schedule(embargo)
    assert decide(s, dt.datetime(2027, 3, 28, 9, 59, 30, tzinfo=dt.UTC)) is Decision.ARM
    assert decide(s, dt.datetime(2027, 3, 28, 10, 59, 30, tzinfo=dt.UTC)) is Decision.MISSED
    assert decide(s, dt.datetime(2027, 3, 28, 9, 58, 0, tzinfo=dt.UTC)) is Decision.NOT_YET


def test_embargo_after_the_autumn_change_is_compared_in_utc() -> None:
    # 2027-10-31: 04:00 EEST becomes 03:00 EET. 13:00 that day is 11:00 UTC.
    embargo = dt.datetime(2027, 10, 31, 13, 0, tzinfo=HEL)
    assert embargo.astimezone(dt.UTC) == dt.datetime(2027, 10, 31, 11, 0, tzinfo=dt.UTC)
    s = schedule(embargo)
    assert decide(s, dt.datetime(2027, 10, 31, 10, 0, 0, tzinfo=dt.UTC)) is Decision.NOT_YET
    assert decide(s, dt.datetime(2027, 10, 31, 10, 59, 30, tzinfo=dt.UTC)) is Decision.ARM


def test_a_nonexistent_local_time_is_refused() -> None:
    with pytest.raises(ScheduleError, match="03:30:00 does not exist in Europe/Helsinki"):
        requested_embargo(
            at="2027-03-28 03:30",
            tz=None,
            configured=None,
            default_zone=HEL,
            now=NOW.replace(month=1),
        )


def test_an_ambiguous_local_time_is_refused() -> None:
    with pytest.raises(ScheduleError, match="03:30:00 is ambiguous in Europe/Helsinki"):
        requested_embargo(
            at="2027-10-31 03:30", tz=None, configured=None, default_zone=HEL, now=NOW
        )


def test_the_hour_around_a_change_that_exists_once_is_fine() -> None:
    embargo = requested_embargo(
        at="2027-10-31 04:00", tz=None, configured=None, default_zone=HEL, now=NOW
    )
    assert embargo.utc == dt.datetime(2027, 10, 31, 2, 0, tzinfo=dt.UTC)
    embargo = requested_embargo(
        at="2027-03-28 04:00", tz=None, configured=None, default_zone=HEL, now=NOW.replace(month=1)
    )
    assert embargo.utc == dt.datetime(2027, 3, 28, 1, 0, tzinfo=dt.UTC)


# --- the requested embargo ---------------------------------------------------------------------


def test_at_with_seconds_in_the_event_zone() -> None:
    embargo = requested_embargo(
        at="2027-06-25 13:00:30", tz=None, configured=None, default_zone=HEL, now=NOW
    )
    assert embargo.moment == dt.datetime(2027, 6, 25, 13, 0, 30, tzinfo=HEL)
    assert embargo.utc == dt.datetime(2027, 6, 25, 10, 0, 30, tzinfo=dt.UTC)
    assert embargo.warnings == ()


def test_default_from_the_config() -> None:
    embargo = requested_embargo(at=None, tz=None, configured=EMBARGO, default_zone=HEL, now=NOW)
    assert embargo.moment == EMBARGO
    assert embargo.zone.key == "Europe/Helsinki"


def test_tz_gives_the_zone_of_at() -> None:
    embargo = requested_embargo(
        at="2027-06-25 12:00", tz="Europe/Stockholm", configured=None, default_zone=HEL, now=NOW
    )
    assert embargo.utc == EMBARGO.astimezone(dt.UTC)  # 12:00 in Stockholm is 13:00 in Helsinki
    assert embargo.zone.key == "Europe/Stockholm"


def test_tz_alone_is_refused() -> None:
    with pytest.raises(ScheduleError, match="--tz needs --at"):
        requested_embargo(at=None, tz="UTC", configured=EMBARGO, default_zone=HEL, now=NOW)


def test_unknown_zone() -> None:
    with pytest.raises(ScheduleError, match="--tz: unknown time zone 'Europe/Helsingfors'"):
        requested_embargo(
            at="2027-06-25 13:00",
            tz="Europe/Helsingfors",
            configured=None,
            default_zone=HEL,
            now=NOW,
        )


def test_twelve_hour_clock_is_refused() -> None:
    with pytest.raises(ScheduleError, match="is not a time of the form YYYY-MM-DD HH:MM"):
        requested_embargo(
            at="2027-06-25 1:00 PM", tz=None, configured=None, default_zone=HEL, now=NOW
        )


def test_the_past_and_now_are_refused() -> None:
    with pytest.raises(ScheduleError) as caught:
        requested_embargo(
            at="2027-06-20 12:00", tz=None, configured=None, default_zone=HEL, now=NOW
        )
    assert caught.value.message == (
        "--at: Sunday 2027-06-20 12:00:00 EEST (UTC+03:00, Europe/Helsinki) = 09:00:00 UTC is "
        "not in the future (now: Sunday 2027-06-20 12:00:00 EEST (UTC+03:00, Europe/Helsinki) "
        "= 09:00:00 UTC)"
    )


def test_nothing_given_and_nothing_configured() -> None:
    with pytest.raises(ScheduleError, match="no embargo time"):
        requested_embargo(at=None, tz=None, configured=None, default_zone=HEL, now=NOW)


def test_midnight_is_questioned() -> None:
    embargo = requested_embargo(
        at="2027-06-25 00:01", tz=None, configured=None, default_zone=HEL, now=NOW
    )
    assert embargo.warnings == (
        "00:01 on Friday 25 June is in the night between Thursday 24 June and Friday 25 June; "
        "check that this is the day you mean",
    )


def test_far_ahead_is_questioned() -> None:
    embargo = requested_embargo(
        at="2028-06-25 13:00", tz=None, configured=None, default_zone=HEL, now=NOW
    )
    assert embargo.warnings == ("the embargo is in 371 d 1 h; is the year right?",)


def test_shown_in_local_time_and_utc() -> None:
    assert describe(EMBARGO, HEL) == (
        "Friday 2027-06-25 13:00:00 EEST (UTC+03:00, Europe/Helsinki) = 10:00:00 UTC"
    )
    winter = dt.datetime(2027, 1, 1, 0, 30, tzinfo=HEL)
    assert describe(winter, HEL) == (
        "Friday 2027-01-01 00:30:00 EET (UTC+02:00, Europe/Helsinki) = 2026-12-31 22:30:00 UTC"
    )
    assert brief(EMBARGO, HEL) == "2027-06-25 13:00:00 EEST (10:00:00 UTC)"


def test_relative_times() -> None:
    assert relative(0.0123) == "+0.012 s"
    assert relative(400) == "+6 min 40 s"
    assert relative(-3900) == "-1 h 05 min"
    assert relative(3 * 86400 + 7200) == "+3 d 2 h"
    assert in_words(90) == "in 1 min 30 s"
    assert in_words(-90) == "1 min 30 s ago"


# --- the machine's zone does not matter --------------------------------------------------------


@pytest.fixture
def machine_zone() -> Iterator[None]:
    saved = os.environ.get("TZ")
    yield
    if saved is None:
        os.environ.pop("TZ", None)
    else:
        os.environ["TZ"] = saved
    time.tzset()


def _all_decisions() -> list[tuple[str, str, str]]:
    out: list[tuple[str, str, str]] = []
    for embargo in (
        EMBARGO,
        dt.datetime(2027, 3, 28, 13, 0, tzinfo=HEL),
        dt.datetime(2027, 10, 31, 13, 0, tzinfo=HEL),
        dt.datetime(2027, 10, 31, 0, 1, tzinfo=HEL),
    ):
        for offset, grace, _ in CASES:
            now = (embargo + dt.timedelta(seconds=offset)).astimezone(dt.UTC)
            decision = decide(schedule(embargo, grace=grace), now)
            out.append((str(embargo), str(offset), decision.value))
    accepted = requested_embargo(
        at="2027-10-31 04:00", tz=None, configured=None, default_zone=HEL, now=NOW
    )
    out.append(("requested", "", describe(accepted.moment, accepted.zone)))
    for text in ("2027-03-28 03:30", "2027-10-31 03:30"):
        try:
            requested_embargo(
                at=text, tz=None, configured=None, default_zone=HEL, now=NOW.replace(month=1)
            )
        except ScheduleError as exc:
            out.append(("refused", text, exc.message))
    return out


@pytest.mark.usefixtures("machine_zone")
def test_machine_on_utc_auckland_or_helsinki_decides_the_same() -> None:
    results = {}
    for zone in ("UTC", "Pacific/Auckland", "Europe/Helsinki", "America/Los_Angeles"):
        os.environ["TZ"] = zone
        time.tzset()
        assert time.tzname[0] != "" and (zone == "UTC" or time.timezone != 0 or time.daylight)
        results[zone] = _all_decisions()
    assert results["UTC"] == results["Pacific/Auckland"] == results["Europe/Helsinki"]
    assert results["UTC"] == results["America/Los_Angeles"]
    assert len(results["UTC"]) == 4 * len(CASES) + 3
