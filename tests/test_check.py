"""``mailer check`` renders every round in every language for every contact and lists every
problem in one run, each once, with a hint; the same hints on preview, send and schedule."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from mailer.cli import app
from tests.helpers import (
    config_path,
    edit_config,
    make_project,
    read_config,
    remove_key,
    set_keys,
    write_contacts,
)

runner = CliRunner()

ROWS = [
    {"email": "anna@lehti.example", "name": "Anna Aho", "language": "fi", "tags": "trusted"},
    {"email": "ville@lehti.example", "name": "Ville Virta", "language": "fi"},
    {"email": "bo@tidning.example", "name": "Bo Berg", "language": "sv"},
    {"email": "eva@tidning.example", "name": "Eva Ek", "language": "sv"},
    {"email": "sam@news.example", "name": "Sam Smith", "language": "en"},
]
for _row in ROWS:
    _row["first_name"] = _row["name"].split()[0]
COLUMNS = ("email", "name", "outlet", "language", "tags", "first_name", "last_name")
COLUMN_LIST = ", ".join(COLUMNS)
HEAD = ["ok    config      config.toml", "ok    contacts    5 contacts, 0 warnings"]
ALL_OK = {
    "invitation": "ok    invitation  5 messages render",
    "reminder": "ok    reminder    5 messages render",
    "update": "ok    update      5 messages render",
    "cancel": "ok    cancel      5 messages render",
    "release": "ok    release     5 messages render",
    "pre-brief": "ok    pre-brief   5 messages render",
}
FILTERS = (
    "the filters are date, time, datetime (dates and times the local way) and Jinja2's own "
    "(upper, lower, title, replace, default, join, ...)"
)


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The starter project with five contacts of known columns, as the current directory."""
    path = make_project(tmp_path / "project")
    write_contacts(path, ROWS, columns=COLUMNS)
    monkeypatch.chdir(path)
    return path


def mailer(*args: str) -> Any:
    return runner.invoke(app, list(args))


def check_lines(*rounds: str | list[str], head: list[str] = HEAD) -> list[str]:
    """The expected output: HEAD, then each round's line(s) (a name: that round is ok)."""
    out = list(head)
    for item in rounds:
        out.extend([ALL_OK[item]] if isinstance(item, str) else item)
    return out


def append(project: Path, template: str, text: str) -> int:
    """Append *text* (one line) to templates/<template>; the line number it got."""
    path = project / "templates" / template
    old = path.read_text(encoding="utf-8")
    if not old.endswith("\n"):
        old += "\n"
    path.write_text(old + text + "\n", encoding="utf-8")
    return len(old.splitlines()) + 1


def vars_hint(project: Path, name: str) -> str:
    keys = ", ".join(read_config(project)["vars"])
    return f"add {name} = ... under [vars] in config.toml ([vars] has {keys})"


def test_the_starter_renders_every_round(project: Path) -> None:
    result = mailer("check", "--no-connect")
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines() == check_lines(*ALL_OK)


def test_every_problem_of_every_round_in_one_run(project: Path) -> None:
    moderator = append(project, "invitation/fi/body.txt", "{{ vars.moderator }}")
    note = append(
        project,
        "invitation/fi/body.txt",
        "{% if 'trusted' in contact.tags %}{{ vars.trusted_note }}{% endif %}",
    )
    phone = append(project, "invitation/sv/body.txt", "Tel. {{ contact.phone }}")
    broken = append(project, "reminder/sv/body.txt", "{{ contact.name }")
    (project / "templates" / "cancel" / "en" / "subject.txt").write_text(
        "Cancelled: {{ event.title|shout }}\n", encoding="utf-8"
    )
    result = mailer("check", "--no-connect")
    assert result.exit_code == 1
    assert result.stderr == ""
    fi, sv = "templates/invitation/fi/body.txt", "templates/invitation/sv/body.txt"
    assert result.stdout.splitlines() == check_lines(
        [
            f"FAIL  invitation  {fi}:{moderator}: undefined variable vars.moderator — "
            + vars_hint(project, "moderator"),
            f"FAIL  invitation  {fi}:{note}: undefined variable vars.trusted_note (for 1 of 2 "
            "contacts, first contacts.csv:2) — " + vars_hint(project, "trusted_note"),
            f"FAIL  invitation  {sv}:{phone}: undefined variable contact.phone — contacts.csv "
            f"has no column 'phone' (columns: {COLUMN_LIST})",
        ],
        [
            f"FAIL  reminder    templates/reminder/sv/body.txt:{broken}: syntax error: "
            "unexpected '}'"
        ],
        "update",
        [
            "FAIL  cancel      templates/cancel/en/subject.txt:1: syntax error: No filter named "
            f"'shout'. — {FILTERS}"
        ],
        "release",
        "pre-brief",
    )


