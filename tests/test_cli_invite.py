"""The command line: exit codes and exact lines of init, check, status and invite."""

from __future__ import annotations

import email
import json
import os
import re
import stat
import subprocess
import sys
from collections.abc import Callable
from email import policy
from pathlib import Path
from typing import Any

import pytest
import typer.main
from icalendar import Calendar
from typer.testing import CliRunner

from mailer.cli import app
from mailer.config.load import CONFIG_ENV
from mailer.models import Campaign, State
from mailer.store import Store
from tests.fixtures_imap import DovecotServer
from tests.fixtures_smtp import SmtpTestServer
from tests.helpers import edit_config, make_project, set_keys, write_contacts

README = Path(__file__).resolve().parent.parent / "README.md"
SUBJECT_FI = "Kutsu medialle: Akkukemian vetovastuuhankkeen loppuseminaari 25. kesäkuuta 2027"
SARAH = "sarah.okafor@batteryinsider.example"

runner = CliRunner()


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The starter project as the current directory."""
    path = make_project(tmp_path / "project")
    monkeypatch.chdir(path)
    return path


def mailer(*args: str, env: dict[str, str] | None = None) -> Any:
    return runner.invoke(app, list(args), env=env)


def lines(text: str) -> list[str]:
    return text.splitlines()


def eml_files(project: Path) -> list[Path]:
    folder = project / "outbox"
    return sorted(folder.glob("*.eml")) if folder.exists() else []


def journal(project: Path) -> list[Any]:
    if not (project / "mailer.db").exists():
        return []
    with Store(project / "mailer.db") as store:
        return store.journal.entries(Campaign.INVITATION)


def summary_lines(project: Path, to_send: str, *extra: str) -> list[str]:
    return [
        "Round:        invitation",
        f"To send now:  {to_send}",
        *([f"Subject:      {SUBJECT_FI}"] if to_send != "0" else []),
        f"Transport:    outbox folder {project.resolve() / 'outbox'}",
        *extra,
    ]


# --- invite send ---------------------------------------------------------------------------------


def test_send_writes_the_outbox_and_the_journal(project: Path) -> None:
    result = mailer("invite", "send", "--yes")
    assert result.exit_code == 0, result.output
    assert result.stderr == ""
    out = lines(result.stdout)
    assert out[:4] == summary_lines(
        project, "7 (one message per contact; languages: en 1, fi 3, sv 3)"
    )
    assert "│ sent                                     │        7 │" in out
    assert "│ failed                                   │        0 │" in out
    files = eml_files(project)
    assert len(files) == 7
    assert stat.S_IMODE((project / "outbox").stat().st_mode) == 0o700
    assert {stat.S_IMODE(f.stat().st_mode) for f in files} == {0o600}
    assert stat.S_IMODE((project / "mailer.db").stat().st_mode) == 0o600
    rows = {e.message_id: e for e in journal(project)}
    assert len(rows) == 7 and {e.state for e in rows.values()} == {State.SENT}
    uids = set()
    for path in files:
        msg = email.message_from_bytes(path.read_bytes(), policy=policy.default)
        to = msg["To"].addresses
        assert len(to) == 1
        entry = rows[msg["Message-ID"]]
        assert to[0].addr_spec == entry.email
        cal_part = next(p for p in msg.walk() if p.get_content_type() == "text/calendar")
        cal = Calendar.from_ical(cal_part.get_payload(decode=True))
        (event,) = cal.walk("VEVENT")
        attendee = event["ATTENDEE"]
        assert not isinstance(attendee, list)  # exactly one ATTENDEE
        assert str(attendee) == f"mailto:{entry.email}"
        assert str(event["UID"]) == entry.ics_uid
        uids.add(entry.ics_uid)
    assert len(uids) == 7


def test_second_run_sends_nothing_and_says_how_many_it_skipped(project: Path) -> None:
    assert mailer("invite", "send", "--yes").exit_code == 0
    before = {p.name: p.read_bytes() for p in eml_files(project)}
    result = mailer("invite", "send", "--yes")
    assert result.exit_code == 0, result.output
    assert lines(result.stdout) == summary_lines(
        project,
        "0",
        "Skipped:      7 already handled by an earlier run",
        "Nothing to send: all invitations were handled by earlier runs.",
    )
    assert {p.name: p.read_bytes() for p in eml_files(project)} == before
    assert len(journal(project)) == 7


def test_dry_run_writes_nothing_and_journals_nothing(project: Path) -> None:
    result = mailer("invite", "send", "--dry-run")
    assert result.exit_code == 0, result.output
    assert lines(result.stdout) == summary_lines(
        project,
        "7 (one message per contact; languages: en 1, fi 3, sv 3)",
        "Dry run: every message was rendered and checked; nothing was sent.",
    )
    assert not (project / "outbox").exists()
    assert journal(project) == []


def test_tag(project: Path) -> None:
    result = mailer("invite", "send", "--yes", "--tag", "broadcast")
    assert result.exit_code == 0, result.output
    assert (
        lines(result.stdout)[1]
        == "To send now:  2 (one message per contact; languages: fi 1, sv 1)"
    )
    assert sorted(e.email for e in journal(project)) == [
        "jorgen.bystrom@yle.example",
        "jyrki.hyvonen@yle.example",
    ]


def test_only(project: Path) -> None:
    result = mailer("invite", "send", "--yes", "--only", SARAH)
    assert result.exit_code == 0, result.output
    assert [e.email for e in journal(project)] == [SARAH]
    assert len(eml_files(project)) == 1


def test_limit(project: Path) -> None:
    result = mailer("invite", "send", "--yes", "--limit", "2")
    assert result.exit_code == 0, result.output
    out = lines(result.stdout)
    assert out[1] == "To send now:  2 (one message per contact; languages: fi 2)"
    assert "Not sent:     sarah.okafor@batteryinsider.example: over --limit 2" in out
    assert len(eml_files(project)) == 2
    again = mailer("invite", "send", "--yes")
    assert lines(again.stdout)[1] == (
        "To send now:  5 (one message per contact; languages: en 1, fi 1, sv 3)"
    )
    assert "Skipped:      2 already handled by an earlier run" in lines(again.stdout)
    assert len(eml_files(project)) == 7


def test_the_plan_counts_the_daily_cap_used_in_the_last_24_hours(
    project: Path, smtp_server: Callable[..., SmtpTestServer]
) -> None:
    server = smtp_server()
    set_keys(project, "transport", kind="smtp")
    set_keys(project, "smtp", **server.smtp_section(daily_cap=5))
    first = mailer("invite", "send", "--yes", "--limit", "4")
    assert first.exit_code == 0, first.output
    assert not any(line.startswith("Warning:") for line in lines(first.stdout))
    assert len(server.messages) == 4
    again = mailer("invite", "send", "--dry-run")
    assert again.exit_code == 0, again.output
    plan = next(line for line in lines(again.stdout) if line.startswith("Plan:"))
    assert plan.endswith(
        "; over the daily cap of 5 recipients ([smtp] daily_cap): room for 1 now, "
        "the rest stays queued for a later run"
    )
    assert (
        "Warning:      this exceeds the daily cap of 5 recipients (4 already used in the last "
        "24 h); the rest stays queued for a later run"
    ) in lines(again.stdout)


def test_limit_must_be_positive(project: Path) -> None:
    result = mailer("invite", "send", "--yes", "--limit", "0")
    assert result.exit_code == 2
    assert journal(project) == []


def test_without_a_terminal_and_without_yes_it_refuses(project: Path) -> None:
    result = mailer("invite", "send")
    assert result.exit_code == 2
    assert lines(result.stderr) == [
        "error: not a terminal: nothing was sent. Add --yes to send without asking (for example "
        "from a script), or run it in a terminal"
    ]
    assert not (project / "outbox").exists()
    assert journal(project) == []


def test_template_error_stops_the_batch(project: Path) -> None:
    body = project / "templates" / "invitation" / "en" / "body.txt"
    body.write_text("Dear {{ contact.first_name }},\n\n{{ event.venue }}\n", encoding="utf-8")
    result = mailer("invite", "send", "--yes")
    assert result.exit_code == 1
    assert result.stdout == ""
    assert lines(result.stderr) == [
        "error: templates/invitation/en/body.txt:3: undefined variable event.venue — event has"
        " title, location, description, start, end, timezone, zone_name, url (from [event] in"
        " config.toml);"
        " for a value of your own, add venue = ... under [vars] in config.toml and write"
        " vars.venue"
    ]
    assert not (project / "outbox").exists()
    assert journal(project) == []


def test_missing_attachment_stops_the_batch(project: Path) -> None:
    (project / "programme.pdf").unlink()
    result = mailer("invite", "send", "--yes")
    assert result.exit_code == 1
    assert lines(result.stderr) == [
        "error: programme.pdf: no such file (listed in config.toml [invitation] attachments)"
    ]
    assert not (project / "outbox").exists()
    assert journal(project) == []


def test_contacts_error_stops_everything(project: Path) -> None:
    write_contacts(
        project,
        [
            {"email": "a@lehti.example", "name": "A"},
            {"email": "b@lehti.example", "name": "B"},
            {"email": "a@lehti.example", "name": "A again"},
        ],
    )
    result = mailer("invite", "send", "--yes")
    assert result.exit_code == 1
    (line,) = lines(result.stderr)
    assert re.fullmatch(
        r"error: contacts\.csv:4: .+ \(1 error; run 'mailer contacts check'\)", line
    )
    assert not (project / "outbox").exists()
    assert journal(project) == []


def test_config_error_is_one_line(project: Path) -> None:
    set_keys(project, "smtp", hots="mail.example")
    result = mailer("invite", "send", "--yes")
    assert result.exit_code == 1
    assert lines(result.stderr) == [
        "error: config.toml: [smtp] hots: unknown key (did you mean 'host'?)"
    ]


def test_missing_config_has_a_hint(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    result = mailer("status")
    assert result.exit_code == 1
    assert lines(result.stderr) == [
        "error: config.toml: no such file",
        "hint: run 'mailer init' to create a starter project",
    ]


def test_some_messages_failed_exits_3(
    project: Path, smtp_server: Callable[..., SmtpTestServer]
) -> None:
    server = smtp_server()
    set_keys(project, "transport", kind="smtp")
    set_keys(project, "smtp", **server.smtp_section())
    server.fail_data("550 5.7.1 Message rejected as spam", times=7)
    result = mailer("invite", "send", "--yes")
    assert result.exit_code == 3, result.output
    out = lines(result.stdout)
    assert "│ failed                                   │        7 │" in out
    assert (
        "Failed messages are not retried automatically; fix the cause, then use --retry-failed."
        in out
    )
    status = json.loads(mailer("status", "--json").stdout)
    assert status["invitations"] == {
        "sent": 0,
        "failed": 7,
        "in_doubt": 0,
        "pending": 0,
        "skipped": 0,
    }
    assert {p["state"] for p in status["problems"]} == {"failed"}
    retried = mailer("invite", "send", "--yes", "--retry-failed")
    assert retried.exit_code == 0, retried.output
    assert "Requeued 7 messages on request." in lines(retried.stdout)
    assert len(server.messages) == 7


# --- invite preview ------------------------------------------------------------------------------


def test_preview_to_and_out(project: Path) -> None:
    result = mailer("invite", "preview", "--to", SARAH, "--out", "sarah.eml")
    assert result.exit_code == 0, result.output
    out = lines(result.stdout)
    assert out[0] == "From: Kokkolan kaupunki / Viestintä <viestinta@kokkola.example>"
    assert out[1] == f"To: Sarah Okafor <{SARAH}>"
    assert out[2] == (
        "Subject: Media invitation: Final seminar of the battery chemistry project, 25 June 2027"
    )
    assert out[5] == "Parts: text/plain, text/html, text/calendar, application/pdf (programme.pdf)"
    assert out[-1] == "wrote sarah.eml"
    assert "Dear Sarah," in out
    written = project / "sarah.eml"
    assert stat.S_IMODE(written.stat().st_mode) == 0o600
    msg = email.message_from_bytes(written.read_bytes(), policy=policy.default)
    assert [a.addr_spec for a in msg["To"].addresses] == [SARAH]
    assert journal(project) == []  # a preview journals nothing
    assert not (project / "outbox").exists()


def test_preview_defaults_to_the_first_contact(project: Path) -> None:
    result = mailer("invite", "preview")
    assert result.exit_code == 0, result.output
    assert lines(result.stdout)[1] == (
        "To: Päivi Mäki-Jaakkola <paivi.maki-jaakkola@keskipohjanmaa.example>"
    )
    assert lines(result.stdout)[2] == f"Subject: {SUBJECT_FI}"


def test_preview_unknown_address(project: Path) -> None:
    result = mailer("invite", "preview", "--to", "nobody@lehti.example")
    assert result.exit_code == 1
    assert lines(result.stderr) == [
        "error: contacts.csv: no contacts with address 'nobody@lehti.example'"
    ]


def html_part(data: bytes) -> str:
    msg = email.message_from_bytes(data, policy=policy.default)
    (part,) = [p for p in msg.walk() if p.get_content_type() == "text/html"]
    return str(part.get_content())  # type: ignore[attr-defined]


def test_preview_writes_the_html_part(project: Path) -> None:
    result = mailer("invite", "preview", "--to", SARAH, "--out", "sarah.eml")
    assert result.exit_code == 0, result.output
    assert result.stderr == ""
    assert lines(result.stdout)[-3:] == [
        "",
        "wrote preview-en.html (the HTML part, as Outlook shows it; --open shows it in your "
        "browser)",
        "wrote sarah.eml",
    ]
    written = project / "preview-en.html"
    assert stat.S_IMODE(written.stat().st_mode) == 0o600
    sent = html_part((project / "sarah.eml").read_bytes())
    assert written.read_bytes() == sent.encode("utf-8")
    assert "Dear Sarah," in written.read_text(encoding="utf-8")


def test_preview_html_to_a_chosen_file_and_raw(project: Path) -> None:
    result = mailer("invite", "preview", "--raw", "--html", "out/fi.html")
    assert result.exit_code == 1
    assert lines(result.stderr) == ["error: out/fi.html: cannot write: No such file or directory"]
    (project / "out").mkdir()
    result = mailer("invite", "preview", "--raw", "--html", "out/fi.html")
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith("From: ")  # only the message: it can be piped
    assert lines(result.stderr) == [
        "",
        "wrote out/fi.html (the HTML part, as Outlook shows it; --open shows it in your browser)",
    ]
    assert stat.S_IMODE((project / "out" / "fi.html").stat().st_mode) == 0o600


def test_preview_of_a_plain_text_message(project: Path) -> None:
    (project / "templates" / "invitation" / "fi" / "body.html").unlink()
    result = mailer("invite", "preview")
    assert result.exit_code == 0, result.output
    assert lines(result.stdout)[-1] == (
        "No HTML part: the message is plain text (the template has no body.html)."
    )
    assert not list(project.glob("preview-*.html"))


def test_preview_warns_when_the_parts_disagree(project: Path) -> None:
    """The officer rewrote body.txt; body.html still tells the sample's story."""
    body = project / "templates" / "invitation" / "en" / "body.txt"
    text = body.read_text(encoding="utf-8")
    assert ", among them {{ vars.speaker }}." in text
    text = text.replace(", among them {{ vars.speaker }}.", ".")
    body.write_text(text + "\nAsk for {{ vars.guide }} at the door.\n", encoding="utf-8")
    edit_config(project, lambda data: data["vars"].update(guide="Maria Lindqvist"))
    result = mailer("invite", "preview", "--to", SARAH)
    assert result.exit_code == 0, result.output
    assert lines(result.stderr) == [
        "warning: the HTML part names vars.speaker (Jarkko Vesa), the text part does not",
        "warning: the text part names vars.guide (Maria Lindqvist), the HTML part does not",
    ]
    assert (project / "preview-en.html").exists()


