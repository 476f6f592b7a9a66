"""Templates: sandbox, strict undefined, autoescape in HTML only, fallback, local dates."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from mailer.config.load import load_config
from mailer.errors import TemplateError
from mailer.messages.plan import contact_context, event_context, make_renderer
from mailer.messages.render import Renderer
from mailer.models import Contact
from tests.helpers import config_path, make_project

HELSINKI = ZoneInfo("Europe/Helsinki")
START = dt.datetime(2027, 6, 25, 12, 0, tzinfo=HELSINKI)
END = dt.datetime(2027, 6, 25, 16, 0, tzinfo=HELSINKI)


def write_templates(root: Path, name: str, language: str, **parts: str) -> None:
    """``subject="..", body_txt="..", body_html=".."`` -> templates/<name>/<language>/..."""
    folder = root / "templates" / name / language
    folder.mkdir(parents=True, exist_ok=True)
    for key, text in parts.items():
        filename = {"subject": "subject.txt", "body_txt": "body.txt", "body_html": "body.html"}[key]
        (folder / filename).write_text(text, encoding="utf-8")


def renderer(root: Path, default_language: str = "fi") -> Renderer:
    return Renderer(root / "templates", default_language=default_language, label_root=root)


def context(**extra: Any) -> dict[str, Any]:
    return {
        "event": {"title": "Seminaari", "start": START, "end": END},
        "contact": {"name": "Päivi", "email": "p@x.example"},
        "_zone": HELSINKI,
        **extra,
    }


def render_body(tmp_path: Path, body: str, language: str = "fi", **extra: Any) -> str:
    write_templates(tmp_path, "t", language, subject="S", body_txt=body)
    return renderer(tmp_path).render("t", language, context(**extra)).text


def body_error(tmp_path: Path, body: str, **extra: Any) -> str:
    write_templates(tmp_path, "t", "fi", subject="S", body_txt=body)
    with pytest.raises(TemplateError) as info:
        renderer(tmp_path).render("t", "fi", context(**extra))
    text = str(info.value)
    assert "\n" not in text
    return text


# --- the sandbox ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("expression", "detail"),
    [
        ("''.__class__.__mro__", "access to attribute '__class__' of 'str' object is unsafe."),
        (
            "cycler.__init__.__globals__",
            "access to attribute '__init__' of 'type' object is unsafe.",
        ),
        ("lipsum.__globals__", "access to attribute '__globals__' of 'function' object is unsafe."),
        (
            "().__class__.__base__.__subclasses__()",
            "access to attribute '__class__' of 'tuple' object is unsafe.",
        ),
        (
            "self.__init__",
            "access to attribute '__init__' of 'TemplateReference' object is unsafe.",
        ),
    ],
)
def test_sandbox_refuses_python_internals(tmp_path: Path, expression: str, detail: str) -> None:
    text = body_error(tmp_path, "Hei,\n\n{{ " + expression + " }}\n")
    assert text == f"templates/t/fi/body.txt:3: not allowed in a template: {detail}"


def test_sandbox_refuses_huge_ranges(tmp_path: Path) -> None:
    text = body_error(tmp_path, "{% for i in range(10**9) %}x{% endfor %}")
    assert text == (
        "templates/t/fi/body.txt:1: range() of 1,000,000,000 numbers; a template may count to "
        "100,000"
    )


def test_templates_cannot_change_the_context(tmp_path: Path) -> None:
    text = body_error(tmp_path, "{{ contact.update(name='x') }}")
    assert text.startswith("templates/t/fi/body.txt:1: not allowed in a template: ")


# --- strict undefined and errors with lines ------------------------------------------------------


def test_undefined_variable_names_file_and_line(tmp_path: Path) -> None:
    text = body_error(tmp_path, "Hei {{ contact.name }},\n\nTervetuloa {{ venue }}!\n")
    assert text == (
        "templates/t/fi/body.txt:3: undefined variable venue — a template knows contact, event,"
        " language; for a value of your own, add venue = ... under [vars] in config.toml and"
        " write vars.venue"
    )


def test_undefined_attribute_names_file_and_line(tmp_path: Path) -> None:
    text = body_error(tmp_path, "a\n{{ contact.phone }}\n")
    assert text == (
        "templates/t/fi/body.txt:2: undefined variable contact.phone — contacts.csv has no column"
        " 'phone' (columns: name, email)"
    )


def test_undefined_in_the_starter_template(tmp_path: Path) -> None:
    project = make_project(tmp_path / "p")
    body = project / "templates" / "invitation" / "fi" / "body.txt"
    lines = body.read_text(encoding="utf-8").splitlines()
    lines.insert(4, "Toimittaja: {{ contact.desk }}")
    body.write_text("\n".join(lines) + "\n", encoding="utf-8")
    config = load_config(config_path(project))
    contact = Contact("p@x.example", "Päivi", "Lehti", "fi", (), 2, {"first_name": "Päivi"})
    with pytest.raises(TemplateError) as info:
        make_renderer(config).render(
            "invitation", "fi", {**event_context(config), "contact": contact_context(contact)}
        )
    assert str(info.value) == (
        "templates/invitation/fi/body.txt:5: undefined variable contact.desk — contacts.csv has"
        " no column 'desk' (columns: first_name, email, name, last_name, outlet, language, tags)"
    )
    assert (info.value.file, info.value.line) == ("templates/invitation/fi/body.txt", 5)
    assert info.value.problem == "undefined variable contact.desk"


def test_syntax_error_names_the_line(tmp_path: Path) -> None:
    write_templates(tmp_path, "t", "fi", subject="S", body_txt="a\nb\n{% if %}x{% endif %}\nc\n")
    with pytest.raises(TemplateError) as info:
        renderer(tmp_path).check("t", {"fi"})
    assert str(info.value) == (
        "templates/t/fi/body.txt:3: syntax error: Expected an expression, got 'end of statement"
        " block'"
    )


def test_syntax_error_in_html_is_found_by_check(tmp_path: Path) -> None:
    write_templates(tmp_path, "t", "fi", subject="S", body_txt="ok", body_html="<p>\n{{ x }\n")
    with pytest.raises(TemplateError) as info:
        renderer(tmp_path).check("t", {"fi"})
    assert str(info.value).startswith("templates/t/fi/body.html:2: syntax error: ")


def test_unknown_filter_is_a_syntax_error(tmp_path: Path) -> None:
    text = body_error(tmp_path, "{{ contact.name|shout }}")
    assert text == (
        "templates/t/fi/body.txt:1: syntax error: No filter named 'shout'. — the filters are"
        " date, time, datetime (dates and times the local way) and Jinja2's own (upper, lower,"
        " title, replace, default, join, ...)"
    )


def test_runtime_error_names_the_line(tmp_path: Path) -> None:
    assert body_error(tmp_path, "\n{{ 1 / 0 }}") == (
        "templates/t/fi/body.txt:2: ZeroDivisionError: division by zero"
    )


def test_missing_template(tmp_path: Path) -> None:
    write_templates(tmp_path, "t", "fi", subject="S")
    with pytest.raises(TemplateError) as info:
        renderer(tmp_path).check("t", {"fi"})
    assert str(info.value) == "templates/t/fi/body.txt: no such template"


def test_missing_template_set(tmp_path: Path) -> None:
    (tmp_path / "templates").mkdir()
    with pytest.raises(TemplateError) as info:
        renderer(tmp_path).render("nothing", "sv", context())
    assert str(info.value) == (
        "templates/nothing/fi/subject.txt: no such template (templates of 'nothing' are looked"
        " up as templates/nothing/<language>/subject.txt, body.txt and body.html)"
    )


def test_not_utf8_template(tmp_path: Path) -> None:
    write_templates(tmp_path, "t", "fi", subject="S", body_txt="x")
    (tmp_path / "templates" / "t" / "fi" / "body.txt").write_bytes(b"Hyv\xe4\n")
    with pytest.raises(TemplateError) as info:
        renderer(tmp_path).check("t", {"fi"})
    assert str(info.value) == "templates/t/fi/body.txt: not UTF-8 text"


def test_html_is_optional(tmp_path: Path) -> None:
    write_templates(tmp_path, "t", "fi", subject="S", body_txt="teksti")
    out = renderer(tmp_path).render("t", "fi", context())
    assert out.html is None and out.text == "teksti"


# --- autoescape ----------------------------------------------------------------------------------


def test_autoescape_in_html_only(tmp_path: Path) -> None:
    write_templates(
        tmp_path,
        "t",
        "fi",
        subject="Hei {{ contact.name }}",
        body_txt="Hei {{ contact.name }}!\n",
        body_html="<p>Hei {{ contact.name }}!</p>\n",
    )
    ctx = context(contact={"name": '<b>&"x"', "email": "p@x.example"})
    out = renderer(tmp_path).render("t", "fi", ctx)
    assert out.text == 'Hei <b>&"x"!\n'
    assert out.html == "<p>Hei &lt;b&gt;&amp;&#34;x&#34;!</p>\n"
    assert out.subject == 'Hei <b>&"x"'


# --- language fallback ---------------------------------------------------------------------------


def test_language_fallback_to_the_default(tmp_path: Path) -> None:
    write_templates(tmp_path, "t", "fi", subject="Kutsu", body_txt="{{ language }}")
    write_templates(tmp_path, "t", "sv", subject="Inbjudan", body_txt="{{ language }}")
    r = renderer(tmp_path)
    sv = r.render("t", "sv", context())
    en = r.render("t", "en", context())
    assert (sv.subject, sv.text, sv.language) == ("Inbjudan", "sv", "sv")
    assert (en.subject, en.text, en.language) == ("Kutsu", "fi", "fi")
    assert r.language_for("t", "en") == "fi"


def test_fallback_follows_the_configured_default(tmp_path: Path) -> None:
    write_templates(tmp_path, "t", "fi", subject="Kutsu", body_txt="fi")
    write_templates(tmp_path, "t", "en", subject="Invitation", body_txt="en")
    out = renderer(tmp_path, default_language="en").render("t", "sv", context())
    assert (out.subject, out.language) == ("Invitation", "en")


# --- localized dates and times -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("language", "expected"),
    [
        ("fi", "25. kesäkuuta 2027|perjantai 25. kesäkuuta 2027|12.00|16.00"),
        ("sv", "25 juni 2027|fredag 25 juni 2027|12.00|16.00"),
        ("en", "25 June 2027|Friday, 25 June 2027|12:00|16:00"),
    ],
)
def test_local_dates_and_times(tmp_path: Path, language: str, expected: str) -> None:
    body = (
        "{{ event.start|date }}|{{ event.start|date('full') }}|{{ event.start|time }}"
        "|{{ event.end|time }}"
    )
    assert render_body(tmp_path, body, language) == expected


def test_aware_times_are_shown_in_the_event_zone(tmp_path: Path) -> None:
    utc = dt.datetime(2027, 6, 25, 9, 0, tzinfo=dt.UTC)
    assert render_body(tmp_path, "{{ t|time }} {{ t|date }}", t=utc) == "12.00 25. kesäkuuta 2027"


def test_iso_date_text_is_formatted(tmp_path: Path) -> None:
    assert render_body(tmp_path, "{{ '2027-06-18'|date }}", "sv") == "18 juni 2027"


def test_a_date_cannot_be_shown_as_a_time(tmp_path: Path) -> None:
    assert body_error(tmp_path, "\n\n{{ '2027-06-18'|time }}") == (
        "templates/t/fi/body.txt:3: cannot format '2027-06-18' as a time"
    )


def test_text_that_is_no_date(tmp_path: Path) -> None:
    assert body_error(tmp_path, "{{ 'juhannus'|date }}") == (
        "templates/t/fi/body.txt:1: cannot format 'juhannus' as a date (expected a date or "
        "YYYY-MM-DD)"
    )


# --- the subject ---------------------------------------------------------------------------------


def test_subject_is_one_line(tmp_path: Path) -> None:
    write_templates(
        tmp_path,
        "t",
        "fi",
        subject="Kutsu:\n  {{ event.title }}\r\n{{ event.start|date }}\n\n",
        body_txt="x",
    )
    ctx = context()
    ctx["event"]["title"] = "Semi\r\nBcc: everyone@x.example"
    out = renderer(tmp_path).render("t", "fi", ctx)
    assert out.subject == "Kutsu: Semi Bcc: everyone@x.example 25. kesäkuuta 2027"


def test_empty_subject_is_an_error(tmp_path: Path) -> None:
    write_templates(tmp_path, "t", "fi", subject="{% if false %}x{% endif %}\n", body_txt="x")
    with pytest.raises(TemplateError) as info:
        renderer(tmp_path).render("t", "fi", context())
    assert str(info.value) == "templates/t/fi/subject.txt: the subject is empty"


def test_starter_invitation_renders_in_every_language(tmp_path: Path) -> None:
    project = make_project(tmp_path / "p")
    config = load_config(config_path(project))
    r = make_renderer(config)
    r.check("invitation", {"fi", "sv", "en"})
    base = event_context(config)
    seen = {}
    for language in ("fi", "sv", "en"):
        contact = Contact("p@x.example", "P", "Lehti", language, (), 2, first_name="Päivi")
        out = r.render("invitation", language, {**base, "contact": contact_context(contact)})
        assert out.language == language
        assert "\n" not in out.subject
        assert out.html is not None and "Päivi" in out.html
        seen[language] = out
    assert "25. kesäkuuta 2027" in seen["fi"].subject
    assert "klo 12.00–16.00" in seen["fi"].text
    assert "25 juni 2027" in seen["sv"].text
    assert "25 June 2027" in seen["en"].text


def test_one_instant_in_two_zones_is_formatted_in_each() -> None:
    # Aware datetimes of one instant compare equal: the format cache must not mix them up.
    from mailer.messages.datefilters import _format

    helsinki = dt.datetime(2027, 6, 25, 12, 0, tzinfo=ZoneInfo("Europe/Helsinki"))
    stockholm = helsinki.astimezone(ZoneInfo("Europe/Stockholm"))
    assert _format("time", helsinki, "short", "fi") == "12.00"
    assert _format("time", stockholm, "short", "fi") == "11.00"


# --- every problem of a message (mailer check) ---------------------------------------------------


def test_problems_lists_every_undefined_name_of_every_part(tmp_path: Path) -> None:
    write_templates(
        tmp_path,
        "t",
        "fi",
        subject="{{ vars.subject_word }} {{ event.title }}",
        body_txt="Hei {{ contact.first_name }},\n{% if contact.desk %}x{% endif %}\n"
        "{% for t in vars.topics %}{{ t }}{% endfor %}\n{{ vars.deadline|date }}\n",
        body_html="<p>{{ contact.phone|upper }}</p>\n",
    )
    r = renderer(tmp_path)
    with pytest.raises(TemplateError) as first:
        r.render("t", "fi", context(vars={}))
    problems = r.problems("t", "fi", context(vars={}))
    assert [p.message for p in problems] == [
        "templates/t/fi/subject.txt:1: undefined variable vars.subject_word — add subject_word ="
        " ... under [vars] in config.toml",
        "templates/t/fi/body.txt:1: undefined variable contact.first_name — contacts.csv has no"
        " column 'first_name' (columns: name, email)",
        "templates/t/fi/body.txt:2: undefined variable contact.desk — contacts.csv has no column"
        " 'desk' (columns: name, email)",
        "templates/t/fi/body.txt:3: undefined variable vars.topics — add topics = ... under"
        " [vars] in config.toml",
        "templates/t/fi/body.txt:4: undefined variable vars.deadline — add deadline = ... under"
        " [vars] in config.toml",
        "templates/t/fi/body.html:1: undefined variable contact.phone — contacts.csv has no"
        " column 'phone' (columns: name, email)",
    ]
    assert problems[0].message == first.value.message  # the first is the one a send stops at


def test_problems_of_a_message_that_renders(tmp_path: Path) -> None:
    write_templates(tmp_path, "t", "fi", subject="S", body_txt="{{ contact.name }}")
    assert renderer(tmp_path).problems("t", "fi", context()) == ()


def test_problems_goes_on_after_a_problem_that_stops_a_part(tmp_path: Path) -> None:
    write_templates(
        tmp_path,
        "t",
        "fi",
        subject="{% if false %}x{% endif %}",
        body_txt="{{ vars.a }}\n{{ 1 / 0 }}\n{{ vars.b }}\n",
        body_html="{{ ''.__class__ }}",
    )
    problems = renderer(tmp_path).problems("t", "fi", context(vars={}))
    assert [p.message for p in problems] == [
        "templates/t/fi/subject.txt: the subject is empty",
        "templates/t/fi/body.txt:1: undefined variable vars.a — add a = ... under [vars] in"
        " config.toml",
        "templates/t/fi/body.txt:2: ZeroDivisionError: division by zero",
        "templates/t/fi/body.html:1: not allowed in a template: access to attribute '__class__'"
        " of 'str' object is unsafe.",
    ]


def test_an_included_template_is_named_with_its_own_line(tmp_path: Path) -> None:
    (tmp_path / "templates" / "common").mkdir(parents=True)
    (tmp_path / "templates" / "common" / "footer.txt").write_text(
        "--\n{{ organizer.phone }}\n", encoding="utf-8"
    )
    include = "a\n{% include 'common/footer.txt' %}"
    write_templates(tmp_path, "t", "fi", subject="S", body_txt=include)
    r = renderer(tmp_path)
    ctx = context(organizer={"name": "O"})
    expected = (
        "templates/common/footer.txt:2: undefined variable organizer.phone — organizer has name"
        " (from [organizer] in config.toml); for a value of your own, add phone = ... under"
        " [vars] in config.toml and write vars.phone"
    )
    with pytest.raises(TemplateError) as info:
        r.render("t", "fi", ctx)
    assert info.value.message == expected
    assert [p.message for p in r.problems("t", "fi", ctx)] == [expected]


def test_a_date_filter_on_an_undefined_name_names_it(tmp_path: Path) -> None:
    text = body_error(tmp_path, "\n{{ vars.registration_deadline|date }}", vars={"x": "1"})
    assert text == (
        "templates/t/fi/body.txt:2: undefined variable vars.registration_deadline — add"
        " registration_deadline = ... under [vars] in config.toml ([vars] has x)"
    )


def test_compile_problems_lists_every_file(tmp_path: Path) -> None:
    write_templates(tmp_path, "t", "fi", subject="{{ x }", body_txt="ok", body_html="{% if %}")
    write_templates(tmp_path, "t", "sv", subject="S")
    problems = renderer(tmp_path).compile_problems("t", {"fi", "sv", "en"})
    assert [p.message for p in problems] == [
        "templates/t/fi/subject.txt:1: syntax error: unexpected '}'",
        "templates/t/fi/body.html:1: syntax error: Expected an expression, got 'end of statement"
        " block'",
        "templates/t/sv/body.txt: no such template",
    ]
    with pytest.raises(TemplateError) as info:
        renderer(tmp_path).check("t", {"fi", "sv"})
    assert info.value.message == problems[0].message