@pytest.mark.parametrize(
    ("template", "text", "round_"),
    [
        ("reminder/en/body.txt", "{{ vars.nope }}", "reminder"),
        ("update/sv/body.txt", "{{ vars.nope }}", "update"),
        ("cancel/fi/body.html", "<p>{{ vars.nope }}</p>", "cancel"),
        ("release/fi/body.txt", "{{ vars.nope }}", "release"),
        ("release/sv/body.txt", "{% if prebrief %}{{ vars.nope }}{% endif %}", "pre-brief"),
    ],
)
def test_check_renders_every_round(project: Path, template: str, text: str, round_: str) -> None:
    line = append(project, template, text)
    result = mailer("check", "--no-connect")
    assert result.exit_code == 1
    failed = [f"FAIL  {round_:<11} templates/{template}:{line}: undefined variable vars.nope — "]
    failed[0] += vars_hint(project, "nope")
    if round_ == "release":  # the pre-brief is the release's template: not listed twice
        after = {"pre-brief": ["FAIL  pre-brief   the same problem as above"]}
    else:
        after = {}
    expected = [failed if name == round_ else after.get(name, name) for name in ALL_OK]
    assert result.stdout.splitlines() == check_lines(*expected)


def test_only_the_cancellation_is_broken(project: Path) -> None:
    """What `mailer check` once missed: the cancel template failed only when it was needed."""
    (project / "templates" / "cancel" / "sv" / "body.txt").write_text(
        "Hej {{ contact.phone }},\n\n{{ event.titel }} är inställt.\n", encoding="utf-8"
    )
    result = mailer("check", "--no-connect")
    assert result.exit_code == 1
    lines = result.stdout.splitlines()
    assert [line for line in lines if line.startswith("FAIL")] == [
        "FAIL  cancel      templates/cancel/sv/body.txt:1: undefined variable contact.phone — "
        f"contacts.csv has no column 'phone' (columns: {COLUMN_LIST})",
        "FAIL  cancel      templates/cancel/sv/body.txt:3: undefined variable event.titel — did "
        "you mean event.title? event has title, location, description, start, end, timezone, "
        "zone_name, url (from [event] in config.toml)",
    ]


def test_a_problem_of_each_contact_is_one_line(project: Path) -> None:
    line = append(project, "invitation/sv/body.txt", "{{ contact.name|date }}")
    result = mailer("check", "--no-connect")
    assert result.exit_code == 1
    assert result.stdout.splitlines()[2] == (
        f"FAIL  invitation  templates/invitation/sv/body.txt:{line}: cannot format 'Bo Berg' as "
        "a date (expected a date or YYYY-MM-DD) (for all 2 contacts, first contacts.csv:4)"
    )
    assert len(result.stdout.splitlines()) == len(check_lines(*ALL_OK))


def test_a_missing_attachment_and_a_template_problem(project: Path) -> None:
    (project / "programme.pdf").unlink()
    line = append(project, "update/fi/body.txt", "{{ vars.nope }}")
    result = mailer("check", "--no-connect")
    assert result.exit_code == 1
    missing = "programme.pdf: no such file (listed in config.toml [invitation] attachments)"
    assert result.stdout.splitlines() == check_lines(
        [f"FAIL  invitation  {missing}"],
        "reminder",
        [
            f"FAIL  update      templates/update/fi/body.txt:{line}: undefined variable "
            f"vars.nope — {vars_hint(project, 'nope')}",
            "FAIL  update      and the problem listed above",
        ],
        "cancel",
        "release",
        "pre-brief",
    )


def test_a_language_without_contacts_is_rendered_for_a_stand_in(project: Path) -> None:
    write_contacts(project, ROWS[:2], columns=COLUMNS)  # Finnish contacts only
    line = append(project, "invitation/en/body.txt", "{{ vars.nope }}")
    result = mailer("check", "--no-connect")
    assert result.exit_code == 1
    stand_in = "(sv, en: no contacts, rendered for a stand-in)"
    ok = {name: text.replace("5 messages", "4 messages") for name, text in ALL_OK.items()}
    assert result.stdout.splitlines() == [
        "ok    config      config.toml",
        "ok    contacts    2 contacts, 0 warnings",
        f"FAIL  invitation  templates/invitation/en/body.txt:{line}: undefined variable vars.nope"
        f" — {vars_hint(project, 'nope')}",
        *(f"{ok[name]} {stand_in}" for name in ("reminder", "update", "cancel")),
        f"{ok['release']} {stand_in}",
        f"{ok['pre-brief']} {stand_in}",
    ]


def test_a_syntax_error_is_found_without_contacts_of_that_language(project: Path) -> None:
    write_contacts(project, ROWS[:1], columns=COLUMNS)
    (project / "templates" / "release" / "en" / "body.html").write_text(
        "<p>\n{% for x in y %}\n</p>\n", encoding="utf-8"
    )
    result = mailer("check", "--no-connect")
    assert result.exit_code == 1
    fails = [line for line in result.stdout.splitlines() if line.startswith("FAIL")]
    assert fails == [
        "FAIL  release     templates/release/en/body.html:2: syntax error: Unexpected end of "
        "template. Jinja was looking for the following tags: 'endfor' or 'else'. The innermost "
        "block that needs to be closed is 'for'.",
        "FAIL  pre-brief   the same problem as above",
    ]