def test_preview_open_starts_the_default_browser(project: Path, tmp_path: Path) -> None:
    """--open uses Python's webbrowser, which honours $BROWSER: a script stands in for it."""
    opened = tmp_path / "opened.txt"
    browser = tmp_path / "browser"
    browser.write_text(f'#!/bin/sh\necho "$1" > {opened}\n', encoding="utf-8")
    browser.chmod(0o700)
    result = subprocess.run(
        [sys.executable, "-m", "mailer", "invite", "preview", "--open"],
        cwd=project,
        env={**os.environ, "BROWSER": str(browser)},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""
    assert result.stdout.splitlines()[-1] == (
        "wrote preview-fi.html (the HTML part, as Outlook shows it; opening it in your browser)"
    )
    assert opened.read_text(encoding="utf-8") == (project / "preview-fi.html").as_uri() + "\n"


# --- status --------------------------------------------------------------------------------------


STATUS_HEAD = [
    "Event:     Akkukemian vetovastuuhankkeen loppuseminaari",
    "When:      2027-06-25 12:00-16:00 Europe/Helsinki",
    "Where:     Villa Elba, Kokkola",
    "Contacts:  7 valid",
    "Transport: outbox",
]


def test_status_before_and_after(project: Path) -> None:
    before = mailer("status")
    assert before.exit_code == 0, before.output
    assert lines(before.stdout)[:6] == [
        *STATUS_HEAD,
        "Invitations: sent 0  failed 0  in doubt 0  pending 0  skipped 0",
    ]
    mailer("invite", "send", "--yes", "--limit", "3")
    after = mailer("status")
    assert lines(after.stdout)[:6] == [
        *STATUS_HEAD,
        "Invitations: sent 3  failed 0  in doubt 0  pending 0  skipped 0",
    ]


def test_status_json(project: Path) -> None:
    mailer("invite", "send", "--yes", "--only", SARAH)
    result = mailer("status", "--json")
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["invitations"] == {
        "sent": 1,
        "failed": 0,
        "in_doubt": 0,
        "pending": 0,
        "skipped": 0,
    }
    assert data["event"] == {
        "title": "Akkukemian vetovastuuhankkeen loppuseminaari",
        "start": "2027-06-25T12:00:00+03:00",
        "end": "2027-06-25T16:00:00+03:00",
        "location": "Villa Elba, Kokkola",
        "timezone": "Europe/Helsinki",
    }
    assert data["contacts"] == {"valid": 7, "errors": 0}
    assert data["transport"] == "outbox"
    assert data["problems"] == []
    for key, value in data.items():  # later rounds add keys of the same shape
        if key not in ("event", "contacts", "transport", "problems", "invitations") and (
            isinstance(value, dict) and set(value) >= {"sent", "failed", "in_doubt", "pending"}
        ):
            assert set(value) >= {"sent", "failed", "in_doubt", "pending", "skipped"}


# --- config selection ----------------------------------------------------------------------------


def test_config_option_and_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    one = make_project(tmp_path / "one")
    two = make_project(tmp_path / "two")
    set_keys(two, "event", title="Toinen tilaisuus")
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)

    def title(*args: str, env: dict[str, str] | None = None) -> str:
        result = mailer(*args, "status", "--json", env=env)
        assert result.exit_code == 0, result.output
        return str(json.loads(result.stdout)["event"]["title"])

    assert (
        title("--config", str(one / "config.toml"))
        == "Akkukemian vetovastuuhankkeen loppuseminaari"
    )
    assert title("-c", "../two/config.toml") == "Toinen tilaisuus"
    assert title(env={CONFIG_ENV: str(two / "config.toml")}) == "Toinen tilaisuus"
    # --config wins over the environment
    assert title("-c", str(one / "config.toml"), env={CONFIG_ENV: str(two / "config.toml")}) == (
        "Akkukemian vetovastuuhankkeen loppuseminaari"
    )
    # relative paths in the file are relative to the file, not to the current directory
    result = mailer("-c", "../one/config.toml", "invite", "send", "--yes", "--only", SARAH)
    assert result.exit_code == 0, result.output
    assert len(list((one / "outbox").glob("*.eml"))) == 1
    assert (one / "mailer.db").exists()
    assert not (elsewhere / "outbox").exists() and not (elsewhere / "mailer.db").exists()


