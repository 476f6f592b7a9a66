"""Templates: a sandboxed Jinja2 environment with strict undefined variables.

Layout: ``templates/<name>/<language>/{subject.txt, body.txt, body.html}``. ``body.html`` is
optional; HTML is autoescaped. A contact whose language has no templates gets the default
language's. Dates and times are formatted the local way with the ``date``, ``time`` and
``datetime`` filters (Babel, :mod:`.datefilters`), in the language of the message being
rendered; an undefined name is an error (:mod:`.undefined`).

A template that fails raises one :class:`~mailer.errors.TemplateError` naming the file, the
line and (from :mod:`.hints`) what to do. :meth:`Renderer.render` stops at the first problem, as
a send must; :meth:`Renderer.problems` and :meth:`Renderer.compile_problems` (for ``mailer
check``) find every problem of a message: they render again with undefined names noted instead
of raised, so the normal path pays nothing for them.
"""

from __future__ import annotations

import os
import traceback
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NoReturn

import jinja2
from jinja2.exceptions import SecurityError
from jinja2.utils import missing

from mailer.clock import SystemClock
from mailer.errors import TemplateError
from mailer.messages.budget import Budget, BudgetedEnvironment, BudgetExceeded, metered, stream
from mailer.messages.datefilters import date_filter, datetime_filter, time_filter
from mailer.messages.hints import Sources, explain_undefined, filter_hint
from mailer.messages.htmlfilters import links, phone
from mailer.messages.undefined import Notes, StrictUndefined, UndefinedName, collecting

PARTS = ("subject.txt", "body.txt", "body.html")
DEFAULT_BUDGET = Budget()


@dataclass(frozen=True)
class Rendered:
    subject: str
    text: str
    html: str | None
    language: str  # the language actually used (after fallback)