def test_bcc_release_is_checked_as_it_is_sent(project: Path) -> None:
    set_keys(project, "release", mode="bcc")
    result = mailer("check", "--no-connect")
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines()[6] == (
        "ok    release     3 messages render (Bcc: one message per language)"
    )
    line = append(project, "release/sv/body.txt", "{{ contact.outlet }} {{ contact.phone }}")
    result = mailer("check", "--no-connect")
    assert result.exit_code == 1
    assert result.stdout.splitlines()[6:] == [
        f"FAIL  release     templates/release/sv/body.txt:{line}: undefined variable "
        "contact.phone — in Bcc mode every journalist gets the same message, so the release "
        "template cannot use contact fields such as contact.name",
        "FAIL  pre-brief   the same problem as above",  # (sent to each: its hint is the column's)
    ]


def test_without_an_embargo_the_release_is_rendered_with_the_event_start(project: Path) -> None:
    remove_key(project, "release", "embargo")
    result = mailer("check", "--no-connect")
    assert result.exit_code == 0, result.output
    note = " (no [release] embargo yet: rendered with the event's start)"
    assert result.stdout.splitlines()[-2:] == [ALL_OK["release"] + note, ALL_OK["pre-brief"] + note]


# --- the same hints wherever a template fails ---------------------------------------------------


def test_preview_send_and_schedule_give_the_same_hint(project: Path) -> None:
    line = append(project, "invitation/fi/body.txt", "{{ vars.moderator }}")
    expected = (
        f"error: templates/invitation/fi/body.txt:{line}: undefined variable vars.moderator — "
        + vars_hint(project, "moderator")
    )
    for command in (("invite", "preview"), ("invite", "send", "--yes")):
        result = mailer(*command)
        assert result.exit_code == 1, command
        assert result.stderr.splitlines() == [expected], command
    assert not (project / "outbox").exists()
    line = append(project, "release/fi/body.txt", "{{ vars.moderator }}")
    result = mailer("release", "schedule", "--yes")
    assert result.exit_code == 1
    assert result.stderr.splitlines() == [
        f"error: templates/release/fi/body.txt:{line}: undefined variable vars.moderator — "
        + vars_hint(project, "moderator")
    ]


def test_a_renamed_variable_names_the_new_one(project: Path) -> None:
    def rename(data: dict[str, Any]) -> None:
        data["vars"]["keynote_speaker"] = data["vars"].pop("speaker")

    edit_config(project, rename)
    result = mailer("invite", "preview")
    assert result.exit_code == 1
    (line,) = result.stderr.splitlines()
    assert line.endswith(
        "undefined variable vars.speaker — did you mean vars.keynote_speaker? (or add speaker = "
        "... under [vars] in config.toml)"
    ), line


def test_without_contacts_the_templates_are_rendered_for_a_blank_one(project: Path) -> None:
    write_contacts(project, [], columns=COLUMNS)
    line = append(project, "cancel/sv/body.txt", "{{ contact.phone }}")
    result = mailer("check", "--no-connect")
    assert result.exit_code == 1
    stand_in = "3 messages render (fi, sv, en: no contacts, rendered for a stand-in)"
    assert result.stdout.splitlines()[1:] == [
        "ok    contacts    0 contacts, 1 warning",  # (the warning: no contacts)
        f"ok    invitation  {stand_in}",
        f"ok    reminder    {stand_in}",
        f"ok    update      {stand_in}",
        f"FAIL  cancel      templates/cancel/sv/body.txt:{line}: undefined variable contact.phone"
        f" — contacts.csv has no column 'phone' (columns: {COLUMN_LIST})",
        f"ok    release     {stand_in}",
        f"ok    pre-brief   {stand_in}",
    ]


def test_language_tables_left_from_the_starter_are_named_when_the_event_changed(
    tmp_path: Path,
) -> None:
    """The officer edits [event] for her own event; [event.sv] and [event.en] still describe
    the sample seminar, so their journalists would be invited to it: check says so."""
    project = make_project(tmp_path / "p")
    path = config_path(project)
    untouched = runner.invoke(app, ["-c", str(path), "check", "--no-connect"])
    assert not [line for line in untouched.output.splitlines() if line.startswith("warn")]

    set_keys(project, "event", title="Satamafestivaalin avajaiset", location="Satamatori, Vaasa")
    result = runner.invoke(app, ["-c", str(path), "check", "--no-connect"])

    assert result.exit_code == 0, result.output
    assert [line for line in result.output.splitlines() if line.startswith("warn")] == [
        "warn  event       [event.en] title and location still the starter's ('Final seminar "
        "of the battery chemistry project') though [event] was changed: edit or remove "
        "[event.en] in config.toml",
        "warn  event       [event.sv] title and location still the starter's ('Slutseminarium "
        "för batterikemiprojektet') though [event] was changed: edit or remove [event.sv] in "
        "config.toml",
    ]
