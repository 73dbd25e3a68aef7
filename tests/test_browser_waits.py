"""Every `wait_for_function` in the browser tests polls a function, never a bare expression.

Playwright runs a bare expression through `eval` on each poll after the first. The first check runs inside the
DevTools evaluation, which the page's Content Security Policy (`script-src 'self'`, no 'unsafe-eval') lets through;
the polls after it run from requestAnimationFrame and are refused with an EvalError. So a bare expression passes
when the condition already holds at the first check and fails when the screen takes one frame longer: CI saw
`test_sitting_not_opened_then_closed_says_so_and_the_floor_stops` fail that way. A function (`() => …`) is called,
not eval'd, on every poll.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

TESTS = Path(__file__).resolve().parent
FUNCTION = re.compile(r"\s*(\(|[\w$]+\s*=>|function\b|async\b)")


def bare_expressions(source: str) -> list[tuple[int, str]]:
    """(line, text) of each wait_for_function whose predicate is a string that is not a function."""
    tree = ast.parse(source)
    names = {target.id: node.value.value for node in ast.walk(tree) if isinstance(node, ast.Assign)
             and isinstance(node.value, ast.Constant) and isinstance(node.value.value, str)
             for target in node.targets if isinstance(target, ast.Name)}
    found = []
    for node in ast.walk(tree):
        if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
                and node.func.attr == "wait_for_function" and node.args):
            continue
        first = node.args[0]
        if isinstance(first, ast.Name):
            text = names.get(first.id)
        elif isinstance(first, ast.JoinedStr):
            head = first.values[0] if first.values else None
            text = head.value if isinstance(head, ast.Constant) else None
        else:
            try:
                text = ast.literal_eval(first)
            except ValueError:
                text = None
        if isinstance(text, str) and not FUNCTION.match(text):
            found.append((node.lineno, text[:70]))
    return found


def test_browser_tests_poll_functions_not_expressions() -> None:
    offenders = [f"{path.relative_to(TESTS)}:{line}: {text}"
                 for path in sorted(TESTS.rglob("*.py")) for line, text in bare_expressions(path.read_text())]
    assert offenders == [], "\n".join(offenders)


def test_the_check_finds_a_bare_expression() -> None:
    assert bare_expressions('page.wait_for_function("document.title === \'x\'")') == [(1, "document.title === 'x'")]
    assert bare_expressions('page.wait_for_function("() => document.title === \'x\'")') == []
    assert bare_expressions('page.wait_for_function("n => n > 1", arg=2)') == []
    assert bare_expressions('JS = "window.Live"\npage.wait_for_function(JS)') == [(2, "window.Live")]
