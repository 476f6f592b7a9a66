"""Generated input for the parts that the other property tests do not reach yet.

Already covered elsewhere (and counted in docs/reliability.md): the CSV loader on bytes and on
generated CSV (``tests/test_contacts.py``), the MIME parser, the calendar reader and the text
reader (``tests/test_rsvp_parse.py``, ``tests/test_rsvp_classify.py``), calendar text round trips
(``tests/test_ics.py``). Added here:

* the config loader on generated TOML documents (known and unknown sections and keys, values of
  every type) and on mutated config files: a Config or one ConfigError line naming the file;
* templates made of Jinja2 tokens, rendered in the sandbox: output or one TemplateError line,
  never another exception (``**`` with large numbers and self-calling macros, which used to end
  in a traceback, are in the bad-input corpus instead: generated, they could run for minutes);
* the reply classifier and the whole import (classify, match, record) on generated MIME.
"""

from __future__ import annotations

import datetime as dt
import tempfile
import tomllib
from pathlib import Path
from typing import Any

import pytest
import tomli_w
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mailer.config.load import load_config
from mailer.config.schema import SCHEMA
from mailer.errors import ConfigError, TemplateError
from mailer.messages.render import Renderer
from mailer.rsvp.apply import ingest
from mailer.rsvp.classify import classify
from mailer.rsvp.results import Kind
from mailer.store import Store
from tests.helpers import make_project
from tests.reliability.conftest import Figures
from tests.test_rsvp_parse import mime

FUZZ = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
EXAMPLES = "hypothesis examples (this suite)"  # the figures' section (docs/reliability.md)


