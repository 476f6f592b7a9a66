"""What the journal keeps of the event that was sent, and what an update compares with."""

from __future__ import annotations

import dataclasses
import hashlib
import json
from pathlib import Path
from typing import Any

import pytest

from mailer.config.load import load_config
from mailer.config.model import Config, EventConfig, EventText
from mailer.invitations.followups import (
    EVENT,
    event_from_snapshot,
    event_snapshot,
    fingerprint,
    record_round,
    stale_translations,
    update_spec,
)
from mailer.messages import invitation_spec
from mailer.models import Campaign
from mailer.store import Reservation, Store
from tests.conftest import FIXED_NOW
from tests.helpers import config_path, edit_config, make_project


@pytest.fixture
def project(tmp_path: Path) -> Path:
    return make_project(tmp_path / "project")


def config_of(project: Path) -> Config:
    return load_config(config_path(project))


def test_snapshot_round_trip(project: Path) -> None:
    event = config_of(project).event
    again = event_from_snapshot(event_snapshot(event))
    assert again == event
    assert again is not None and again.start.tzinfo == event.zone
    assert json.loads(event_snapshot(event))["languages"]["sv"]["location"] == (
        "Villa Elba, Karleby"
    )


@pytest.mark.parametrize(
    "text", [None, "", "{", "[]", '{"title": "x"}', '{"timezone": "../etc/passwd"}']
)
def test_an_unreadable_snapshot_is_none(text: str | None) -> None:
    assert event_from_snapshot(text) is None


def test_fingerprint_without_language_tables_is_the_old_one(project: Path) -> None:
    """Journals written before [event.<language>] existed keep their fingerprint."""
    edit_config(project, lambda data: [data["event"].pop(lang) for lang in ("sv", "en")])
    config = config_of(project)
    ev = config.event
    old = [
        ev.title,
        ev.location,
        ev.description,
        ev.start.isoformat(),
        ev.end.isoformat(),
        ev.zone.key,
        ev.url,
        config.organizer.email,
    ]
    assert fingerprint(config) == hashlib.sha256(json.dumps(old).encode()).hexdigest()[:16]


def test_a_table_equal_to_event_does_not_change_the_fingerprint(project: Path) -> None:
    edit_config(project, lambda data: [data["event"].pop(lang) for lang in ("sv", "en")])
    before = fingerprint(config_of(project))
    edit_config(project, lambda data: data["event"].update(sv={"location": "Villa Elba, Kokkola"}))
    assert fingerprint(config_of(project)) == before
    edit_config(project, lambda data: data["event"].update(sv={"location": "Villa Elba, Karleby"}))
    assert fingerprint(config_of(project)) != before


def invite(config: Config, store: Store) -> None:
    store.journal.reserve(
        Campaign.INVITATION, 0, [Reservation("a@x.example", "A", "<1@x>", "uid-1", 0)], FIXED_NOW
    )
    record_round(config, store, invitation_spec(config))


def move(data: dict[str, Any]) -> None:
    data["event"]["location"] = "Kaupungintalo"


def test_an_update_compares_with_the_details_last_sent(project: Path) -> None:
    with Store(config_of(project).store_path) as store:
        invite(config_of(project), store)
        assert event_from_snapshot(store.journal.get_meta(EVENT)) == config_of(project).event
        edit_config(project, move)
        spec = update_spec(config_of(project), store)
        assert spec is not None and spec.previous_event is not None
        assert spec.previous_event.location == "Villa Elba, Kokkola"
        assert (spec.round, spec.sequence) == (1, 1)


def test_a_resumed_update_round_still_knows_what_it_changed(project: Path) -> None:
    with Store(config_of(project).store_path) as store:
        invite(config_of(project), store)
        edit_config(project, move)
        config = config_of(project)
        spec = update_spec(config, store)
        assert spec is not None
        # The round's rows are reserved and the details recorded, but nothing sent yet.
        store.journal.reserve(
            Campaign.UPDATE, 1, [Reservation("a@x.example", "A", "<2@x>", "uid-1", 1)], FIXED_NOW
        )
        record_round(config, store, spec)
        assert event_from_snapshot(store.journal.get_meta(EVENT)) == config.event

        again = update_spec(config, store)
        assert again is not None and (again.round, again.sequence) == (1, 1)
        assert again.previous_event == spec.previous_event


def test_an_update_for_a_journal_without_a_snapshot_tells_no_changes(project: Path) -> None:
    with Store(config_of(project).store_path) as store:
        invite(config_of(project), store)
        store.journal.set_meta(EVENT, "")  # a journal from before the details were kept
        edit_config(project, move)
        spec = update_spec(config_of(project), store)
        assert spec is not None and spec.previous_event is None


def test_stale_translations() -> None:
    sv = EventText("Slutseminarium", "Villa Elba, Karleby", "", "")
    before = EventConfig(
        "Loppuseminaari", "Villa Elba", "", *_times(), id="x", url="", languages={"sv": sv}
    )
    moved = dataclasses.replace(before, location="Kaupungintalo")
    assert stale_translations(before, moved) == (
        "[event] location changed but [event.sv] location did not; its contacts are still told "
        "'Villa Elba, Karleby'",
    )
    both = dataclasses.replace(
        moved, languages={"sv": dataclasses.replace(sv, location="Stadshuset")}
    )
    assert stale_translations(before, both) == ()
    # A language that follows [event] changes with it.
    plain = dataclasses.replace(before, languages={})
    assert stale_translations(plain, dataclasses.replace(plain, location="Kaupungintalo")) == ()


def _times() -> tuple[Any, ...]:
    from zoneinfo import ZoneInfo

    zone = ZoneInfo("Europe/Helsinki")
    start = FIXED_NOW.astimezone(zone)
    return (start, start.replace(hour=start.hour + 1), zone)