class Renderer:
    """Compiles each template once and renders it for many contacts."""

    def __init__(
        self,
        templates_dir: Path,
        *,
        default_language: str,
        label_root: Path,
        sources: Sources | None = None,
        budget: Budget = DEFAULT_BUDGET,
        monotonic: Callable[[], float] | None = None,
    ) -> None:
        self.templates_dir = templates_dir
        self.budget = budget
        self.monotonic = monotonic or SystemClock().monotonic
        self.default_language = default_language
        self.label_root = label_root
        self.sources = sources or Sources()
        self.env = BudgetedEnvironment(
            loader=jinja2.FileSystemLoader(str(templates_dir), encoding="utf-8"),
            undefined=StrictUndefined,
            autoescape=jinja2.select_autoescape(
                enabled_extensions=("html",), default_for_string=False, default=False
            ),
            keep_trailing_newline=True,
            auto_reload=False,
        )
        self.env.add_filters(
            date=date_filter,
            time=time_filter,
            datetime=datetime_filter,
            links=links,
            phone=phone,
        )
        self._languages: dict[tuple[str, str], str] = {}
        self._inside = (str(templates_dir) + os.sep, str(templates_dir.resolve()) + os.sep)

    def _label(self, relative: str) -> str:
        path = self.templates_dir / relative
        try:
            return str(path.relative_to(self.label_root))
        except ValueError:
            return str(path)

    def _label_file(self, filename: str) -> str:
        """The label of a template file Jinja2 names by its path."""
        try:
            relative = Path(filename).resolve().relative_to(self.templates_dir.resolve())
        except (ValueError, OSError):
            return filename
        return self._label(relative.as_posix())

    def language_for(self, name: str, language: str) -> str:
        """The language whose templates a contact of *language* gets (looked up once)."""
        key = (name, language)
        if key not in self._languages:
            self._languages[key] = self._find_language(name, language)
        return self._languages[key]

    def _find_language(self, name: str, language: str) -> str:
        if (self.templates_dir / name / language / "subject.txt").is_file():
            return language
        if (self.templates_dir / name / self.default_language / "subject.txt").is_file():
            return self.default_language
        raise TemplateError.at(
            self._label(f"{name}/{self.default_language}/subject.txt"),
            0,
            f"no such template (templates of '{name}' are looked up as "
            f"templates/{name}/<language>/subject.txt, body.txt and body.html)",
        )

    def _template(self, relative: str) -> jinja2.Template | None:
        try:
            return self.env.get_template(relative)
        except jinja2.TemplateNotFound:
            return None
        except jinja2.TemplateSyntaxError as exc:
            label = self._label_file(exc.filename) if exc.filename else self._label(relative)
            hint = filter_hint(exc.message or "", self.env.filters, self.env.tests)
            raise TemplateError.at(
                label, exc.lineno, f"syntax error: {exc.message}", hint
            ) from None
        except UnicodeDecodeError:
            raise TemplateError.at(self._label(relative), 0, "not UTF-8 text") from None
        except (ArithmeticError, ValueError, TypeError, MemoryError, RecursionError) as exc:
            # Jinja2 computes constant expressions while compiling: {{ 10**(10**5) }}
            raise TemplateError.at(
                self._label(relative),
                0,
                f"cannot compile: {type(exc).__name__}: {str(exc)[:200]}",
            ) from None

    def check(self, name: str, languages: set[str]) -> None:
        """Compile every template a batch will use (syntax errors surface here)."""
        problems = self.compile_problems(name, languages)
        if problems:
            raise problems[0]

    def compile_problems(self, name: str, languages: set[str]) -> tuple[TemplateError, ...]:
        """Every problem found by compiling the templates of *languages*: syntax errors and
        missing files, each file once."""
        found: dict[str, TemplateError] = {}
        for language in sorted(languages):
            try:
                used = self.language_for(name, language)
            except TemplateError as exc:
                found.setdefault(exc.message, exc)
                continue
            for part in PARTS:
                relative = f"{name}/{used}/{part}"
                try:
                    template = self._template(relative)
                except TemplateError as exc:
                    found.setdefault(exc.message, exc)
                    continue
                if template is None and part != "body.html":
                    missing_file = TemplateError.at(self._label(relative), 0, "no such template")
                    found.setdefault(missing_file.message, missing_file)
        return tuple(found.values())

    def render(self, name: str, language: str, context: Mapping[str, Any]) -> Rendered:
        used = self.language_for(name, language)
        values = {**context, "language": used}
        out: dict[str, str | None] = {}
        for part in PARTS:
            relative = f"{name}/{used}/{part}"
            template = self._template(relative)
            if template is None:
                if part == "body.html":
                    out[part] = None
                    continue
                raise TemplateError.at(self._label(relative), 0, "no such template")
            out[part] = self._render_one(template, relative, values)
        subject = " ".join((out["subject.txt"] or "").split())
        if not subject:
            raise TemplateError.at(
                self._label(f"{name}/{used}/subject.txt"), 0, "the subject is empty"
            )
        return Rendered(
            subject=subject, text=out["body.txt"] or "", html=out["body.html"], language=used
        )

    def problems(
        self, name: str, language: str, context: Mapping[str, Any]
    ) -> tuple[TemplateError, ...]:
        """Every problem of the message :meth:`render` would make: each part is rendered with
        undefined names noted rather than raised, so that one run finds them all. A part that
        fails otherwise adds the error that stopped it."""
        try:
            used = self.language_for(name, language)
        except TemplateError as exc:
            return (exc,)
        values = {**context, "language": used}
        found: dict[tuple[str, int, str], TemplateError] = {}

        def add(error: TemplateError) -> None:
            found.setdefault((error.file, error.line, error.problem), error)

        for part in PARTS:
            relative = f"{name}/{used}/{part}"
            try:
                template = self._template(relative)
            except TemplateError as exc:
                add(exc)
                continue
            if template is None:
                if part != "body.html":
                    add(TemplateError.at(self._label(relative), 0, "no such template"))
                continue
            notes = Notes()
            stopped: TemplateError | None = None
            text = ""
            try:
                with collecting(notes):
                    text = self._render_one(template, relative, values)
            except TemplateError as exc:
                stopped = exc
            for undefined, file, line in notes.seen:
                add(self._undefined_error(undefined, file, line, relative, values))
            if stopped is not None:
                add(stopped)
            elif part == "subject.txt" and not notes.seen and not text.split():
                add(TemplateError.at(self._label(relative), 0, "the subject is empty"))
        return tuple(found.values())

    def _undefined_error(
        self,
        undefined: jinja2.Undefined,
        file: str,
        line: int,
        relative: str,
        values: Mapping[str, Any],
    ) -> TemplateError:
        label = self._label_file(file) if file else self._label(relative)
        return self._explain(
            label,
            line,
            undefined._undefined_obj,
            undefined._undefined_name,
            values,
            undefined._undefined_message,
        )

    def _explain(
        self,
        label: str,
        line: int,
        obj: Any,
        name: Any,
        values: Mapping[str, Any],
        message: str,
    ) -> TemplateError:
        explained = explain_undefined(obj, name, values, self.sources, missing=missing)
        if explained.variable is None:
            return TemplateError.at(label, line, f"undefined variable: {message}")
        return TemplateError.at(
            label, line, f"undefined variable {explained.variable}", explained.hint
        )

    def _render_one(
        self, template: jinja2.Template, relative: str, values: Mapping[str, Any]
    ) -> str:
        part = relative.rpartition("/")[2]
        try:
            with metered(self.budget, part, self.monotonic) as meter:
                return stream(template, values, meter)
        except BudgetExceeded as exc:
            label, line = self._where(relative, exc)
            if exc.position is not None:
                label, line = self._label_file(exc.position[0]), exc.position[1]
            return self._raise(TemplateError.at(label, line, exc.problem))
        except TemplateError as exc:
            label, line = self._where(relative, exc)
            return self._raise(TemplateError.at(label, line, exc.problem, exc.hint))
        except UndefinedName as exc:
            label, line = self._where(relative, exc)
            return self._raise(
                self._explain(label, line, exc.obj, exc.name, values, exc.message or "")
            )
        except jinja2.UndefinedError as exc:
            label, line = self._where(relative, exc)
            return self._raise(TemplateError.at(label, line, f"undefined variable: {exc.message}"))
        except SecurityError as exc:
            label, line = self._where(relative, exc)
            return self._raise(TemplateError.at(label, line, f"not allowed in a template: {exc}"))
        except jinja2.TemplateNotFound as exc:
            label, line = self._where(relative, exc)
            return self._raise(
                TemplateError.at(
                    label,
                    line,
                    f"no such template to include or import: {exc.name!r} (names are relative "
                    "to templates/, without '..')",
                )
            )
        except jinja2.TemplateSyntaxError as exc:  # in an included or imported template
            label = self._label_file(exc.filename) if exc.filename else self._label(relative)
            hint = filter_hint(exc.message or "", self.env.filters, self.env.tests)
            return self._raise(
                TemplateError.at(label, exc.lineno, f"syntax error: {exc.message}", hint)
            )
        except jinja2.TemplateError as exc:
            label, line = self._where(relative, exc)
            return self._raise(TemplateError.at(label, line, str(exc)))
        except (TypeError, ValueError, AttributeError, KeyError, ArithmeticError) as exc:
            label, line = self._where(relative, exc)
            return self._raise(
                TemplateError.at(label, line, f"{type(exc).__name__}: {str(exc)[:200]}")
            )
        except RecursionError:
            return self._raise(
                TemplateError.at(
                    self._label(relative), 0, "endless recursion (a macro that calls itself?)"
                )
            )
        except MemoryError:
            return self._raise(TemplateError.at(self._label(relative), 0, "ran out of memory"))

    @staticmethod
    def _raise(error: TemplateError) -> NoReturn:
        raise error from None

    def _where(self, relative: str, exc: BaseException) -> tuple[str, int]:
        """The template file and line of the error, from the traceback Jinja2 rewrote for us:
        the innermost template frame (an included template's own file and line)."""
        for frame in reversed(traceback.extract_tb(exc.__traceback__)):
            if frame.filename.startswith(self._inside) and frame.lineno:
                return self._label_file(frame.filename), frame.lineno
        return self._label(relative), 0