@pytest.fixture(scope="module")
def starter(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_project(tmp_path_factory.mktemp("props") / "project")


# --- config -------------------------------------------------------------------------------------

SECTIONS = [*SCHEMA, "vars", "smpt", "Event", ""]
KEYS = sorted({k for table in SCHEMA.values() for k in table} | {"passwd", "hots", "x y", ""})
VALUES = st.recursive(
    st.one_of(
        st.text(max_size=30),
        st.integers(-(10**6), 10**6),
        st.floats(allow_nan=False),
        st.booleans(),
        st.datetimes(),
        st.sampled_from(
            [
                "Europe/Helsinki",
                "2027-06-25 13:00",
                "2027-03-28 03:30",
                "127.0.0.1",
                "none",
                "smtp",
                "outbox",
                "a@b.example",
                "Mars/Olympus",
                "starttls",
                "../x",
            ]
        ),
    ),
    lambda inner: st.lists(inner, max_size=3),
    max_leaves=5,
)


@FUZZ
@given(
    changes=st.lists(
        st.tuples(st.sampled_from(SECTIONS), st.sampled_from(KEYS), st.none() | VALUES),
        max_size=6,
    )
)
def test_config_loader_on_generated_documents(
    changes: list[tuple[str, str, Any]], starter: Path, figures: Figures
) -> None:
    figures.add(EXAMPLES, "config.toml documents")
    data = tomllib.loads((starter / "config.toml").read_text(encoding="utf-8"))
    for section, key, value in changes:
        table = data.setdefault(section, {})
        if not isinstance(table, dict):
            continue
        if value is None:
            table.pop(key, None)
        else:
            table[key] = value
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "config.toml"
        path.write_text(tomli_w.dumps(data), encoding="utf-8")
        try:
            load_config(path)
        except ConfigError as exc:
            assert str(exc).startswith(str(path))
            assert "\n" not in str(exc) and "\r" not in str(exc)


@FUZZ
@given(cut=st.integers(0, 4000), noise=st.text(max_size=40))
def test_config_loader_on_mutated_text(
    cut: int, noise: str, starter: Path, figures: Figures
) -> None:
    figures.add(EXAMPLES, "config.toml mutations")
    text = (starter / "config.toml").read_text(encoding="utf-8")
    cut %= len(text)
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "config.toml"
        path.write_bytes((text[:cut] + noise + text[cut:]).encode("utf-8", "surrogatepass"))
        try:
            load_config(path)
        except ConfigError as exc:
            assert str(exc).startswith(str(path))
            assert "\n" not in str(exc)


# --- templates ----------------------------------------------------------------------------------

TOKENS = st.sampled_from(
    [
        "{{",
        "}}",
        "{%",
        "%}",
        "{#",
        "#}",
        " ",
        "\n",
        "contact",
        "event",
        "vars",
        "organizer",
        ".",
        "name",
        "start",
        "first_name",
        "title",
        "|",
        "date",
        "time",
        "datetime",
        "upper",
        "default",
        "(",
        ")",
        "[",
        "]",
        "'x'",
        '"full"',
        "1",
        "0",
        "-1",
        "+",
        "/",
        "//",
        "%",
        "~",
        "==",
        "and",
        "or",
        "not",
        "if",
        "else",
        "endif",
        "for",
        "in",
        "endfor",
        "set",
        "=",
        "macro",
        "endmacro",
        "call",
        "include",
        "import",
        "range",
        "loop",
        "self",
        "super",
        "__class__",
        "_TemplateReference__context",
        "attr",
        "format",
        "join",
        "cycler",
        "lipsum",
        "namespace",
        "'{0.__class__}'",
        "raw",
        "endraw",
        ",",
        ":",
        "is",
        "defined",
        "none",
    ]
)


@FUZZ
@given(source=st.lists(TOKENS, max_size=30).map("".join))
def test_templates_made_of_tokens_render_or_fail_in_one_line(
    source: str, starter: Path, figures: Figures
) -> None:
    figures.add(EXAMPLES, "templates")
    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder)
        for part in ("subject.txt", "body.txt"):
            path = root / "templates" / "t" / "fi" / part
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(source if part == "body.txt" else "S", encoding="utf-8")
        renderer = Renderer(root / "templates", default_language="fi", label_root=root)
        context = {
            "contact": {
                "name": "Päivi",
                "first_name": "Päivi",
                "email": "p@x.example",
                "tags": ["a"],
            },
            "event": {"title": "T", "start": dt.datetime(2027, 6, 25, 12, tzinfo=dt.UTC)},
            "vars": {"x": "1"},
            "organizer": {"name": "O"},
        }
        try:
            renderer.check("t", {"fi"})
            renderer.render("t", "fi", context)
        except TemplateError as exc:
            assert str(exc).startswith("templates/t/fi/")
            assert "\n" not in str(exc)
            # mailer check finds every problem, the one a send stops at among them
            problems = renderer.compile_problems("t", {"fi"}) or renderer.problems(
                "t", "fi", context
            )
            keys = [(p.file, p.line, p.problem) for p in problems]
            assert (exc.file, exc.line, exc.problem) in keys
            assert all(str(p).startswith("templates/t/fi/") for p in problems)
            assert all("\n" not in str(p) for p in problems)
        else:
            assert renderer.problems("t", "fi", context) == ()


# --- replies ------------------------------------------------------------------------------------


@FUZZ
@given(text=mime())
def test_classifier_on_generated_mime(text: str, figures: Figures) -> None:
    figures.add(EXAMPLES, "MIME for the classifier")
    raw = ("From: a@b.example\r\nMessage-ID: <m@x>\r\n" + text).encode("utf-8", "surrogatepass")
    assert isinstance(classify(raw).kind, Kind)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(texts=st.lists(mime(), min_size=1, max_size=4))
def test_the_whole_import_on_generated_mime(texts: list[str], figures: Figures) -> None:
    figures.add(EXAMPLES, "MIME batches for the whole import")
    with tempfile.TemporaryDirectory() as folder, Store(Path(folder) / "m.db") as store:
        raws = [
            (
                f"gen-{i}.eml",
                (f"From: a{i}@b.example\r\nMessage-ID: <m{i}@x>\r\n" + t).encode(
                    "utf-8", "surrogatepass"
                ),
            )
            for i, t in enumerate(texts)
        ]
        report = ingest(raws, store=store, now=dt.datetime(2027, 3, 1, tzinfo=dt.UTC))
        assert len(report.items) == len(raws)
        assert not any(item.contact for item in report.items)  # nobody was invited
