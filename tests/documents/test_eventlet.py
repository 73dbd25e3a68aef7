"""The pool inside an eventlet server: waiting for pages must block only the waiting green thread."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from tests.documents.conftest import VI_SAMPLES

SCRIPT = Path(__file__).with_name("eventlet_pool_script.py")
ROOT = Path(__file__).resolve().parents[2]


def test_rendering_never_delays_a_ticking_green_thread() -> None:
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])))
    env["PYTHONWARNINGS"] = "ignore"  # eventlet announces its deprecation on import
    out = subprocess.run(
        [sys.executable, str(SCRIPT), *map(str, VI_SAMPLES[:3])],
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
        cwd=ROOT,
    )
    assert out.returncode == 0, out.stderr[-3000:]
    report = json.loads(out.stdout.strip().splitlines()[-1])
    pages = sum(
        {"ke-hoach-cds-dong-le.pdf": 6, "ke-hoach-cds-loi-bac.pdf": 6, "ke-hoach-cds-phuc-loi.pdf": 7}[p.name]
        for p in VI_SAMPLES[:3]
    )
    assert report["rendered"] == 2 * pages + 1
    assert report["timeout_code"] == "doc.timeout"
    assert report["ticks"] > 50
    # Time spent waiting for a CPU on a busy machine is not the loop being blocked: it is taken out.
    assert report["max_blocked_ms"] < 100, report
