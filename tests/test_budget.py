"""The template budget: hostile or mistaken templates are stopped with one line (issue 15,
finding 5), and ordinary templates are not."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from mailer.errors import TemplateError
from mailer.messages.budget import Budget
from mailer.messages.render import Renderer
from tests.helpers import make_project
from tests.test_render import context, write_templates

SUBJECT_LIMIT = "the subject grows past 1,000 characters, the limit of a subject"
PART_LIMIT = (
    "the text grows past 1,000,000 characters, the limit of a message part "
    "(a loop that writes too much?)"
)
VALUE_LIMIT = (
    "the template builds a text longer than 1,000,000 characters, the limit of a message part "
    "(a multiplication, a join or a width too large?)"
)
TOO_SLOW = (
    "rendering took longer than 2 s, the limit of one message part "
    "(a loop that never ends, or loops inside loops?)"
)


class Ticking:
    """A monotonic clock that moves 32 µs each time it is read (every 32nd step of a render):
    a render of two million steps has used up its 2 s, whatever the machine's speed."""

    def __init__(self) -> None:
        self.now = 0.0
        self.reads = 0

    def __call__(self) -> float:
        self.reads += 1
        self.now += 0.000_032
        return self.now


def render_error(tmp_path: Path, *, subject: str = "S", body: str = "B") -> str:
    write_templates(tmp_path, "t", "fi", subject=subject, body_txt=body)
    renderer = Renderer(
        tmp_path / "templates", default_language="fi", label_root=tmp_path, monotonic=Ticking()
    )
    with pytest.raises(TemplateError) as info:
        renderer.render("t", "fi", context())
    text = str(info.value)
    assert "\n" not in text
    return text


@pytest.mark.parametrize(
    "subject",
    [
        '{{ "a" * 100000000 }}',
        '{{ "x" * 10**9 }}',
        '{{ 10**9 * "x" }}',
        '{{ ["x"] * 10**9 }}',
        '{{ range(100000)|join("x" * 100000) }}',
        '{{ "x".join(range(100000)|map("string")) * 2 }}',
        '{{ "x"|center(10**9) }}',
        '{{ "x".ljust(10**9) }}',
        '{{ "%0999999999d" % 1 }}',
        '{{ "%*d" % (10**9, 1) }}',
        '{{ "{:>999999999}".format(1) }}',
        '{{ "{:>{}}".format(1, 10**9) }}',
        '{{ ("x" * 1000)|replace("x", "y" * 1001) }}',
        '{{ ("x" * 100)|replace("", "y" * 100000) }}',
        '{% set ns = namespace(s="x") %}{% for i in range(60) %}'
        "{% set ns.s = ns.s ~ ns.s %}{% endfor %}{{ ns.s|length }}",
        '{{ ["x" * 1000000] * 1000 }}',
        '{{ (["x" * 1000000] * 1000)|string }}',
        '{{ {"a": ["x" * 600000] * 2} }}',
        "{{ lipsum(10**6) }}",
    ],
)
def test_a_template_that_builds_a_huge_text_is_stopped(tmp_path: Path, subject: str) -> None:
    text = render_error(tmp_path, subject=subject + "\n")
    assert text == f"templates/t/fi/subject.txt:1: {VALUE_LIMIT}"


@pytest.mark.parametrize(
    "subject",
    [
        '{% for i in range(100) %}{{ "x" * 20 }}{% endfor %}',
        '{{ "x" * 1001 }}',
        "{{ range(1000)|join(',') }}",
    ],
)
def test_a_subject_longer_than_its_limit_is_stopped(tmp_path: Path, subject: str) -> None:
    text = render_error(tmp_path, subject=subject + "\n")
    assert text == f"templates/t/fi/subject.txt:1: {SUBJECT_LIMIT}"


def test_a_body_that_makes_too_much_text_names_its_line(tmp_path: Path) -> None:
    body = "Hei,\n\n{% for i in range(3000) %}\n{{ '-' * 999 }}\n{% endfor %}\n"
    assert render_error(tmp_path, body=body) == f"templates/t/fi/body.txt:4: {PART_LIMIT}"


def test_building_text_that_is_never_written_counts_too(tmp_path: Path) -> None:
    """Ten times the limit in all, even when every piece is small and none is written."""
    body = "{% for i in range(100000) %}{% set x = 'y' * 999 ~ i %}{% endfor %}done\n"
    assert render_error(tmp_path, body=body) == (
        "templates/t/fi/body.txt:1: the template builds more than 10,000,000 characters in all "
        "(a loop that makes too much text?)"
    )


