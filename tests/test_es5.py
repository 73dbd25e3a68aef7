"""Every script phones and tablets run parses as ES5 (old Android's Chrome 61, iOS Safari 11 and older WebViews).

esprima (a Python port of esprima 4) parses ES2017; a script is ES5 when its syntax tree has none of the nodes and
flags that ES2015+ added. The vendored Socket.IO client is served to every phone, so it is checked too.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import esprima
import pytest

STATIC = Path(__file__).resolve().parent.parent / "static"
SCRIPTS = sorted(STATIC.rglob("*.js"))

#: Syntax tree nodes that ES5 does not have.
NOT_ES5 = {
    "ArrowFunctionExpression", "ClassDeclaration", "ClassExpression", "TemplateLiteral", "TaggedTemplateExpression",
    "ForOfStatement", "SpreadElement", "RestElement", "ArrayPattern", "ObjectPattern", "AssignmentPattern",
    "AwaitExpression", "YieldExpression", "ImportDeclaration", "ExportNamedDeclaration", "ExportDefaultDeclaration",
    "ExportAllDeclaration", "MetaProperty", "Super",
}


def es2015_constructs(source: str) -> list[str]:
    """What in `source` is not ES5: node types and flags, with their line numbers."""
    found: list[str] = []

    def visit(node: Any, meta: Any) -> None:
        line = meta.start.line if meta is not None else "?"
        kind = node.type
        if kind in NOT_ES5:
            found.append(f"{kind} (line {line})")
        elif kind == "VariableDeclaration" and node.kind != "var":
            found.append(f"{node.kind} (line {line})")
        elif kind in ("FunctionDeclaration", "FunctionExpression") and (node.generator or node.isAsync):
            found.append(f"generator/async function (line {line})")
        elif kind == "Property" and (node.shorthand or node.computed or node.method):
            found.append(f"ES2015 object property (line {line})")
        elif kind == "BinaryExpression" and node.operator == "**":
            found.append(f"** (line {line})")
        elif kind == "Literal" and getattr(node, "regex", None) and set(node.regex.flags) - set("gim"):
            found.append(f"regex flags {node.regex.flags} (line {line})")

    esprima.parseScript(source, {"loc": True}, visit)
    return found


@pytest.mark.parametrize("path", SCRIPTS, ids=lambda p: str(p.relative_to(STATIC)))
def test_script_is_es5(path: Path) -> None:
    assert es2015_constructs(path.read_text(encoding="utf-8")) == []


def test_the_check_finds_what_es5_lacks() -> None:
    assert es2015_constructs("var a = function (x) { return x + 1; };") == []
    for source in ("let a = 1;", "const a = 1;", "var f = x => x;", "var s = `a${1}`;", "class A {}",
                   "for (var x of []) {}", "f(...a);", "var o = {a};", "async function f() {}",
                   "function* g() {}", "var {a} = o;", "var o = {m() {}};", "var r = /a/u;"):
        assert es2015_constructs(source), source


def test_the_vendored_socket_io_client_is_checked() -> None:
    assert STATIC / "vendor" / "socket.io" / "socket.io.min.js" in SCRIPTS