# --- check and init ------------------------------------------------------------------------------


def test_check_no_connect(project: Path) -> None:
    result = mailer("check", "--no-connect")
    assert result.exit_code == 0, result.output
    assert lines(result.stdout) == [
        "ok    config      config.toml",
        "ok    contacts    7 contacts, 0 warnings",
        "ok    invitation  7 messages render",
        "ok    reminder    7 messages render",
        "ok    update      7 messages render",
        "ok    cancel      7 messages render",
        "ok    release     7 messages render",
        "ok    pre-brief   7 messages render",
    ]
    assert journal(project) == []


def test_check_reports_failures(project: Path) -> None:
    (project / "programme.pdf").unlink()
    result = mailer("check", "--no-connect")
    assert result.exit_code == 1
    assert lines(result.stdout) == [
        "ok    config      config.toml",
        "ok    contacts    7 contacts, 0 warnings",
        "FAIL  invitation  programme.pdf: no such file (listed in config.toml [invitation] "
        "attachments)",
        "ok    reminder    7 messages render",
        "FAIL  update      the same problem as above",
        "ok    cancel      7 messages render",
        "ok    release     7 messages render",
        "ok    pre-brief   7 messages render",
    ]


def use_dovecot(project: Path, dovecot: DovecotServer) -> None:
    cfg = dovecot.imap_config(security="starttls")
    set_keys(
        project,
        "imap",
        host=cfg.host,
        port=cfg.port,
        security=cfg.security,
        username=cfg.username,
        password_env="MAILER_TEST_IMAP_PASSWORD",
        ca_file=str(cfg.ca_file),
    )


