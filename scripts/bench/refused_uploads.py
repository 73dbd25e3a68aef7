#!/usr/bin/env python3
"""What a refused upload costs the server: its CPU per MB of a body it answers 413 (over the route's limit,
web/limits.py) without reading, then reads and drops so that the connection serves its next request
(web/serving.py, `DISCARD_CHUNK`). Beside it, the same uploads to a server that drops them as eventlet does by
itself, 16 kB per read (the floor this was measured against). CPU time of the server process, not wall time: the
figure holds on a busy machine too.

    .venv/bin/python scripts/bench/refused_uploads.py [--uploads 20] [--mb 60]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import requests

sys.path.insert(0, str(Path(__file__).resolve().parent))
import fanout as fo  # noqa: E402  (this directory's benches: a free port, starting a server)
from room_loop import wait_healthz  # noqa: E402

ROOT = fo.ROOT
#: `serve` with eventlet's own discard (16 kB per read): the floor.
EVENTLET_DISCARD = ("import warnings; warnings.filterwarnings('ignore', message='\\s*Eventlet is deprecated'); "
                    "import eventlet; eventlet.monkey_patch(); import sys; import meeting_server.web.serving as s; "
                    "s.DISCARD_CHUNK = 16 * 1024; from meeting_server.cli import main; "
                    "sys.argv[0] = 'meeting_server'; main()")


def cpu_s(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def run(uploads: int, mb: int, floor: bool) -> tuple[float, dict[int, int]]:
    """Server CPU ms per MB of `uploads` refused bodies of `mb` MB, sent one after another on one connection."""
    with tempfile.TemporaryDirectory(prefix="refused-") as data:
        port = fo.free_port()
        env = dict(os.environ, PYTHONPATH=str(ROOT))
        env.pop("MEETING_SERVER_DATA", None)
        head = ["-c", EVENTLET_DISCARD] if floor else ["-m", "meeting_server"]
        with open(Path(data) / "server.log", "ab") as log:  # the child keeps its own copy
            proc = subprocess.Popen([sys.executable, *head, "serve", "--host", "127.0.0.1", "--port", str(port),
                                     "--data-dir", data], cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
        try:
            url = f"http://127.0.0.1:{port}"
            wait_healthz(proc, url, Path(data))
            body = os.urandom(mb * 1024 * 1024)
            headers = {"Content-Type": "application/pdf", "Accept": "application/json"}
            with requests.Session() as http:
                http.post(url + "/verify", data=body, headers=headers, timeout=120)  # warm
                time.sleep(0.5)
                before = cpu_s(proc.pid)
                codes: dict[int, int] = {}
                for _ in range(uploads):
                    code = http.post(url + "/verify", data=body, headers=headers, timeout=120).status_code
                    codes[code] = codes.get(code, 0) + 1
                spent = cpu_s(proc.pid) - before
        finally:
            proc.terminate()
            proc.wait(30)
    return spent * 1000 / (uploads * mb), codes


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--uploads", type=int, default=20)
    ap.add_argument("--mb", type=int, default=60, help="size of each body (over /verify's 50 MB limit)")
    args = ap.parse_args()
    ours, codes = run(args.uploads, args.mb, floor=False)
    floor, floor_codes = run(args.uploads, args.mb, floor=True)
    print(f"| refused upload ({args.uploads} × {args.mb} MB to /verify) | server CPU per MB | answers |")
    print("|---|---|---|")
    print(f"| eventlet's discard, 16 kB per read (floor) | {floor:.2f} ms | {floor_codes} |")
    print(f"| web/serving.py, 1 MB per read | {ours:.2f} ms ({ours / floor:.2f}×) | {codes} |")


if __name__ == "__main__":
    main()