@pytest.mark.parametrize(
    "body",
    [
        "{% for i in range(100000) %}{% for j in range(100000) %}{% endfor %}{% endfor %}",
        "{% for i in range(100000) %}{% for j in range(100000) %}{% if i < 0 %}x{% endif %}"
        "{% endfor %}{% endfor %}",
        "{% macro m(n) %}{% if n > 0 %}{% for i in range(9) %}{{ m(n - 1) }}{% endfor %}"
        "{% endif %}{% endmacro %}{{ m(12) }}",
    ],
)
def test_a_loop_that_writes_nothing_is_stopped_in_time(tmp_path: Path, body: str) -> None:
    assert render_error(tmp_path, body=body) == f"templates/t/fi/body.txt:1: {TOO_SLOW}"


@pytest.mark.parametrize(
    ("expression", "problem"),
    [
        ("range(10**9)", "range() of 1,000,000,000 numbers; a template may count to 100,000"),
        ("range(10**8)|list", "range() of 100,000,000 numbers; a template may count to 100,000"),
        (
            "7 ** 1000000",
            "7 ** 1000000 is a number too large for a template (more than 100,000 bits)",
        ),
    ],
)
def test_huge_numbers_are_refused(tmp_path: Path, expression: str, problem: str) -> None:
    body = "Hei\n{{ " + expression + " }}\n"
    assert render_error(tmp_path, body=body) == f"templates/t/fi/body.txt:2: {problem}"


def test_an_included_template_is_named_with_its_own_line(tmp_path: Path) -> None:
    (tmp_path / "templates" / "parts").mkdir(parents=True)
    (tmp_path / "templates" / "parts" / "big.txt").write_text(
        "ok\n\n{{ 'z' * 10**7 }}\n", encoding="utf-8"
    )
    text = render_error(tmp_path, body='Hei\n{% include "parts/big.txt" %}\n')
    assert text == f"templates/parts/big.txt:3: {VALUE_LIMIT}"


def test_ordinary_templates_are_within_the_budget(tmp_path: Path) -> None:
    body = (
        "{{ 'Hei ' ~ contact.name }}\n{{ '-' * 72 }}\n"
        "{% for i in range(1000) %}{{ i }},{% endfor %}\n"
        "{{ range(5)|join(', ') }} {{ '%05.1f' % 3.14159 }} {{ '{:,}'.format(1500000) }}\n"
        "{{ 'Tel 0401234567 {}'.format(1) }} {{ 'a b'|replace(' ', '_') }} {{ 2 ** 64 }}\n"
        "{{ 'x'|center(9) }}|{{ 'long line here'|wordwrap(5) }}\n"
    )
    write_templates(tmp_path, "t", "fi", subject="Kutsu {{ contact.name }}", body_txt=body)
    clock = Ticking()
    renderer = Renderer(
        tmp_path / "templates", default_language="fi", label_root=tmp_path, monotonic=clock
    )
    rendered = renderer.render("t", "fi", context())
    lines = rendered.text.splitlines()
    assert rendered.subject == "Kutsu Päivi"
    assert lines[0] == "Hei Päivi"
    assert lines[1] == "-" * 72
    assert lines[2] == "".join(f"{i}," for i in range(1000))
    assert lines[3] == "0, 1, 2, 3, 4 003.1 1,500,000"
    assert lines[4] == "Tel 0401234567 1 a_b 18446744073709551616"
    assert lines[5:] == ["    x    |long", "line", "here"]
    assert clock.now < 2.0  # a few checks per loop step, far from the deadline


def test_the_limits_can_be_chosen(tmp_path: Path) -> None:
    body = "{% for i in range(11) %}x{% endfor %}"
    write_templates(tmp_path, "t", "fi", subject="S", body_txt=body)
    renderer = Renderer(
        tmp_path / "templates",
        default_language="fi",
        label_root=tmp_path,
        budget=Budget(part_chars=10),
        monotonic=Ticking(),
    )
    with pytest.raises(TemplateError) as info:
        renderer.render("t", "fi", context())
    assert str(info.value) == (
        "templates/t/fi/body.txt:1: the text grows past 10 characters, the limit of a message "
        "part (a loop that writes too much?)"
    )


def test_invite_preview_of_a_huge_subject_ends_with_one_line(tmp_path: Path) -> None:
    """Finding 5: this subject made ``invite preview`` hang for over a minute without a word."""
    project = make_project(tmp_path / "p")
    (project / "templates" / "invitation" / "fi" / "subject.txt").write_text(
        '{{ "a" * 100000000 }}\n', encoding="utf-8"
    )
    result = subprocess.run(
        [sys.executable, "-m", "mailer", "invite", "preview"],
        cwd=project,
        env={**os.environ, "COLUMNS": "200"},
        capture_output=True,
        text=True,
        timeout=120,  # it hung for over a minute; now it ends in about a second
        check=False,
    )
    assert result.returncode == 1
    assert result.stdout == ""
    assert result.stderr == f"error: templates/invitation/fi/subject.txt:1: {VALUE_LIMIT}\n"