def test_check_logs_in_to_imap(project: Path, dovecot: DovecotServer) -> None:
    use_dovecot(project, dovecot)
    message = b"From: a@example.org\r\nSubject: hello\r\n\r\nbody\r\n"
    dovecot.deliver(message)
    dovecot.deliver(message)
    flags = dovecot.flags()
    result = mailer("check", env={"MAILER_TEST_IMAP_PASSWORD": dovecot.password})
    assert result.exit_code == 0, result.output
    *first, last = lines(result.stdout)
    assert first == [
        "ok    config      config.toml",
        "ok    contacts    7 contacts, 0 warnings",
        "ok    invitation  7 messages render",
        "ok    reminder    7 messages render",
        "ok    update      7 messages render",
        "ok    cancel      7 messages render",
        "ok    release     7 messages render",
        "ok    pre-brief   7 messages render",
    ]
    assert re.fullmatch(
        rf"ok    imap        127\.0\.0\.1:{dovecot.imap_port} STARTTLS TLSv1\.[23], "
        rf"logged in as {dovecot.user}, folder INBOX \(2 messages\)",
        last,
    ), last
    assert dovecot.flags() == flags  # examined read-only: nothing marked \Seen


def test_check_reports_a_wrong_imap_password(project: Path, dovecot: DovecotServer) -> None:
    use_dovecot(project, dovecot)
    result = mailer("check", env={"MAILER_TEST_IMAP_PASSWORD": "wrong-Pa55"})
    assert result.exit_code == 1
    assert lines(result.stdout)[-1] == (
        f"FAIL  imap        imap 127.0.0.1:{dovecot.imap_port}: "
        "[AUTHENTICATIONFAILED] Authentication failed. (check [imap] username and the password)"
    )
    assert "wrong-Pa55" not in result.output


