# SPDX-FileCopyrightText: 2026 The hareg authors
# SPDX-License-Identifier: EUPL-1.2
"""The shape of the package: which modules may import which.

Every module of hareg and hareg_cli is imported (so none is broken on import), and the
import graph is read statically from the source: every ``import`` and ``from ... import``
statement, relative ones resolved, including those inside functions and under
``if TYPE_CHECKING:``. The rules:

* no import cycle among hareg's modules, counting every import, wherever it stands. A
  function-level or TYPE_CHECKING import is still a dependency: it is usually there to
  dodge a cycle at import time, and a dodged cycle still ties the two modules together.
  (Importing ``pkg.mod`` also runs ``pkg/__init__.py``; that implicit edge to the parent
  package is not counted, only the names a statement spells.)
* the domain and its persistence (hareg.registry, hareg.virtual, hareg.remote, hareg.db,
  hareg.storage) do not import flask or werkzeug, not even through other hareg modules;
* hareg.registry does not import hareg.gc (gc is built on the registry, not the reverse);
* hareg.storage does not import hareg.registry (the registry is built on storage);
* the domain (hareg.registry, hareg.db, hareg.storage, hareg.gc, hareg.auth) does not import
  hareg.ui (the web interface is built on it).

Failures list the offending edges as ``module:line -> module``.
"""

from __future__ import annotations

import ast
import importlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("hareg", "hareg_cli")
WEB_FRAMEWORKS = ("flask", "werkzeug")
FLASK_FREE = ("hareg.registry", "hareg.db", "hareg.storage", "hareg.virtual", "hareg.remote")

#: Edges let through the Flask-free rule, each with its reason.
ALLOWED_WEB_EDGES = {
    # Storage calls are timed into the Prometheus registry that hareg.server.metrics owns;
    # that module also holds the WSGI middleware (werkzeug). A better home for the
    # Flask-free half (Metrics, get_metrics, recording) would remove this exception.
    ("hareg.storage.metered", "hareg.server.metrics"),
}


@dataclass(frozen=True)
class Edge:
    source: str
    target: str  # a hareg module, or a top-level third-party name
    line: int
    kind: str  # "module", "function" or "type-checking"

    def __str__(self) -> str:
        where = "" if self.kind == "module" else f" ({self.kind})"
        return f"{self.source}:{self.line} -> {self.target}{where}"


def _modules() -> dict[str, Path]:
    """Dotted name -> file of every module of the packages (packages map to __init__.py)."""
    found: dict[str, Path] = {}
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            parts = list(path.relative_to(ROOT).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts.pop()
            found[".".join(parts)] = path
    return found


MODULES = _modules()


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING")


def _statements(tree: ast.Module) -> Iterator[tuple[ast.Import | ast.ImportFrom, str]]:
    """Every import statement with where it stands: module level, in a function, or under
    ``if TYPE_CHECKING:``."""

    def walk(node: ast.AST, kind: str) -> Iterator[tuple[ast.Import | ast.ImportFrom, str]]:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, (ast.Import, ast.ImportFrom)):
                yield child, kind
            elif isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)):
                yield from walk(child, "function")
            elif isinstance(child, ast.If) and _is_type_checking(child.test):
                for stmt in child.body:
                    yield from walk(ast.Module(body=[stmt], type_ignores=[]),
                                    "function" if kind == "function" else "type-checking")
                for stmt in child.orelse:
                    yield from walk(ast.Module(body=[stmt], type_ignores=[]), kind)
            else:
                yield from walk(child, kind)

    yield from walk(tree, "module")


def _resolve(name: str) -> str:
    """The hareg module ``name`` lands in (its longest known prefix), or its top-level
    package for third-party and standard-library names."""
    parts = name.split(".")
    if parts[0] not in PACKAGES:
        return parts[0]
    for end in range(len(parts), 0, -1):
        candidate = ".".join(parts[:end])
        if candidate in MODULES:
            return candidate
    raise AssertionError(f"import of unknown module {name!r}")


def _edges(module: str) -> list[Edge]:
    path = MODULES[module]
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    edges: list[Edge] = []
    for stmt, kind in _statements(tree):
        targets: list[str] = []
        if isinstance(stmt, ast.Import):
            targets = [_resolve(alias.name) for alias in stmt.names]
        else:
            if stmt.level:
                base_parts = package.split(".")
                if stmt.level > 1:
                    base_parts = base_parts[: -(stmt.level - 1)]
                base = ".".join(base_parts + ([stmt.module] if stmt.module else []))
            else:
                base = stmt.module or ""
            for alias in stmt.names:
                # ``from pkg import mod`` names a submodule when there is one
                sub = f"{base}.{alias.name}"
                targets.append(sub if sub in MODULES else _resolve(base))
        edges.extend(Edge(module, target, stmt.lineno, kind) for target in targets)
    return edges


EDGES: list[Edge] = sorted({e for m in MODULES for e in _edges(m)},
                           key=lambda e: (e.source, e.line, e.target))


def _internal(edge: Edge) -> bool:
    return edge.target.split(".")[0] in PACKAGES and edge.target != edge.source


def _under(module: str, prefixes: tuple[str, ...] | str) -> bool:
    prefixes = (prefixes,) if isinstance(prefixes, str) else prefixes
    return any(module == p or module.startswith(p + ".") for p in prefixes)


