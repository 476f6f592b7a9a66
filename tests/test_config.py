"""config.toml: the schema and its one-line errors, zones and local times, paths, presets."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from mailer.config.load import CONFIG_ENV, PRESETS, find_config, load_config, parse_config
from mailer.config.model import Config
from mailer.errors import ConfigError
from tests.helpers import config_path, edit_config, make_project, remove_key, set_keys

HELSINKI = ZoneInfo("Europe/Helsinki")


@pytest.fixture
def project(tmp_path: Path) -> Path:
    return make_project(tmp_path / "project")


def error_of(path: Path) -> str:
    """The message of the ConfigError that loading *path* raises; it must be one line."""
    with pytest.raises(ConfigError) as info:
        load_config(path)
    text = str(info.value)
    assert "\n" not in text and "\r" not in text, text
    assert text.startswith(f"{path}:"), text
    return text


def error_after(project: Path, section: str, **values: Any) -> str:
    return error_of(set_keys(project, section, **values))


# --- the starter config is valid -----------------------------------------------------------------


def test_starter_config_loads(project: Path) -> None:
    config = load_config(config_path(project))
    assert config.event.start == dt.datetime(2027, 6, 25, 12, 0, tzinfo=HELSINKI)
    assert config.event.end == dt.datetime(2027, 6, 25, 16, 0, tzinfo=HELSINKI)
    assert config.event.start.utcoffset() == dt.timedelta(hours=3)
    assert config.event.zone.key == "Europe/Helsinki"
    assert config.organizer.email == "viestinta@kokkola.example"
    assert config.contacts.default_language == "fi"
    assert config.transport.kind == "outbox"
    assert config.smtp is None and config.imap is None
    assert config.release.embargo == dt.datetime(2027, 6, 25, 13, 0, tzinfo=HELSINKI)
    assert config.vars["speaker"] == "Jarkko Vesa"


# --- unknown names -------------------------------------------------------------------------------


def test_unknown_key_suggests_the_right_one(project: Path) -> None:
    path = set_keys(project, "smtp", hots="mail.example")
    assert error_of(path) == f"{path}: [smtp] hots: unknown key (did you mean 'host'?)"


def test_unknown_key_without_close_match(project: Path) -> None:
    path = set_keys(project, "event", colour="blue")
    assert error_of(path) == f"{path}: [event] colour: unknown key"


def test_unknown_section_suggests_the_right_one(project: Path) -> None:
    path = set_keys(project, "smpt", host="mail.example")
    assert error_of(path) == f"{path}: [smpt]: unknown section (did you mean 'smtp'?)"


def test_unknown_section_without_close_match(project: Path) -> None:
    path = set_keys(project, "weather", sunny=True)
    assert error_of(path) == f"{path}: [weather]: unknown section"


def test_a_section_that_is_not_a_table(project: Path) -> None:
    path = edit_config(project, lambda d: d.update(transport="outbox"))
    assert error_of(path) == f"{path}: [transport]: expected a table, got a string"


def test_a_key_with_a_line_break_still_gives_one_line(project: Path) -> None:
    path = set_keys(project, "event", **{"bad\nkey": 1})
    assert error_of(path) == f"{path}: [event] bad\\nkey: unknown key"


# --- wrong types ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("section", "key", "value", "message"),
    [
        ("smtp", "port", "abc", "expected an integer, got a string"),
        ("smtp", "port", True, "expected an integer, got a boolean"),
        ("smtp", "port", 58.7, "expected an integer, got a number"),
        ("smtp", "connections", 0, "must be at least 1, got 0"),
        ("smtp", "timeout_seconds", "30", "expected a number, got a string"),
        ("smtp", "allow_insecure", "yes", "expected true or false, got a string"),
        ("smtp", "security", "ssl", "expected one of 'starttls', 'tls', 'none', got 'ssl'"),
        ("event", "title", 42, "expected a string, got an integer"),
        ("event", "title", "two\nlines", "must be a single line"),
        ("organizer", "name", "Viestint\u00e4\x1f", "control character in 'Viestintä\\x1f'"),
        ("event", "description", "a\nb\x00", "control character in 'a\\nb\\x00'"),
        ("event", "start", 2027, 'expected a local time like "2027-06-25 13:00", got an integer'),
        (
            "event",
            "start",
            dt.date(2027, 6, 25),
            'expected a local time like "2027-06-25 13:00", got date',
        ),
        (
            "event",
            "start",
            "tomorrow",
            "'tomorrow' is not a time of the form YYYY-MM-DD HH:MM[:SS]",
        ),
        (
            "event",
            "start",
            dt.datetime(2027, 6, 25, 12, 0, tzinfo=dt.UTC),
            "give a local time without an offset; the zone comes from the timezone setting",
        ),
        ("contacts", "default_language", "de", "expected one of 'fi', 'sv', 'en', got 'de'"),
        ("invitation", "attachments", "programme.pdf", "expected a list of strings, got a string"),
        ("invitation", "attachments", [1, 2], "expected a list of strings, got a list"),
        ("invitation", "ics_attachment", 1, "expected true or false, got an integer"),
        ("release", "grace_minutes", -1, "must be at least 0, got -1"),
        ("release", "mode", "cc", "expected one of 'personal', 'bcc', got 'cc'"),
        ("transport", "kind", "pigeon", "expected one of 'outbox', 'smtp', got 'pigeon'"),
        ("store", "path", ["a"], "expected a string, got a list"),
        ("organizer", "email", "not-an-address", None),
        ("vars", "speaker", ["a", "b"], "expected text or a number, got a list"),
    ],
)
def test_wrong_types_name_the_key(
    project: Path, section: str, key: str, value: Any, message: str | None
) -> None:
    if section == "smtp":
        set_keys(project, "smtp", host="mail.example")
    path = set_keys(project, section, **{key: value})
    text = error_of(path)
    assert text.startswith(f"{path}: [{section}] {key}: "), text
    if message is not None:
        assert text == f"{path}: [{section}] {key}: {message}"
    else:
        assert "invalid e-mail address 'not-an-address'" in text


def test_smtp_with_wrong_preset_name(project: Path) -> None:
    path = set_keys(project, "smtp", preset="office")
    assert error_of(path) == (
        f"{path}: [smtp] preset: expected one of 'microsoft365', 'gmail', got 'office'"
    )


# --- missing values and sections -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("section", "key"),
    [
        ("event", "title"),
        ("event", "location"),
        ("event", "start"),
        ("event", "end"),
        ("event", "timezone"),
        ("organizer", "name"),
        ("organizer", "email"),
    ],
)
def test_missing_required_value(project: Path, section: str, key: str) -> None:
    path = remove_key(project, section, key)
    assert error_of(path) == f"{path}: [{section}] {key}: missing required value"


def test_missing_smtp_host(project: Path) -> None:
    path = set_keys(project, "smtp", port=587)
    assert error_of(path) == f"{path}: [smtp] host: missing required value"


def test_missing_imap_host(project: Path) -> None:
    path = set_keys(project, "imap", username="viestinta")
    assert error_of(path) == f"{path}: [imap] host: missing required value"


def test_empty_required_value(project: Path) -> None:
    path = set_keys(project, "event", title="   ")
    assert error_of(path) == f"{path}: [event] title: must not be empty"


@pytest.mark.parametrize("section", ["event", "organizer"])
def test_missing_section(project: Path, section: str) -> None:
    path = remove_key(project, section)
    assert error_of(path) == f"{path}: [{section}]: missing section"


def test_optional_sections_have_defaults(project: Path) -> None:
    for section in ("contacts", "invitation", "release", "transport", "store", "log", "vars"):
        remove_key(project, section)
    config = load_config(config_path(project))
    assert config.contacts.file == project.resolve() / "contacts.csv"
    assert config.contacts.default_language == "fi"
    assert config.invitation.template == "invitation"
    assert config.invitation.attachments == ()
    assert config.release.embargo is None
    assert config.release.grace_minutes == 15
    assert config.transport.kind == "outbox"
    assert config.transport.outbox_dir == project.resolve() / "outbox"
    assert config.store_path == project.resolve() / "mailer.db"
    assert config.log_file is None
    assert dict(config.vars) == {}


def test_smtp_transport_needs_an_smtp_section(project: Path) -> None:
    path = set_keys(project, "transport", kind="smtp")
    assert error_of(path) == f"{path}: [transport] kind: is 'smtp' but there is no [smtp] section"


# --- the file itself -----------------------------------------------------------------------------


def test_toml_syntax_error_names_the_line(project: Path) -> None:
    path = config_path(project)
    path.write_text('[event]\ntitle = "x"\nlocation = \nstart = 1\n', encoding="utf-8")
    assert error_of(path) == f"{path}:3: TOML syntax error: Invalid value (column 12)"


def test_toml_syntax_error_in_a_later_line(project: Path) -> None:
    path = config_path(project)
    text = path.read_text(encoding="utf-8") + "\n[smtp]\nhost = mail.example\n"
    path.write_text(text, encoding="utf-8")
    line = text.splitlines().index("host = mail.example") + 1
    assert error_of(path).startswith(f"{path}:{line}: TOML syntax error: ")


def test_missing_file_has_a_hint(tmp_path: Path) -> None:
    path = tmp_path / "nowhere" / "config.toml"
    with pytest.raises(ConfigError) as info:
        load_config(path)
    assert str(info.value) == f"{path}: no such file"
    assert info.value.hint == "run 'mailer init' to create a starter project"


def test_not_utf8(project: Path) -> None:
    path = config_path(project)
    path.write_bytes(b'[event]\ntitle = "caf\xe9"\n')
    assert error_of(path) == f"{path}: not UTF-8 text"


def test_description_may_have_several_lines(project: Path) -> None:
    set_keys(project, "event", description="Ohjelma:\n\t12.00 lounas\n")
    assert load_config(config_path(project)).event.description == "Ohjelma:\n\t12.00 lounas\n"


def test_utf8_bom_is_accepted(project: Path) -> None:
    path = config_path(project)
    path.write_bytes(b"\xef\xbb\xbf" + path.read_bytes())
    assert load_config(path).event.title == "Akkukemian vetovastuuhankkeen loppuseminaari"


def test_label_is_the_path_as_given(project: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    set_keys(project, "smtp", hots="x")
    monkeypatch.chdir(project)
    with pytest.raises(ConfigError) as info:
        load_config(Path("config.toml"))
    assert str(info.value) == "config.toml: [smtp] hots: unknown key (did you mean 'host'?)"


# --- zones and local times -----------------------------------------------------------------------


@pytest.mark.parametrize("zone", ["Mars/Olympus", "Europe", "europe/helsinki", "../etc/passwd"])
def test_zone_that_does_not_exist(project: Path, zone: str) -> None:
    path = set_keys(project, "event", timezone=zone)
    assert error_of(path) == (
        f"{path}: [event] timezone: unknown time zone {zone!r} "
        "(use an IANA name like Europe/Helsinki)"
    )


def test_time_skipped_by_daylight_saving(project: Path) -> None:
    path = set_keys(project, "event", start="2027-03-28 03:30", end="2027-03-28 05:00")
    assert error_of(path) == (
        f"{path}: [event] start: 2027-03-28 03:30:00 does not exist in Europe/Helsinki "
        "(the clocks skip it for daylight saving time)"
    )


def test_time_repeated_when_daylight_saving_ends(project: Path) -> None:
    path = set_keys(project, "event", start="2027-10-31 02:00", end="2027-10-31 03:30")
    assert error_of(path) == (
        f"{path}: [event] end: 2027-10-31 03:30:00 is ambiguous in Europe/Helsinki "
        "(it happens twice when daylight saving time ends)"
    )


def test_embargo_in_a_gap(project: Path) -> None:
    path = set_keys(project, "release", embargo="2027-03-28 03:00")
    assert error_of(path).startswith(
        f"{path}: [release] embargo: 2027-03-28 03:00:00 does not exist"
    )


def test_times_around_the_change_are_fine(project: Path) -> None:
    set_keys(project, "event", start="2027-03-28 02:59", end="2027-03-28 04:00")
    config = load_config(config_path(project))
    assert config.event.start.utcoffset() == dt.timedelta(hours=2)
    assert config.event.end.utcoffset() == dt.timedelta(hours=3)
    # Same-zone subtraction is wall-clock arithmetic; the real gap is one minute.
    utc = config.event.end.astimezone(dt.UTC) - config.event.start.astimezone(dt.UTC)
    assert utc == dt.timedelta(minutes=1)


def test_toml_local_datetime_is_accepted(project: Path) -> None:
    set_keys(
        project,
        "event",
        start=dt.datetime(2027, 6, 25, 12, 0),
        end=dt.datetime(2027, 6, 25, 16, 0),
        timezone="America/New_York",
    )
    config = load_config(config_path(project))
    assert config.event.start == dt.datetime(2027, 6, 25, 16, 0, tzinfo=dt.UTC)


@pytest.mark.parametrize("end", ["2027-06-25 11:00", "2027-06-25 12:00"])
def test_end_before_or_at_start(project: Path, end: str) -> None:
    path = set_keys(project, "event", end=end)
    assert error_of(path) == f"{path}: [event] end: must be after [event] start"


# --- secrets and security ------------------------------------------------------------------------


@pytest.mark.parametrize("section", ["smtp", "imap"])
@pytest.mark.parametrize("key", ["password", "Password", "token", "secret"])
def test_password_in_config_is_refused(project: Path, section: str, key: str) -> None:
    path = set_keys(project, section, host="mail.example", **{key: "hunter2"})
    text = error_of(path)
    assert text == (
        f"{path}: [{section}] {key}: passwords do not belong in config.toml; set password_env "
        "(an environment variable), password_command or keyring_service"
    )
    assert "hunter2" not in text


@pytest.mark.parametrize("section", ["smtp", "imap"])
def test_cleartext_to_a_remote_host_is_refused(project: Path, section: str) -> None:
    path = set_keys(project, section, host="mail.example", security="none")
    assert error_of(path) == (
        f"{path}: [{section}] security: 'none' sends the password in clear text to "
        "mail.example; use 'starttls' or 'tls', or set allow_insecure = true if you really mean it"
    )


@pytest.mark.parametrize("host", ["localhost", "127.0.0.1", "127.0.0.2", "::1"])
def test_cleartext_to_loopback_is_allowed(project: Path, host: str) -> None:
    set_keys(project, "smtp", host=host, security="none")
    smtp = load_config(config_path(project)).smtp
    assert smtp is not None and smtp.security == "none" and smtp.port == 25


def test_cleartext_with_allow_insecure(project: Path) -> None:
    set_keys(project, "smtp", host="mail.example", security="none", allow_insecure=True)
    smtp = load_config(config_path(project)).smtp
    assert smtp is not None and smtp.allow_insecure


@pytest.mark.parametrize(("security", "port"), [("starttls", 587), ("tls", 465), ("none", 25)])
def test_smtp_default_ports(project: Path, security: str, port: int) -> None:
    set_keys(project, "smtp", host="localhost", security=security)
    smtp = load_config(config_path(project)).smtp
    assert smtp is not None and smtp.port == port


def test_imap_defaults(project: Path) -> None:
    set_keys(project, "imap", host="imap.example", password_env="IMAP_PASSWORD")
    imap = load_config(config_path(project)).imap
    assert imap is not None
    assert (imap.port, imap.security, imap.folder) == (993, "tls", "INBOX")
    assert imap.password_env == "IMAP_PASSWORD"


# --- paths ---------------------------------------------------------------------------------------


def test_relative_paths_are_relative_to_the_config_file(
    project: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    set_keys(project, "contacts", file="lists/media.csv")
    set_keys(project, "invitation", attachments=["programme.pdf", "../shared/map.pdf"])
    set_keys(project, "release", attachments=["release.pdf"])
    set_keys(project, "transport", outbox_dir="out/box")
    set_keys(project, "store", path="state/mailer.db")
    set_keys(project, "log", file="mailer.log")
    set_keys(project, "smtp", host="mail.example", ca_file="certs/ca.pem")
    set_keys(project, "imap", host="mail.example", ca_file="/etc/ssl/ca.pem")
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    config = load_config(Path("..") / "project" / "config.toml")
    root = project.resolve()
    assert config.root == root
    assert config.templates_dir == root / "templates"
    assert config.contacts.file == root / "lists" / "media.csv"
    assert config.invitation.attachments == (root / "programme.pdf", root / "../shared/map.pdf")
    assert config.release.attachments == (root / "release.pdf",)
    assert config.transport.outbox_dir == root / "out" / "box"
    assert config.store_path == root / "state" / "mailer.db"
    assert config.log_file == root / "mailer.log"
    assert config.smtp is not None and config.smtp.ca_file == root / "certs" / "ca.pem"
    assert config.imap is not None and config.imap.ca_file == Path("/etc/ssl/ca.pem")


def test_home_is_expanded(project: Path, tmp_path: Path) -> None:
    set_keys(project, "store", path="~/journal.db")
    assert load_config(config_path(project)).store_path == tmp_path / "home" / "journal.db"


# --- presets -------------------------------------------------------------------------------------


def test_preset_fills_in_smtp_values(project: Path) -> None:
    set_keys(project, "smtp", preset="microsoft365", username="viestinta@kokkola.example")
    smtp = load_config(config_path(project)).smtp
    assert smtp is not None
    wanted = PRESETS["microsoft365"]
    assert smtp.host == wanted["host"] == "smtp.office365.com"
    assert smtp.port == 587
    assert smtp.security == "starttls"
    assert smtp.connections == 3
    assert smtp.rate_per_minute == 30
    assert smtp.daily_cap == 10000
    assert smtp.recipients_per_message == 500
    assert smtp.preset == "microsoft365"


def test_explicit_keys_override_the_preset(project: Path) -> None:
    set_keys(
        project,
        "smtp",
        preset="gmail",
        host="smtp-relay.gmail.com",
        port=465,
        security="tls",
        rate_per_minute=10,
    )
    smtp = load_config(config_path(project)).smtp
    assert smtp is not None
    assert (smtp.host, smtp.port, smtp.security) == ("smtp-relay.gmail.com", 465, "tls")
    assert smtp.rate_per_minute == 10
    assert smtp.daily_cap == PRESETS["gmail"]["daily_cap"]  # not overridden


def test_explicit_keys_are_still_checked_with_a_preset(project: Path) -> None:
    path = set_keys(project, "smtp", preset="gmail", port="587")
    assert error_of(path) == f"{path}: [smtp] port: expected an integer, got a string"


# --- which file ----------------------------------------------------------------------------------


def test_find_config_order(tmp_path: Path) -> None:
    explicit = tmp_path / "a.toml"
    from_env = tmp_path / "b.toml"
    assert find_config(explicit, environ={CONFIG_ENV: str(from_env)}) == explicit
    assert find_config(None, environ={CONFIG_ENV: str(from_env)}) == from_env
    assert find_config(None, environ={CONFIG_ENV: ""}) == Path("config.toml")
    assert find_config(None, environ={}) == Path("config.toml")


def test_find_config_reads_the_process_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert find_config(None) == Path("config.toml")
    monkeypatch.setenv(CONFIG_ENV, str(tmp_path / "x.toml"))
    assert find_config(None) == tmp_path / "x.toml"


# --- every error is one line, whatever the document ----------------------------------------------


def test_parse_config_from_a_dict(project: Path) -> None:
    import tomllib

    data = tomllib.loads(config_path(project).read_text(encoding="utf-8"))
    config = parse_config(data, config_path(project))
    assert isinstance(config, Config)
    assert config.path == config_path(project)


# --- [event.<language>]: the event's texts in other languages ------------------------------------


TABLES = {
    "sv": {
        "title": "Slutseminarium för batterikemiprojektet",
        "location": "Villa Elba, Karleby",
        "description": "Slutseminarium.\n",
    },
    "en": {"title": "Final seminar of the battery chemistry project"},
}


@pytest.fixture
def tables(project: Path) -> Path:
    """The project with [event.sv] and [event.en] (as the starter writes them)."""
    return edit_config(project, lambda data: data["event"].update(TABLES))


def test_language_tables_merge_over_event(tables: Path) -> None:
    event = load_config(tables).event
    assert sorted(event.languages) == ["en", "sv"]
    assert event.text("sv").title == "Slutseminarium för batterikemiprojektet"
    assert event.text("sv").location == "Villa Elba, Karleby"
    assert event.text("sv").url == ""  # not in the table: [event] url
    assert event.text("en").location == event.location
    assert event.text("fi") == event.default_text  # no [event.fi]: [event]
    swedish = event.in_language("sv")
    assert (swedish.title, swedish.location) == (event.text("sv").title, "Villa Elba, Karleby")
    assert (swedish.start, swedish.zone) == (event.start, event.zone)


def test_a_language_table_may_set_only_some_keys(project: Path) -> None:
    def change(data: dict[str, Any]) -> None:
        data["event"]["sv"] = {"url": "https://karleby.example/seminarium"}

    event = load_config(edit_config(project, change)).event
    assert event.text("sv").title == event.title
    assert event.text("sv").url == "https://karleby.example/seminarium"


@pytest.mark.parametrize(
    ("table", "message"),
    [
        ({"titel": "x"}, "[event.sv] titel: unknown key (did you mean 'title'?)"),
        ({"plats": "x"}, "[event.sv] plats: unknown key"),
        (
            {"start": "2027-06-25 12:00"},
            "[event.sv] start: is the same in every language: set it in [event]; [event.sv] may "
            "only set the title, location, description and url",
        ),
        ({"title": ""}, "[event.sv] title: must not be empty (leave it out to use [event] title)"),
        (
            {"location": " "},
            "[event.sv] location: must not be empty (leave it out to use [event] location)",
        ),
        ({"title": 7}, "[event.sv] title: expected a string, got an integer"),
        ({"location": "a\nb"}, "[event.sv] location: must be a single line"),
        ({"description": "a\x07"}, "[event.sv] description: control character in 'a\\x07'"),
    ],
)
def test_language_table_errors(project: Path, table: dict[str, Any], message: str) -> None:
    path = edit_config(project, lambda data: data["event"].update(sv=table))
    assert error_of(path) == f"{path}: {message}"


def test_a_language_table_may_have_a_multi_line_description(project: Path) -> None:
    path = edit_config(project, lambda d: d["event"].update(sv={"description": "a\nb\n"}))
    assert load_config(path).event.text("sv").description == "a\nb\n"


def test_a_table_for_a_language_mailer_does_not_know(project: Path) -> None:
    path = edit_config(project, lambda data: data["event"].update(de={"title": "Seminar"}))
    assert error_of(path) == (
        f"{path}: [event.de]: unknown language (a language table is one of 'fi', 'sv', 'en'; "
        "only the title, location, description and url can differ by language)"
    )


def test_a_language_key_that_is_not_a_table(project: Path) -> None:
    path = set_keys(project, "event", sv="Slutseminarium")
    assert error_of(path) == (
        f"{path}: [event] sv: expected a table [event.sv] with the Swedish title, location, "
        "description and url, got a string"
    )


def test_a_table_for_a_language_without_templates_is_an_error(project: Path, tables: Path) -> None:
    for folder in (project / "templates").glob("*/en"):
        for file in folder.iterdir():
            file.unlink()
        folder.rmdir()
    path = config_path(project)
    assert error_of(path) == (
        f"{path}: [event.en]: no template is written in 'en' (templates/<round>/en/), so its "
        "contacts get the default language's templates and the [event] texts; add the templates "
        "or remove [event.en]"
    )
    edit_config(project, lambda data: data["event"].pop("en"))
    assert sorted(load_config(path).event.languages) == ["sv"]


def test_without_a_templates_folder_the_tables_are_not_checked(project: Path, tables: Path) -> None:
    config = tables
    moved = project.parent / "elsewhere"
    moved.mkdir()
    config.rename(moved / "config.toml")
    assert sorted(load_config(moved / "config.toml").event.languages) == ["en", "sv"]
