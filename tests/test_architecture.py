"""The house keeps itself: imports point down the layers of docs/ARCHITECTURE.md, and no module imports itself back.

`check_imports` reads every module of a package with `ast` (nothing is imported) and builds its import graph:
module-level and function-level imports, absolute and relative (resolved against the importing module), each
`from package import name` pointing at the submodule when `name` is one, else at the package's `__init__`. Two
kinds of import are left out, on purpose: those under `if TYPE_CHECKING:` (never run, and the usual way to name a
type from a layer above without depending on it), and the implicit import of a module's parent packages (every
`import a.b.c` runs `a/__init__` and `a/b/__init__`; counting that would make every package `__init__` that
imports a submodule a cycle). The same function checks the synthetic packages at the end of this file, which is
how we know it can fail.
"""

from __future__ import annotations

import ast
import sys
import textwrap
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

import meeting_server

PACKAGE_DIR = Path(meeting_server.__file__).parent

#: The layers of docs/ARCHITECTURE.md ("Layers (imports point down)"), by module-name prefix within the package;
#: the longest matching prefix wins ("" is the package's own `__init__` only). A module no prefix names is reported.
LAYER_OF: dict[str, str] = {
    "": "base",
    "__main__": "entry",
    "cli": "entry",
    "appliance": "entry",
    "app": "app",
    "web": "web",
    "realtime": "realtime",
    "services": "services",
    "domain": "domain",
    "store": "store",
    "documents": "documents",
    "minutes": "minutes",
    "extensions": "extensions",
    "config": "base",
    "offload": "base",
    "faults": "base",
    "runner": "base",
    "i18n": "base",
    "netaddr": "base",
    "discovery": "base",
    "doctor": "base",
    "front": "base",
    "office": "base",
    "tls": "base",
    "wifi": "base",
}

#: What each layer may import (besides itself); anything else is a forbidden direction.
#: - entry (the CLI, `python -m`, the appliance start-up) and app (the factory) sit on top and wire the rest;
#: - web may call into realtime (an HTTP change is announced to the screens), never the other way round;
#: - realtime and web are skins over services; they may also use domain values, the store's session and
#:   tables, and documents/ (page rendering helpers) directly;
#: - services do not import a skin, the app or the extension objects;
#: - store, documents and minutes know nothing above them; domain imports only itself (and the standard
#:   library: STDLIB_ONLY).
#: - extensions (the Socket.IO, CSRF and Babel objects) import nothing of the house; base (the package's
#:   `__version__`, configuration, child processes, the appliance's network helpers) only domain values.
SKIN_BELOW = {"services", "domain", "store", "documents", "minutes", "extensions", "base"}
MAY_IMPORT: dict[str, set[str]] = {
    "entry": {"entry", "app", "web", "realtime"} | SKIN_BELOW,
    "app": {"web", "realtime"} | SKIN_BELOW,
    "web": {"realtime"} | SKIN_BELOW,
    "realtime": SKIN_BELOW,
    "services": {"domain", "store", "documents", "minutes", "base"},
    "store": {"domain", "base"},
    "documents": {"domain", "base"},
    "minutes": {"domain", "base"},
    "domain": set(),
    "extensions": set(),
    "base": {"domain"},
}
#: Layers whose modules may import, outside the package, only the standard library.
STDLIB_ONLY = {"domain"}
#: Outside packages with a home: the only layers that may import them (ARCHITECTURE.md: documents/ is the home of
#: PyMuPDF and qrcode, minutes/ of pyHanko). minutes/render.py draws the minutes PDF with PyMuPDF, so minutes/ is
#: listed for it too until that code or the document changes (issue #16, "docs promise things that are not so").
HOMES: dict[str, set[str]] = {
    "pymupdf": {"documents", "minutes"},
    "fitz": {"documents", "minutes"},
    "qrcode": {"documents"},
    "pyhanko": {"minutes"},
    "pyhanko_certvalidator": {"minutes"},
}


@dataclass(frozen=True)
class Import:
    """One import statement's arrow: `source` imports `target` (a module of the package, or an outside name)."""

    source: str
    target: str
    line: int
    in_function: bool
    internal: bool

    def __str__(self) -> str:
        where = "function-level, " if self.in_function else ""
        return f"{self.source} -> {self.target} ({where}line {self.line})"


@dataclass(frozen=True)
class Report:
    """What `check_imports` found: the arrows that run the wrong way, and the cycles of the import graph."""

    forbidden: list[str]
    cycles: list[list[str]]
    graph: dict[str, set[str]]


def package_modules(package_dir: Path, package: str) -> dict[str, Path]:
    """Every module of the package by dotted name (a package by its own name, for its `__init__.py`)."""
    found: dict[str, Path] = {}
    for path in sorted(package_dir.rglob("*.py")):
        parts = list(path.relative_to(package_dir).with_suffix("").parts)
        if not all(part.isidentifier() for part in parts):
            continue  # e.g. Alembic's revision files, which are never imported by name
        if parts[-1] == "__init__":
            parts.pop()
        found[".".join([package, *parts])] = path
    return found


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING")


