"""Every child process of the package is started by meeting_server/runner.py and runs this checkout's code."""

from __future__ import annotations

import os
import re
from pathlib import Path

import meeting_server
from meeting_server import runner

PACKAGE = Path(meeting_server.__file__).resolve().parent


def test_a_child_imports_this_checkout_even_from_elsewhere(tmp_path: Path) -> None:
    site = runner.run("site", capture_output=True, check=True, cwd=tmp_path).stdout.decode()  # prints sys.path
    assert f"'{PACKAGE.parent}'," in site
    paths = runner.env()["PYTHONPATH"].split(os.pathsep)
    assert paths[0] == str(PACKAGE.parent) and "" not in paths


def test_no_launcher_builds_its_own_path() -> None:
    """PYTHONPATH and `sys.executable, "-m"` are spelled in runner.py only."""
    spelled = [str(p.relative_to(PACKAGE)) for p in sorted(PACKAGE.rglob("*.py"))
               if p.name != "runner.py" and re.search(r'PYTHONPATH|sys\.executable, "-m"', p.read_text("utf-8"))]
    assert spelled == []
