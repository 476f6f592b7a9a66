"""The layout rules of docs/architecture.md, read from the source tree.

Every import counts, also the ones inside functions and under ``TYPE_CHECKING``: a lazy import
must not hide a cycle. Importing ``mailer.a.b`` from outside ``mailer.a`` runs ``mailer.a``'s
``__init__`` first, so such an import is an edge to the package as well.
"""

from __future__ import annotations

import ast
import sys
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent / "mailer"


def _module_name(path: Path) -> str:
    parts = path.relative_to(ROOT.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES: dict[str, Path] = {_module_name(p): p for p in sorted(ROOT.rglob("*.py"))}
PACKAGES = {name for name, p in MODULES.items() if p.name == "__init__.py"}


def _package_of(module: str) -> str:
    return module if module in PACKAGES else module.rpartition(".")[0]


def _imports(module: str) -> Iterator[tuple[str, int]]:
    """(imported module, line) for every import statement of *module*, at any depth."""
    tree = ast.parse(MODULES[module].read_text(), str(MODULES[module]))
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield alias.name, node.lineno
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            yield node.module, node.lineno
            for alias in node.names:  # ``from mailer.x import submodule``
                if f"{node.module}.{alias.name}" in MODULES:
                    yield f"{node.module}.{alias.name}", node.lineno


def _graph() -> dict[str, set[str]]:
    graph: dict[str, set[str]] = {name: set() for name in MODULES}
    for module in MODULES:
        own = _package_of(module)
        for target, _ in _imports(module):
            if target not in MODULES:
                continue
            graph[module].add(target)
            # Entering another package runs its __init__ (and its parents') first.
            parent = target.rpartition(".")[0]
            while parent and parent != "mailer" and not own.startswith(parent):
                graph[module].add(parent)
                parent = parent.rpartition(".")[0]
    for module in graph:
        graph[module].discard(module)
    return graph


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """One cycle per strongly connected component that has one (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in sorted(graph[node]):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = []
            while True:
                top = stack.pop()
                on_stack.discard(top)
                component.append(top)
                if top == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def test_the_import_graph_has_no_cycle() -> None:
    assert _cycles(_graph()) == []


def test_the_cycle_finder_finds_a_cycle() -> None:
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}
    assert _cycles(graph) == [["a", "b", "c"]]


def _outside_the_store() -> list[str]:
    return [m for m in MODULES if m != "mailer.store" and not m.startswith("mailer.store.")]


def test_only_the_store_imports_sqlite3() -> None:
    importing = sorted(
        f"{module}:{line}"
        for module in _outside_the_store()
        for target, line in _imports(module)
        if target == "sqlite3" or target.startswith("sqlite3.")
    )
    assert importing == []


def test_nothing_outside_the_store_touches_its_connection() -> None:
    """The store has no public connection, and nobody reaches for the private one."""
    from mailer.store import Store

    assert not hasattr(Store, "connection")
    touching = sorted(
        f"{module}:{node.lineno} .{node.attr}"
        for module in _outside_the_store()
        for node in ast.walk(ast.parse(MODULES[module].read_text(), str(MODULES[module])))
        if isinstance(node, ast.Attribute) and node.attr in ("connection", "_conn")
    )
    assert touching == []


# --- the CLI parses and forwards; only the console prints -----------------------------------------

FRONT_DOORS = {
    "mailer.config",  # load_config / find_config
    "mailer.contacts",
    "mailer.invitations",
    "mailer.oauth",
    "mailer.project",
    "mailer.release",
    "mailer.report",
    "mailer.rsvp",
}
SHARED = {"mailer", "mailer.clock", "mailer.errors"}  # ``mailer``: __version__, ``import console``
CLI_MODULES = sorted(m for m in MODULES if m == "mailer.cli" or m.startswith("mailer.cli."))


def _within(module: str, package: str) -> bool:
    return module == package or module.startswith(f"{package}.")


def _cli_may_import(target: str) -> bool:
    if target in SHARED or target in FRONT_DOORS:
        return True
    if _within(target, "mailer.cli") or _within(target, "mailer.console"):
        return True
    if _within(target, "mailer"):
        return False  # a domain submodule, or store/ or sending/
    top = target.partition(".")[0]
    return top == "typer" or (top in sys.stdlib_module_names and top != "sqlite3")


def _calls(module: str) -> Iterator[tuple[str, int]]:
    """(name of the called function, line) for every call of *module*."""
    tree = ast.parse(MODULES[module].read_text(), str(MODULES[module]))
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            func = node.func
            if isinstance(func, ast.Name):
                yield func.id, node.lineno
            elif isinstance(func, ast.Attribute):
                yield func.attr, node.lineno


def test_cli_modules_import_only_front_doors_the_console_and_typer() -> None:
    assert "mailer.cli.invite" in CLI_MODULES  # the scan sees the command modules
    wrong = [
        f"{module}:{line}: {target}"
        for module in CLI_MODULES
        for target, line in _imports(module)
        if not _cli_may_import(target)
    ]
    assert wrong == []


def test_the_cli_rule_refuses_what_it_should() -> None:
    for target in ("mailer.store", "mailer.sending", "mailer.rsvp.decisions", "mailer.models"):
        assert not _cli_may_import(target), target
    for target in ("sqlite3", "jinja2", "aiosmtplib", "rich"):
        assert not _cli_may_import(target), target
    for target in ("mailer.rsvp", "mailer.console.rsvp", "mailer.errors", "typer", "pathlib"):
        assert _cli_may_import(target), target


def test_cli_modules_never_open_the_store() -> None:
    wrong = [
        f"{module}:{line}: {name}()"
        for module in CLI_MODULES
        for name, line in _calls(module)
        if name in ("open_store", "Store")
    ]
    assert wrong == []


def test_only_the_console_and_the_cli_print() -> None:
    wrong = []
    for module in MODULES:
        if _within(module, "mailer.console") or _within(module, "mailer.cli"):
            continue
        wrong += [
            f"{module}:{line}: import {target}"
            for target, line in _imports(module)
            if _within(target, "rich")
        ]
        wrong += [f"{module}:{line}: print()" for name, line in _calls(module) if name == "print"]
        tree = ast.parse(MODULES[module].read_text())
        wrong += [
            f"{module}:{node.lineno}: sys.{node.attr}"
            for node in ast.walk(tree)
            if isinstance(node, ast.Attribute)
            and node.attr in ("stdout", "stderr")
            and isinstance(node.value, ast.Name)
            and node.value.id == "sys"
        ]
    assert wrong == []


# The layers of docs/architecture.md, lowest first: a module may import from its own layer and
# the ones below it, never from a layer above.
LAYERS: tuple[frozenset[str], ...] = tuple(
    frozenset("mailer" if name == "mailer" else f"mailer.{name}" for name in layer.split())
    for layer in (
        # the shared modules
        "mailer models errors clock timesync timeutil addresses wording privatefile",
        "config",
        "oauth",
        "store",
        "contacts messages",
        "sending",
        "invitations rsvp",
        "release",
        "project report",
        "console",
        "cli __main__",
    )
)


def _layer(module: str) -> int:
    parts = module.split(".")
    for depth in (2, 1):
        name = ".".join(parts[:depth])
        for level, members in enumerate(LAYERS):
            if name in members:
                return level
    raise AssertionError(f"{module} is in no layer: add it to LAYERS and docs/architecture.md")


def test_every_module_is_in_a_layer() -> None:
    for module in MODULES:
        _layer(module)


def test_no_module_imports_from_a_layer_above_its_own() -> None:
    upward = [
        f"{MODULES[module].relative_to(ROOT.parent)}:{line}: {module} imports {target}"
        for module in MODULES
        for target, line in _imports(module)
        if target in MODULES and _layer(target) > _layer(module)
    ]
    assert upward == []


def test_other_packages_come_in_through_the_front_door() -> None:
    """``mailer.release.plan`` may import ``mailer.release.audience``; anything outside
    ``mailer/release/`` imports ``mailer.release`` (its ``__init__``) only. The one exception:
    the CLI uses the console's area modules (``mailer.console.release as show``)."""
    side_doors = []
    for module in MODULES:
        for target, line in _imports(module):
            parts = target.split(".")
            if target not in MODULES or len(parts) < 3:
                continue
            package = ".".join(parts[:2])
            if package == "mailer.console" and _within(module, "mailer.cli"):
                continue
            if package in PACKAGES and not _within(module, package):
                where = MODULES[module].relative_to(ROOT.parent)
                side_doors.append(f"{where}:{line}: {target} (use {package})")
    assert side_doors == []


def test_docs_architecture_names_every_module() -> None:
    """The tree in docs/architecture.md stays the tree in mailer/."""
    page = (ROOT.parent / "docs" / "architecture.md").read_text()
    unnamed = [
        str(path.relative_to(ROOT.parent))
        for path in MODULES.values()
        if path.name != "__init__.py" and f"{path.name}" not in page
    ]
    packages = [p for p in PACKAGES if p != "mailer" and f"{p.split('.')[-1]}/" not in page]
    assert unnamed == [] and packages == []


def test_every_front_door_has_what_it_lists() -> None:
    import importlib

    missing = [
        f"{name}.{export}"
        for name in sorted(PACKAGES)
        for export in getattr(importlib.import_module(name), "__all__", [])
        if not hasattr(importlib.import_module(name), export)
    ]
    assert missing == []