def _format(edges: list[Edge]) -> str:
    return "\n".join(f"  {e}" for e in edges)


# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("module", sorted(m for m in MODULES if not m.endswith(".__main__")))
def test_every_module_imports(module: str, request: pytest.FixtureRequest,
                              monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """(``__main__`` modules run the program when imported: they are only read.)"""
    if module == "hareg.server.wsgi":
        # Importing it builds the app from the HAREG_* environment: on a migrated test
        # database, not on an embedded PostgreSQL started in ./hareg-data and left running.
        pg = request.getfixturevalue("pg")
        monkeypatch.setenv("HAREG_DATABASE_URL", pg.migrated_database("hareg_wsgi"))
        monkeypatch.setenv("HAREG_SERVER_DATA_DIR", str(tmp_path / "data"))
    importlib.import_module(module)


def test_the_graph_is_read() -> None:
    """Guard against a parser that silently finds nothing."""
    assert "hareg.grammar" in MODULES and "hareg_cli.main" in MODULES
    internal = [e for e in EDGES if _internal(e)]
    assert len(internal) > 100
    assert any(e.source == "hareg.registry.names" and e.target == "hareg.grammar"
               for e in internal)
    assert any(e.kind == "function" for e in internal)
    assert any(e.kind == "type-checking" for e in internal)


def _cycles(edges: list[Edge]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan, iterative)."""
    graph: dict[str, set[str]] = {}
    for e in edges:
        graph.setdefault(e.source, set()).add(e.target)
        graph.setdefault(e.target, set())
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    components: list[list[str]] = []
    counter = 0
    for root in sorted(graph):
        if root in index:
            continue
        work: list[tuple[str, Iterator[str]]] = [(root, iter(sorted(graph[root])))]
        index[root] = low[root] = counter
        counter += 1
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = counter
                    counter += 1
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph[child]))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                parent = work[-1][0]
                low[parent] = min(low[parent], low[node])
            if low[node] == index[node]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                if len(component) > 1:
                    components.append(sorted(component))
    return components


def test_no_import_cycles() -> None:
    internal = [e for e in EDGES if _internal(e)]
    problems = []
    for component in _cycles(internal):
        members = set(component)
        inside = [e for e in internal if e.source in members and e.target in members]
        problems.append(f"cycle among {', '.join(component)}:\n{_format(inside)}")
    assert not problems, "import cycles:\n" + "\n".join(problems)


def test_cycle_finder_finds_a_cycle() -> None:
    edges = [Edge("a", "b", 1, "module"), Edge("b", "c", 1, "function"),
             Edge("c", "a", 1, "type-checking"), Edge("c", "d", 1, "module")]
    assert _cycles(edges) == [["a", "b", "c"]]


def _paths_to_web(module: str) -> list[list[Edge]]:
    """Chains of imports from ``module`` to flask or werkzeug (one per first edge), skipping
    the allowed edges."""
    by_source: dict[str, list[Edge]] = {}
    for e in EDGES:
        by_source.setdefault(e.source, []).append(e)
    chains = []
    for first in by_source.get(module, []):
        if (first.source, first.target) in ALLOWED_WEB_EDGES:
            continue
        # breadth-first from the first edge's target, bounded by the number of modules
        seen = {module}
        queue: list[list[Edge]] = [[first]]
        found = None
        while queue and found is None:
            chain = queue.pop(0)
            last = chain[-1]
            if last.target in WEB_FRAMEWORKS:
                found = chain
                break
            if last.target in seen or last.target.split(".")[0] not in PACKAGES:
                continue
            seen.add(last.target)
            queue.extend([*chain, nxt] for nxt in by_source.get(last.target, [])
                         if (nxt.source, nxt.target) not in ALLOWED_WEB_EDGES)
        if found:
            chains.append(found)
    return chains


def test_domain_and_persistence_do_not_import_flask() -> None:
    problems = [" => ".join(str(e) for e in chain)
                for module in sorted(MODULES) if _under(module, FLASK_FREE)
                for chain in _paths_to_web(module)]
    assert not problems, (
        "hareg.registry, hareg.db and hareg.storage must not import flask or werkzeug"
        " (directly or through hareg modules):\n" + "\n".join(f"  {p}" for p in problems))


def test_allowed_web_edges_still_exist() -> None:
    """An exception that no longer matches an import must be removed from the list."""
    present = {(e.source, e.target) for e in EDGES}
    assert present >= ALLOWED_WEB_EDGES, ALLOWED_WEB_EDGES - present


@pytest.mark.parametrize(("sources", "forbidden", "reason"), [
    ("hareg.registry", "hareg.gc", "gc is built on the registry"),
    ("hareg.storage", "hareg.registry", "the registry is built on storage"),
    *((domain, "hareg.ui", "the web interface is built on the domain, never the reverse")
      for domain in ("hareg.registry", "hareg.db", "hareg.storage", "hareg.gc", "hareg.auth")),
])
def test_layers(sources: str, forbidden: str, reason: str) -> None:
    bad = [e for e in EDGES if _under(e.source, sources) and _under(e.target, forbidden)]
    assert not bad, f"{sources} must not import {forbidden} ({reason}):\n{_format(bad)}"
