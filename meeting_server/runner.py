"""Starting a Python child process of this package: the one place that knows how.

The child runs `python -m <module>` with the parent's interpreter and a PYTHONPATH that finds this checkout first,
so it runs the same code as its parent whether the package is installed or run from a source tree. Standard
library only: the render pool, the minutes worker, the audit-log check and `offload` all start their children here.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

__all__ = ["ROOT", "command", "env", "run", "start"]

#: The directory that holds the `meeting_server` package.
ROOT = Path(__file__).resolve().parent.parent


def command(module: str, *args: str) -> list[str]:
    """The command line of `python -m module args…` with this interpreter."""
    return [sys.executable, "-m", module, *args]


def env() -> dict[str, str]:
    """The parent's environment with this checkout first on PYTHONPATH (no empty entry, which would mean the
    child's working directory)."""
    out = dict(os.environ)
    out["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), out.get("PYTHONPATH")]))
    return out


def run(module: str, *args: str, **kwargs: Any) -> subprocess.CompletedProcess[bytes]:
    """Run `python -m module args…` to its end (keyword arguments as for `subprocess.run`)."""
    return subprocess.run(command(module, *args), env=env(), **kwargs)


def start(module: str, *args: str, **kwargs: Any) -> subprocess.Popen[bytes]:
    """Start `python -m module args…` and return it running (keyword arguments as for `subprocess.Popen`)."""
    return subprocess.Popen(command(module, *args), env=env(), **kwargs)
