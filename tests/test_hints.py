"""What a template error means in the officer's terms (messages/hints.py)."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from jinja2.utils import missing

from mailer.messages.hints import BCC_HINT, Sources, explain_undefined, filter_hint

SOURCES = Sources(config="config.toml", contacts="media/list.csv")


def values(**extra: Any) -> dict[str, Any]:
    return {
        "contact": {"email": "a@x.example", "name": "Anna", "outlet": "Lehti"},
        "event": {"title": "T", "location": "L", "start": dt.datetime(2027, 6, 25, 12)},
        "organizer": {"name": "O", "email": "o@x.example"},
        "vars": {"lunch_time": "11:00", "speaker": "S", "panel": {"chair": "C"}},
        "language": "fi",
        "_zone": None,
        **extra,
    }


def explain(obj_path: str | None, name: str, data: dict[str, Any] | None = None) -> Any:
    data = data if data is not None else values()
    obj: Any = missing
    if obj_path is not None:
        obj = data
        for part in obj_path.split("."):
            obj = obj[part]
    return explain_undefined(obj, name, data, SOURCES, missing=missing)


@pytest.mark.parametrize(
    ("where", "name", "variable", "hint"),
    [
        (
            "vars",
            "moderator",
            "vars.moderator",
            "add moderator = ... under [vars] in config.toml ([vars] has lunch_time, speaker, "
            "panel)",
        ),
        (
            "vars",
            "lunch_tiem",
            "vars.lunch_tiem",
            "did you mean vars.lunch_time? (or add lunch_tiem = ... under [vars] in config.toml)",
        ),
        (
            "vars.panel",
            "host",
            "vars.panel.host",
            "add host = ... under [vars.panel] in config.toml ([vars.panel] has chair)",
        ),
        (
            "contact",
            "phone",
            "contact.phone",
            "media/list.csv has no column 'phone' (columns: email, name, outlet)",
        ),
        (
            "event",
            "venue",
            "event.venue",
            "event has title, location, start (from [event] in config.toml); for a value of "
            "your own, add venue = ... under [vars] in config.toml and write vars.venue",
        ),
        (
            "event",
            "titel",
            "event.titel",
            "did you mean event.title? event has title, location, start (from [event] in "
            "config.toml)",
        ),
        (
            "organizer",
            "phone",
            "organizer.phone",
            "organizer has name, email (from [organizer] in config.toml); for a value of your "
            "own, add phone = ... under [vars] in config.toml and write vars.phone",
        ),
        (None, "speaker", "speaker", "write vars.speaker (speaker is under [vars] in config.toml)"),
        (
            None,
            "speakr",
            "speakr",
            "did you mean vars.speaker? (under [vars] in config.toml)",
        ),
        (
            None,
            "kontakt",
            "kontakt",
            "did you mean contact? (a template knows contact, event, language, organizer, vars)",
        ),
        (
            None,
            "venue",
            "venue",
            "a template knows contact, event, language, organizer, vars; for a value of your "
            "own, add venue = ... under [vars] in config.toml and write vars.venue",
        ),
    ],
)
def test_undefined_names(where: str | None, name: str, variable: str, hint: str) -> None:
    explained = explain(where, name)
    assert (explained.variable, explained.hint) == (variable, hint)


def test_a_renamed_variable_is_found_by_its_part() -> None:
    data = values(vars={"keynote_speaker": "S", "lunch_time": "11"})
    assert explain("vars", "speaker", data).hint == (
        "did you mean vars.keynote_speaker? (or add speaker = ... under [vars] in config.toml)"
    )


def test_contact_fields_in_a_bcc_release() -> None:
    explained = explain("contact", "first_name", values(_bcc=True))
    assert (explained.variable, explained.hint) == ("contact.first_name", BCC_HINT)


def test_a_value_that_is_not_ours_gets_no_hint() -> None:
    data = values()
    explained = explain_undefined("text", "upper_case", data, SOURCES, missing=missing)
    assert (explained.variable, explained.hint) == (None, None)
    explained = explain_undefined(data["vars"], 3, data, SOURCES, missing=missing)
    assert (explained.variable, explained.hint) == (None, None)


@pytest.mark.parametrize(
    ("message", "hint"),
    [
        (
            "No filter named 'uper'.",
            "did you mean 'upper'? the filters are date, time, datetime (dates and times the "
            "local way) and Jinja2's own (upper, lower, title, replace, default, join, ...)",
        ),
        (
            "No filter named 'shout'.",
            "the filters are date, time, datetime (dates and times the local way) and Jinja2's "
            "own (upper, lower, title, replace, default, join, ...)",
        ),
        ("No test named 'evn'.", "did you mean 'even'? the tests are defined, even, odd"),
        ("unexpected '}'", None),
    ],
)
def test_filter_hints(message: str, hint: str | None) -> None:
    filters = ["date", "time", "datetime", "upper", "lower", "replace"]
    assert filter_hint(message, filters, ["defined", "even", "odd"]) == hint


@settings(max_examples=300, deadline=None)
@given(
    name=st.text(min_size=1, max_size=30),
    where=st.sampled_from([None, "vars", "contact", "event", "organizer", "vars.panel"]),
)
def test_every_name_gets_one_line(name: str, where: str | None) -> None:
    explained = explain(where, name)
    if not name.isprintable():  # left to Jinja2's message, which quotes it
        assert (explained.variable, explained.hint) == (None, None)
        return
    assert explained.variable is not None and explained.variable.endswith(name)
    assert explained.hint is not None and explained.hint.isprintable()
