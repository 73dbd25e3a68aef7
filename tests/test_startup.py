"""The server's start stays light: what `serve` imports before it serves holds none of the libraries that only a
signing, a conversion, a roster file or a page drawing needs (they load in the worker processes, or on first use).
A restarted server must be back for every phone within seconds (issue #18), and each of these costs a tenth of a
second or more of its start. Checked in a fresh interpreter, by what is in sys.modules: no timing."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

#: Libraries the server process must not import to start: each is for a job that runs in a child process; and
#: Alembic, needed only when the schema is behind (store/db.at_head: the data directory is made first, below).
NOT_AT_START = ("pyhanko", "pyhanko_certvalidator", "docx", "openpyxl", "pymupdf", "fitz", "alembic")

SCRIPT = """
import json, sys
import eventlet
eventlet.monkey_patch()
from meeting_server.cli import _app
from meeting_server.web import serving
from meeting_server.store import db
from pathlib import Path
data = Path(sys.argv[1])
data.mkdir()
db.upgrade(db.database_url(data))  # a data directory a server has run on before: its schema at head
for name in [m for m in sys.modules if m == "alembic" or m.startswith("alembic.")]:
    del sys.modules[name]
app = _app(data)
print(json.dumps(sorted({name.split(".")[0] for name in sys.modules})))
"""


def test_serve_starts_without_the_workers_libraries(tmp_path: Path) -> None:
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    env.pop("MEETING_SERVER_DATA", None)
    done = subprocess.run([sys.executable, "-W", "ignore", "-c", SCRIPT, str(tmp_path / "data")], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-3000:]
    loaded = set(json.loads(done.stdout.strip().splitlines()[-1]))
    assert "flask" in loaded and "meeting_server" in loaded  # the app was built
    assert sorted(loaded & set(NOT_AT_START)) == []