def test_init_twice_overwrites_nothing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    first = mailer("init", "demo")
    assert first.exit_code == 0, first.output
    written = [line for line in lines(first.stdout) if line.startswith("wrote ")]
    assert "wrote   demo/config.toml" in written
    assert "wrote   demo/programme.pdf" in written
    assert "wrote   demo/contacts.csv" in written
    assert "wrote   demo/templates/invitation/fi/body.txt" in written
    assert lines(first.stdout)[-2:] == [
        "Next: mailer -c demo/config.toml invite preview    (see one invitation)",
        "      mailer -c demo/config.toml invite send       (write them all to the outbox)",
    ]
    (tmp_path / "demo" / "contacts.csv").write_text("email\nmine@lehti.example\n", encoding="utf-8")
    snapshot = {p: p.read_bytes() for p in (tmp_path / "demo").rglob("*") if p.is_file()}
    second = mailer("init", "demo")
    assert second.exit_code == 0, second.output
    out = lines(second.stdout)
    assert not [line for line in out if line.startswith("wrote")]
    skipped = [line for line in out if line.startswith("skipped ")]
    assert skipped == [
        line.replace("wrote   ", "skipped ") + " (exists; not overwritten)" for line in written
    ]
    assert {p: p.read_bytes() for p in (tmp_path / "demo").rglob("*") if p.is_file()} == snapshot