def _import_nodes(tree: ast.AST) -> Iterator[tuple[ast.Import | ast.ImportFrom, bool]]:
    """Every import statement with whether it sits inside a function, skipping `if TYPE_CHECKING:` bodies."""

    def visit(node: ast.AST, in_function: bool) -> Iterator[tuple[ast.Import | ast.ImportFrom, bool]]:
        if isinstance(node, ast.Import | ast.ImportFrom):
            yield node, in_function
            return
        children: list[ast.AST] = list(ast.iter_child_nodes(node))
        if isinstance(node, ast.If) and _is_type_checking(node.test):
            children = list(node.orelse)
        inner = in_function or isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda)
        for child in children:
            yield from visit(child, inner)

    yield from visit(tree, False)


def module_imports(name: str, path: Path, modules: Mapping[str, Path], package: str) -> list[Import]:
    """The arrows out of one module; relative imports are resolved against the module's own package."""
    is_package = path.name == "__init__.py"
    own_package = name if is_package else name.rpartition(".")[0]
    arrows: list[Import] = []

    def arrow(target: str, node: ast.stmt, in_function: bool) -> None:
        internal = target == package or target.startswith(package + ".")
        if internal:
            while target not in modules and "." in target:  # `import pkg.mod.attr` style: the module it names
                target = target.rpartition(".")[0]
        arrows.append(Import(name, target, node.lineno, in_function, internal))

    for node, in_function in _import_nodes(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        if isinstance(node, ast.Import):
            for alias in node.names:
                arrow(alias.name, node, in_function)
            continue
        if node.level:
            base_parts = own_package.split(".")
            if node.level > 1:
                base_parts = base_parts[: -(node.level - 1)]
            base = ".".join(base_parts + ([node.module] if node.module else []))
        else:
            base = node.module or ""
        for alias in node.names:
            candidate = f"{base}.{alias.name}"
            arrow(candidate if candidate in modules else base, node, in_function)
    return arrows


def layer_of(module: str, package: str, table: Mapping[str, str] = LAYER_OF) -> str:
    """The layer a module belongs to (the longest prefix in the table); KeyError for a module the table misses."""
    rest = module[len(package) + 1:] if module != package else ""
    parts = rest.split(".") if rest else []
    for n in range(len(parts), 0, -1):
        prefix = ".".join(parts[:n])
        if prefix in table:
            return table[prefix]
    if not parts and "" in table:  # the package's own __init__; not a catch-all for a new module
        return table[""]
    raise KeyError(module)


def find_cycles(graph: Mapping[str, set[str]]) -> list[list[str]]:
    """Every strongly connected component of more than one module (or a module importing itself), sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    out: list[list[str]] = []
    counter = 0

    def visit(v: str) -> None:  # Tarjan; the graphs here are a few hundred nodes, recursion is fine
        nonlocal counter
        index[v] = low[v] = counter
        counter += 1
        stack.append(v)
        on_stack.add(v)
        for w in sorted(graph.get(v, ())):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1 or v in graph.get(v, ()):
                out.append(sorted(component))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return sorted(out)


def check_imports(package_dir: Path, package: str, layer_of_prefix: Mapping[str, str] = LAYER_OF,
                  may_import: Mapping[str, set[str]] = MAY_IMPORT,
                  stdlib_only: set[str] = STDLIB_ONLY, homes: Mapping[str, set[str]] = HOMES) -> Report:
    """Build the import graph of a package and report every arrow a layer may not draw (to a layer, or to an
    outside package: STDLIB_ONLY, HOMES), and every cycle."""
    modules = package_modules(package_dir, package)
    graph: dict[str, set[str]] = {name: set() for name in modules}
    forbidden: list[str] = []
    for name, path in modules.items():
        try:
            source_layer = layer_of(name, package, layer_of_prefix)
        except KeyError:
            forbidden.append(f"{name}: in no layer of LAYER_OF")
            continue
        for imp in module_imports(name, path, modules, package):
            if not imp.internal:
                top = imp.target.split(".")[0]
                if source_layer in stdlib_only and top not in sys.stdlib_module_names:
                    forbidden.append(f"{imp}: {source_layer} imports only the standard library")
                elif top in homes and source_layer not in homes[top]:
                    forbidden.append(f"{imp}: {top} is imported only in {', '.join(sorted(homes[top]))}")
                continue
            if imp.target == name:
                continue  # `from . import x` in a package's own __init__ where x is not a module: itself
            graph[name].add(imp.target)
            try:
                target_layer = layer_of(imp.target, package, layer_of_prefix)
            except KeyError:
                forbidden.append(f"{imp}: the target is in no layer of LAYER_OF")
                continue
            if target_layer != source_layer and target_layer not in may_import[source_layer]:
                forbidden.append(f"{imp}: {source_layer} may not import {target_layer}")
    return Report(sorted(forbidden), find_cycles(graph), graph)


# --- the house ---


def test_no_import_runs_up_the_layers() -> None:
    report = check_imports(PACKAGE_DIR, "meeting_server")
    assert report.forbidden == []


def test_the_import_graph_has_no_cycle() -> None:
    report = check_imports(PACKAGE_DIR, "meeting_server")
    assert report.cycles == []


def test_every_layer_of_the_table_has_modules() -> None:
    """The table names real modules: a layer renamed in the code but not here would silently check nothing."""
    modules = package_modules(PACKAGE_DIR, "meeting_server")
    layers = {layer_of(m, "meeting_server") for m in modules}
    assert layers == set(MAY_IMPORT)
    for prefix in LAYER_OF:
        assert ("meeting_server." + prefix if prefix else "meeting_server") in modules or any(
            m.startswith(f"meeting_server.{prefix}.") for m in modules), prefix


# --- the checker can fail: small packages written for the purpose ---


def _write(root: Path, files: dict[str, str]) -> Path:
    package_dir = root / "house"
    for rel, text in files.items():
        path = package_dir / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text), encoding="utf-8")
    for directory in [package_dir, *(p for p in package_dir.rglob("*") if p.is_dir())]:
        (directory / "__init__.py").touch()
    return package_dir


#: The layers of a synthetic package: the same table, for modules named like ours.
SYNTHETIC = {"web": "web", "realtime": "realtime", "services": "services", "domain": "domain", "store": "store",
             "": "entry"}


def test_an_upward_import_is_reported(tmp_path: Path) -> None:
    package_dir = _write(tmp_path, {
        "web/pages.py": "from house.services import meetings\n",
        "services/meetings.py": "from house.domain import rules\n",
        "domain/rules.py": "from house.store import tables\nimport sqlalchemy\n",
        "store/tables.py": "",
    })
    report = check_imports(package_dir, "house", SYNTHETIC)
    assert report.forbidden == [
        "house.domain.rules -> house.store.tables (line 1): domain may not import store",
        "house.domain.rules -> sqlalchemy (line 2): domain imports only the standard library",
    ]
    assert report.cycles == []


def test_an_outside_package_away_from_its_home_is_reported(tmp_path: Path) -> None:
    package_dir = _write(tmp_path, {
        "minutes/sign.py": "from pyhanko.sign import signers\n",
        "services/minutes.py": "def verify():\n    import pyhanko.sign.validation\n",
    })
    report = check_imports(package_dir, "house", {**SYNTHETIC, "minutes": "minutes"})
    assert report.forbidden == ["house.services.minutes -> pyhanko.sign.validation (function-level, line 2): "
                                "pyhanko is imported only in minutes"]


def test_a_relative_import_cycle_is_reported(tmp_path: Path) -> None:
    package_dir = _write(tmp_path, {
        "realtime/registry.py": "from .session import on_connect\n",
        "realtime/session.py": "from . import broadcast\n",
        "realtime/broadcast.py": "from ..realtime.registry import EVENTS\n",
        "realtime/rooms.py": "from . import broadcast\n",
    })
    report = check_imports(package_dir, "house", SYNTHETIC)
    assert report.forbidden == []
    assert report.cycles == [["house.realtime.broadcast", "house.realtime.registry", "house.realtime.session"]]


def test_a_function_level_import_into_web_from_services_is_reported(tmp_path: Path) -> None:
    package_dir = _write(tmp_path, {
        "services/tokens.py": """
            from typing import TYPE_CHECKING

            if TYPE_CHECKING:
                from house.realtime import rooms  # a type only: not an arrow


            def resolve(token):
                from house.web.guards import resolve_principal

                return resolve_principal(token)
            """,
        "web/guards.py": """
            def resolve_principal(token):
                from house.services import tokens

                return tokens
            """,
        "realtime/rooms.py": "",
    })
    report = check_imports(package_dir, "house", SYNTHETIC)
    assert report.forbidden == [
        "house.services.tokens -> house.web.guards (function-level, line 9): services may not import web"]
    assert report.cycles == [["house.services.tokens", "house.web.guards"]]
    assert "house.realtime.rooms" not in report.graph["house.services.tokens"]


def test_a_module_outside_every_layer_is_reported(tmp_path: Path) -> None:
    package_dir = _write(tmp_path, {"plugins/extra.py": "", "web/pages.py": "from house.plugins import extra\n"})
    report = check_imports(package_dir, "house", SYNTHETIC)
    assert report.forbidden == [
        "house.plugins.extra: in no layer of LAYER_OF",
        "house.plugins: in no layer of LAYER_OF",
        "house.web.pages -> house.plugins.extra (line 1): the target is in no layer of LAYER_OF",
    ]