# --- the command tree ----------------------------------------------------------------------------


def test_python_dash_m(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "mailer", "--help"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("Usage: ")
    for name in ("init", "check", "status", "invite", "contacts"):
        assert name in result.stdout


def test_version() -> None:
    from mailer import __version__

    result = mailer("--version")
    assert result.exit_code == 0
    assert result.stdout == f"mailer {__version__}\n"


def _commands() -> list[tuple[str, Any]]:
    found: list[tuple[str, Any]] = []

    def walk(command: Any, path: list[str]) -> None:
        found.append((" ".join(path), command))
        for name, sub in sorted(getattr(command, "commands", {}).items()):
            walk(sub, [*path, name])

    walk(typer.main.get_command(app), [])
    return found


COMMANDS = _commands()


@pytest.mark.parametrize(("path", "command"), COMMANDS, ids=[p or "mailer" for p, _ in COMMANDS])
def test_every_command_has_help(path: str, command: Any) -> None:
    assert (command.help or "").strip(), f"'mailer {path}' has no help text"
    result = mailer(*path.split(), "--help")
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith("Usage: ")


@pytest.mark.parametrize("path", [p for p, _ in COMMANDS if p], ids=[p for p, _ in COMMANDS if p])
def test_every_command_is_in_the_readme(path: str) -> None:
    if not README.exists():
        pytest.skip("README.md does not exist yet (the lead is writing it)")
    text = README.read_text(encoding="utf-8")
    # "mailer invite send", also with the global option: "mailer -c demo/config.toml check"
    pattern = rf"mailer(?: (?:-c|--config) \S+)? {re.escape(path)}(?![\w-])"
    assert re.search(pattern, text), f"README.md never shows 'mailer {path}'"


def test_exit_codes_are_documented() -> None:
    if not README.exists():
        pytest.skip("README.md does not exist yet (the lead is writing it)")
    from mailer.errors import ExitCode

    text = README.read_text(encoding="utf-8")
    for code in (ExitCode.OK, ExitCode.ERROR, ExitCode.USAGE, ExitCode.FAILED):
        assert re.search(rf"^\| {int(code)} \| ", text, flags=re.MULTILINE), code
