#!/usr/bin/env python3
"""The room's loop under bad input, a restart and slow phones (issue #18's figures), each against a real server
started here on a fresh data directory, each figure printed beside the same figure measured in the same run with
nothing wrong (the "floor" of this bench):

  inflight      page-turn p99 at 50 phones and /healthz p99 while a ~453 kB XLSX roster bomb (6 million shared
                strings, built here), two hanging DOCX conversions (an image linked to a local address that accepts
                and never answers) and 12 `/verify` uploads are in flight, beside the same with nothing in flight
                (target: within 1.5×).
  reconnect     500 phones reconnecting at once after the server is SIGKILLed and started again: time until every
                phone has the current `state` (target ≤ 5 s) and the server's peak RSS; and what a `device_session`
                commit (one per connect) costs with FULL and with NORMAL sync on this disk, to see whether it
                dominates.
  slow-readers  10 phones that stop reading their socket among 200: page-turn p99 of the other 190 beside a run
                without them (target: within 1.5×), and the server's RSS over `--duration` seconds of it.

Page turns and phones are fanout.py's (bare-WebSocket Socket.IO clients spread over processes, the presenter of
the same kind, 120 ms between turns; shared/perf-floors.md). The machine is shared: compare ratios measured side by
side in one run, not absolute times. `--probe FILE` runs the server under loopprobe.py (what holds the loop, and
whether it ran or waited for a core); `--verify-signed` sends /verify a PDF signed twice (the validator's real work).

The in-flight load is sent from a process of its own, as from an attacker's laptop: sent from the bench's threads
(`--same-process`) it shared the presenter's GIL. `--keep-sending` sends each upload again as soon as it is
answered, for the whole run (a flood: on loopback some 260 uploads a second, far past what a room's Wi-Fi carries);
without it each is sent once, as the issue's figure says, and the slowest turns' times say when the load weighed.

    .venv/bin/python scripts/bench/room_loop.py inflight [--turns 150] [--rounds 3] [--verify-signed] [--probe F]
                                                         [--keep-sending] [--same-process]
    .venv/bin/python scripts/bench/room_loop.py reconnect [--phones 500]
    .venv/bin/python scripts/bench/room_loop.py slow-readers [--duration 300] [--phones 200] [--slow 10]
    .venv/bin/python scripts/bench/room_loop.py all
"""

from __future__ import annotations

import argparse
import io
import json
import multiprocessing as mp
import os
import random
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
import zipfile
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
import fanout as fo  # noqa: E402  (this directory's fan-out bench: clients, presenters, percentiles)

ROOT = fo.ROOT
PY = fo.PY


# --- the server -------------------------------------------------------------------------------------------------


#: Where loopprobe.py writes (`--probe FILE`): `serve` then runs under the loop-lag probe.
PROBE: list[Path] = []


def spawn(data: Path, port: int, profile: Path | None = None) -> subprocess.Popen[bytes]:
    """`serve` on `port`; under cProfile writing to `profile` when given (the stats are written at SIGTERM), under
    loopprobe.py with `--probe`."""
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    env.pop("MEETING_SERVER_DATA", None)
    prof = ["-m", "cProfile", "-o", str(profile)] if profile else []
    if PROBE:
        with open(data / "server.log", "ab") as log:
            return subprocess.Popen([PY, str(Path(__file__).resolve().parent / "loopprobe.py"), str(PROBE[0]),
                                     "serve", "--host", "127.0.0.1", "--port", str(port), "--data-dir", str(data)],
                                    cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
    with open(data / "server.log", "ab") as log:  # the child keeps its own copy
        return subprocess.Popen([PY, *prof, "-m", "meeting_server", "serve", "--host", "127.0.0.1", "--port", str(port),
                                 "--data-dir", str(data)], cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)


def wait_healthz(proc: subprocess.Popen[bytes], url: str, data: Path, limit: float = 60) -> None:
    import requests

    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"server exited: {(data / 'server.log').read_text()[-2000:]}")
        try:
            if requests.get(url + "/healthz", timeout=1).ok:
                return
        except requests.RequestException:
            pass
        time.sleep(0.1)
    proc.kill()
    raise SystemExit("server did not start")


def start(data: Path, port: int | None = None) -> tuple[subprocess.Popen[bytes], str, int]:
    port = port or fo.free_port()
    proc = spawn(data, port)
    url = f"http://127.0.0.1:{port}"
    wait_healthz(proc, url, data)
    return proc, url, port


def links(data: Path) -> dict[str, Any]:
    out = subprocess.check_output([PY, "-m", "meeting_server", "links", "--json", "--data-dir", str(data)], cwd=ROOT,
                                  env=dict(os.environ, PYTHONPATH=str(ROOT)))
    return dict(json.loads(out))


def tok(url: str) -> str:
    return url.rsplit("/", 1)[1]


def bearer(url: str) -> dict[str, str]:
    return {"Authorization": "Bearer " + tok(url)}


def delegates(url: str, data: Path, n: int) -> dict[str, Any]:
    """Make the meeting n people strong (as vote_storm.py does); the new links."""
    import requests

    lk = links(data)
    clerk = bearer(lk["clerk"])
    m = lk["meeting_id"]
    requests.patch(f"{url}/api/v1/meetings/{m}", json={"seated_count": n}, headers=clerk, timeout=30).raise_for_status()
    rows = [["STT", "Họ và tên", "Chức vụ", "Tổ đại biểu", "Vai trò"], ["1", "Chủ tọa Thử Nghiệm", "Chủ tịch HĐND",
                                                                    "Tổ 1", "Chủ tọa"]]
    rows += [[str(i), f"Đại biểu Số {i:03d}", "Đại biểu HĐND", f"Tổ {i % 10 + 1}", "Đại biểu"] for i in range(2, n + 1)]
    r = requests.put(f"{url}/api/v1/meetings/{m}/participants", json={"rows": rows}, headers=clerk, timeout=120)
    r.raise_for_status()
    lk = links(data)
    assert len(lk["delegates"]) == n, len(lk["delegates"])
    return lk


class Healthz:
    """/healthz polled from a thread every 50 ms (a fresh connection each time, as a monitoring probe does)."""

    def __init__(self, url: str) -> None:
        self.times: list[float] = []
        self.errors = 0
        self.stop_ev = threading.Event()
        self.thread = threading.Thread(target=self._run, args=(url,), daemon=True)
        self.thread.start()

    def _run(self, url: str) -> None:
        import requests

        while not self.stop_ev.is_set():
            t0 = time.perf_counter()
            try:
                ok = requests.get(url + "/healthz", timeout=120).ok
            except requests.RequestException:
                ok = False
            self.times.append((time.perf_counter() - t0) * 1000)
            self.errors += not ok
            self.stop_ev.wait(0.05)

    def stop(self) -> dict[str, Any]:
        self.stop_ev.set()
        self.thread.join(130)
        return health_figures(list(self.times), self.errors)


def health_figures(times: list[float], errors: int) -> dict[str, Any]:
    """/healthz's figures from its times (ms) and its failed polls."""
    return {"n": len(times), "p50": fo.pct(times, 50), "p99": fo.pct(times, 99),
            "max": max(times) if times else float("nan"), "errors": errors, "times": times}


class PatientPresenter(fo.RawPresenter):
    """fanout's raw presenter, waiting up to 10 minutes for an ack (a held loop must show as a long turn, not end
    the bench), and connecting again when the server dropped it (a loop held past the ping timeout does)."""

    def __init__(self, url: str, token: str, document_id: int, pages: int, pid: int) -> None:
        self.url, self.token, self.reconnects = url, token, 0
        self.document_id, self.pages, self.pid, self.acks = document_id, pages, pid, 0
        self._connect()

    def _connect(self) -> None:
        from websockets.sync.client import connect

        for attempt in range(20):
            try:
                self.ws = connect(self.url.replace("http://", "ws://") + "/socket.io/?EIO=4&transport=websocket",
                                  ping_interval=None, open_timeout=600)
                assert str(self.ws.recv(timeout=600)).startswith("0")
                self.ws.send("40" + json.dumps({"token": self.token}))
                while not str(self.ws.recv(timeout=600)).startswith("40"):
                    pass
                return
            except Exception as exc:  # the server refused or dropped the connection: try again, as a phone does
                print(f"presenter: connection {attempt + 1} failed: {exc}", file=sys.stderr)
                time.sleep(1.0)
        raise SystemExit("the presenter could not connect in 20 attempts")

    def turn(self, i: int) -> tuple[int, float]:
        from websockets.exceptions import ConnectionClosed

        t = time.time()
        for _attempt in range(3):
            self.acks += 1
            head = f"43{self.acks}["
            try:
                self.ws.send(f"42{self.acks}" + json.dumps(["present", {"document_id": self.document_id,
                                                                       "page": 1 + i % self.pages}]))
                while True:
                    msg = str(self.ws.recv(timeout=600))
                    if msg == "2":
                        self.ws.send("3")
                    elif msg.startswith(head):
                        ack = json.loads(msg[len(head) - 1:])[0]
                        assert ack.get("ok"), ack
                        return int(ack["seq"]), t
            except (ConnectionClosed, OSError):
                self.reconnects += 1
                self._connect()
        return -1, t  # a turn lost: not counted


def page_turns(url: str, proc: subprocess.Popen[bytes], n: int, turns: int, tokens: list[str], chair: str,
               doc_id: int, pages: int, load: Any = None) -> dict[str, Any]:
    """n phones and the presenter connected, then `load()` started (what must be in flight), then `turns` page
    turns 120 ms apart with /healthz polled throughout: fanout.run_level's figures, and /healthz's."""
    presenter = PatientPresenter(url, chair, doc_id, pages, proc.pid)
    g = fo.Clients("raw", url, n, tokens)
    try:
        g.wait_ready()
        time.sleep(1.0)
        if load is not None:
            load()
            time.sleep(1.0)
        probe = Healthz(url)
        emitted: dict[int, float] = {}
        stolen: dict[int, int] = {}
        machine = [0] * 8
        last = fo.cpu_times()
        for i in range(turns):
            seq, t_emit = presenter.turn(i)
            if seq >= 0:
                emitted[seq] = t_emit
            time.sleep(0.12)
            now = fo.cpu_times()
            delta = [b - a for a, b in zip(last, now, strict=True)]
            machine = [x + d for x, d in zip(machine, delta, strict=True)]
            stolen[seq] = delta[7]
            last = now
        health = probe.stop()
        time.sleep(1.0)
    finally:
        presenter.close()
        got = g.finish()
    warm = set(sorted(emitted)[3:])
    health["presenter_reconnects"] = presenter.reconnects
    e2r = [(recv - emitted[seq]) * 1000 for seq, _ts, recv in got if seq in warm]
    # When the slowest deliveries happened: each turn's worst, with the turn's time from the first warm one.
    first = min((emitted[seq] for seq in warm), default=0.0)
    worst: dict[int, float] = {}
    for seq, _ts, recv in got:
        if seq in warm:
            worst[seq] = max(worst.get(seq, 0.0), (recv - emitted[seq]) * 1000)
    slowest = sorted(((ms, emitted[seq] - first) for seq, ms in worst.items()), reverse=True)[:5]
    return {"n": n, "connected": g.connected, "received": len(e2r), "expected": g.connected * len(warm),
            "p50": fo.pct(e2r, 50), "p99": fo.pct(e2r, 99), "max": max(e2r) if e2r else float("nan"),
            "steal": fo.steal_pct(machine), "healthz": health, "slowest": slowest, "first": first, "e2r": e2r,
            "machine": machine}


def pooled(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """Several `page_turns` results as one: their deliveries and /healthz times together (the p99 of 3 × 150 turns
    is about their 5th slowest turn, where one run's is its 2nd: one stray delay decides it less)."""
    e2r = [x for r in runs for x in r["e2r"]]
    times = [x for r in runs for x in r["healthz"]["times"]]
    machine = [sum(col) for col in zip(*(r["machine"] for r in runs), strict=True)]
    health = health_figures(times, sum(r["healthz"]["errors"] for r in runs))
    health["presenter_reconnects"] = sum(r["healthz"]["presenter_reconnects"] for r in runs)
    return {"n": runs[0]["n"], "connected": runs[0]["connected"], "received": sum(r["received"] for r in runs),
            "expected": sum(r["expected"] for r in runs), "p50": fo.pct(e2r, 50), "p99": fo.pct(e2r, 99),
            "max": max(e2r) if e2r else float("nan"), "steal": fo.steal_pct(machine), "healthz": health,
            "slowest": sorted((s for r in runs for s in r["slowest"]), reverse=True)[:5], "e2r": e2r,
            "machine": machine}


def wait_quiet(pid: int, limit_s: float = 120.0) -> float:
    """Wait until the server and every process under it use under 3 % of a core over half a second (what the
    last in-flight load left, such as pages drawn ahead, done), so that the next floor is not measured beside it.
    Returns the seconds waited."""
    t0 = time.monotonic()

    def tree_cpu() -> float:
        total, todo = 0.0, [pid]
        while todo:
            p = todo.pop()
            try:
                total += fo.cpu_s(p)
            except (OSError, ValueError, IndexError):
                continue
            todo += fo.children(p)
        return total

    while time.monotonic() - t0 < limit_s:
        before = tree_cpu()
        time.sleep(0.5)
        if tree_cpu() - before < 0.015:
            break
    return time.monotonic() - t0


def turn_row(label: str, r: dict[str, Any], base: dict[str, Any] | None) -> str:
    ratio = f"{r['p99'] / base['p99']:.2f}×" if base else "1 (floor)"
    h = r["healthz"]
    hratio = f"{h['p99'] / base['healthz']['p99']:.2f}×" if base else "1 (floor)"
    return (f"| {label} | {r['connected']} | {r['received']}/{r['expected']} | {r['p50']:.1f} ms | {r['p99']:.1f} ms | "
            f"{ratio} | {r['max']:.0f} ms | {h['p50']:.1f} ms | {h['p99']:.1f} ms | {hratio} | {h['max']:.0f} ms | "
            f"{h['errors']}/{h['n']} | {h.get('presenter_reconnects', 0)} | {r['steal']:.1f}% |")


TURN_HEAD = ("| run | phones | received/expected | page turn p50 | p99 | p99 ÷ floor | max | /healthz p50 | p99 | "
             "p99 ÷ floor | max | /healthz failed | presenter dropped | CPU steal |\n"
             "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|")


def machine_note() -> str:
    load = Path("/proc/loadavg").read_text().split()[:3]
    return (f"{os.cpu_count()} cores, load average {' '.join(load)} at the end (the machine is shared with other "
            "work: compare the ratios, not the absolute times)")


# --- inflight ----------------------------------------------------------------------------------------------------


def xlsx_bomb(strings: int = 6_000_000) -> bytes:
    """A roster XLSX of ~453 kB whose sharedStrings.xml holds `strings` entries (~110 MB once inflated)."""
    parts = {
        "[Content_Types].xml": '<?xml version="1.0" encoding="UTF-8"?><Types xmlns="http://schemas.openxmlformats.org/'
        'package/2006/content-types"><Default Extension="rels" ContentType="application/vnd.openxmlformats-package.'
        'relationships+xml"/><Default Extension="xml" ContentType="application/xml"/><Override PartName="/xl/'
        'workbook.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/>'
        '<Override PartName="/xl/worksheets/sheet1.xml" ContentType="application/vnd.openxmlformats-officedocument.'
        'spreadsheetml.worksheet+xml"/><Override PartName="/xl/sharedStrings.xml" ContentType="application/vnd.'
        'openxmlformats-officedocument.spreadsheetml.sharedStrings+xml"/></Types>',
        "_rels/.rels": '<?xml version="1.0" encoding="UTF-8"?><Relationships xmlns="http://schemas.openxmlformats.org/'
        'package/2006/relationships"><Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/'
        '2006/relationships/officeDocument" Target="xl/workbook.xml"/></Relationships>',
        "xl/workbook.xml": '<?xml version="1.0" encoding="UTF-8"?><workbook xmlns="http://schemas.openxmlformats.org/'
        'spreadsheetml/2006/main" xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships">'
        '<sheets><sheet name="DS" sheetId="1" r:id="rId1"/></sheets></workbook>',
        "xl/_rels/workbook.xml.rels": '<?xml version="1.0" encoding="UTF-8"?><Relationships xmlns="http://schemas.'
        'openxmlformats.org/package/2006/relationships"><Relationship Id="rId1" Type="http://schemas.openxmlformats.'
        'org/officeDocument/2006/relationships/worksheet" Target="worksheets/sheet1.xml"/><Relationship Id="rId2" '
        'Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/sharedStrings" '
        'Target="sharedStrings.xml"/></Relationships>',
        "xl/worksheets/sheet1.xml": '<?xml version="1.0" encoding="UTF-8"?><worksheet xmlns="http://schemas.'
        'openxmlformats.org/spreadsheetml/2006/main"><sheetData><row r="1"><c r="A1" t="s"><v>0</v></c><c r="B1" '
        't="s"><v>1</v></c></row></sheetData></worksheet>',
    }
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as z:
        for name, text in parts.items():
            z.writestr(name, text)
        with z.open("xl/sharedStrings.xml", "w") as f:
            f.write(b'<?xml version="1.0" encoding="UTF-8"?><sst xmlns="http://schemas.openxmlformats.org/'
                    b'spreadsheetml/2006/main" count="%d" uniqueCount="%d">' % (strings, strings))
            for i in range(0, strings, 100_000):
                f.write(b"".join(b"<si><t>%d</t></si>" % (j % 29) for j in range(i, min(strings, i + 100_000))))
            f.write(b"</sst>")
    return buf.getvalue()


def hanging_docx(tarpit_port: int, tag: str) -> bytes:
    """A DOCX whose one picture is linked (not embedded) to a local address that accepts and never answers: a
    converter that fetches links hangs on it. Also a few hundred paragraphs of text."""
    w = "http://schemas.openxmlformats.org/wordprocessingml/2006/main"
    r = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
    a = "http://schemas.openxmlformats.org/drawingml/2006/main"
    pic = "http://schemas.openxmlformats.org/drawingml/2006/picture"
    wp = "http://schemas.openxmlformats.org/drawingml/2006/wordprocessingDrawing"
    drawing = (f'<w:p><w:r><w:drawing><wp:inline><wp:extent cx="3000000" cy="2000000"/><wp:docPr id="1" name="h"/>'
               f'<a:graphic><a:graphicData uri="{pic}"><pic:pic><pic:nvPicPr><pic:cNvPr id="1" name="h.png"/>'
               f'<pic:cNvPicPr/></pic:nvPicPr><pic:blipFill><a:blip r:link="rIdImg"/><a:stretch><a:fillRect/>'
               f'</a:stretch></pic:blipFill><pic:spPr><a:xfrm><a:off x="0" y="0"/><a:ext cx="3000000" cy="2000000"/>'
               f'</a:xfrm><a:prstGeom prst="rect"/></pic:spPr></pic:pic></a:graphicData></a:graphic></wp:inline>'
               f'</w:drawing></w:r></w:p>')
    paras = "".join(f"<w:p><w:r><w:t>Tờ trình {tag}, đoạn {i}: nội dung dự thảo nghị quyết.</w:t></w:r></w:p>"
                    for i in range(400))
    doc = (f'<?xml version="1.0" encoding="UTF-8" standalone="yes"?><w:document xmlns:w="{w}" xmlns:r="{r}" '
           f'xmlns:a="{a}" xmlns:pic="{pic}" xmlns:wp="{wp}"><w:body>{drawing}{paras}</w:body></w:document>')
    parts = {
        "[Content_Types].xml": '<?xml version="1.0" encoding="UTF-8"?><Types xmlns="http://schemas.openxmlformats.org/'
        'package/2006/content-types"><Default Extension="rels" ContentType="application/vnd.openxmlformats-package.'
        'relationships+xml"/><Default Extension="xml" ContentType="application/xml"/><Override PartName="/word/'
        'document.xml" ContentType="application/vnd.openxmlformats-officedocument.wordprocessingml.document.main+xml"'
        '/></Types>',
        "_rels/.rels": '<?xml version="1.0" encoding="UTF-8"?><Relationships xmlns="http://schemas.openxmlformats.org/'
        'package/2006/relationships"><Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/'
        '2006/relationships/officeDocument" Target="word/document.xml"/></Relationships>',
        "word/_rels/document.xml.rels": '<?xml version="1.0" encoding="UTF-8"?><Relationships xmlns="http://schemas.'
        'openxmlformats.org/package/2006/relationships"><Relationship Id="rIdImg" Type="http://schemas.openxmlformats.'
        f'org/officeDocument/2006/relationships/image" Target="http://127.0.0.1:{tarpit_port}/{tag}.png" '
        'TargetMode="External"/></Relationships>',
        "word/document.xml": doc,
    }
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        for name, text in parts.items():
            z.writestr(name, text)
    return buf.getvalue()


def signed_pdf(pdf: bytes, ca_dir: Path) -> bytes:
    """`pdf` signed twice as the minutes are (the secretary with the record embedded, then the chair), by a CA made
    in `ca_dir`: a /verify upload whose signatures the validator really checks."""
    from io import BytesIO

    from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
    from pyhanko.sign import fields

    from meeting_server.minutes import certs, sign, signer

    w = IncrementalPdfFileWriter(BytesIO(pdf), strict=False)
    for k, name in enumerate(("Sig_Secretary", "Sig_Chair")):
        fields.append_signature_field(w, fields.SigFieldSpec(name, on_page=0, box=(72 + 240 * k, 40,
                                                                                    272 + 240 * k, 100)))
    out = BytesIO()
    w.write(out)
    data = out.getvalue()
    ca = certs.ensure_local_ca(ca_dir, "xã Thử Nghiệm")
    record = json.dumps({"bench": "room_loop", "delegates": [f"Đại biểu {i}" for i in range(50)]}).encode()
    for role, field, embed in (("secretary", "Sig_Secretary", {"record_json": record, "audit_head": "5f2c" * 16}),
                               ("chair", "Sig_Chair", None)):
        certs.issue_signer(ca, role, f"Người ký {role}", "xã Thử Nghiệm")
        data = sign.sign_minutes(data, signer.from_server_identity(ca, role), field, reason="Ký biên bản",
                                 location="xã Thử Nghiệm", signer_name=f"Người ký {role}", embed=embed)
    return data


def tarpit() -> tuple[socket.socket, list[socket.socket]]:
    """A listening socket that accepts connections and never answers (kept open until the bench ends)."""
    srv = socket.socket()
    srv.bind(("127.0.0.1", 0))
    srv.listen(64)
    held: list[socket.socket] = []

    def run() -> None:
        while True:
            try:
                held.append(srv.accept()[0])
            except OSError:
                return

    threading.Thread(target=run, daemon=True).start()
    return srv, held


class Repeat:
    """`fn` called from a thread `times` times one after the other (or until stopped); keeps (seconds, outcome) of
    each call."""

    def __init__(self, fn: Any, times: int = 1) -> None:
        self.done: list[tuple[float, str]] = []
        self.stop_ev = threading.Event()
        self.started = 0

        def run() -> None:
            while not self.stop_ev.is_set() and self.started < times:
                t0 = time.monotonic()
                self.started += 1
                try:
                    out = str(fn())
                except Exception as exc:  # a refused or dropped request is an outcome too
                    out = type(exc).__name__
                self.done.append((time.monotonic() - t0, out))

        self.thread = threading.Thread(target=run, daemon=True)
        self.thread.start()

    def summary(self) -> str:
        self.stop_ev.set()
        outs: dict[str, int] = {}
        for _s, o in self.done:
            outs[o] = outs.get(o, 0) + 1
        longest = max((s for s, _o in self.done), default=0.0)
        return (f"{self.started} started, {len(self.done)} finished ({', '.join(f'{k}: {v}' for k, v in outs.items())}"
                f"{'; ' if outs else ''}longest {longest:.1f} s)")


def in_flight_load(url: str, m: int, clerk: dict[str, str], bomb: bytes, pdf: bytes, pit_port: int,
                   times: int = 1, round_no: int = 1) -> dict[str, Any]:
    """Start what must be in flight: two hanging DOCX uploads (they are accepted at once and convert in the
    background), the roster bomb PUT once, 12 clients each posting to /verify once, all at the same time (sent again
    and again, a held loop would make the run endless on today's code). Each round's DOCX are new bytes (a second
    upload of the same bytes would copy its twin instead of being converted)."""
    import requests

    docx_ids: list[Any] = []
    for tag in (f"to-trinh-a{round_no}", f"to-trinh-b{round_no}"):
        r = requests.post(f"{url}/api/v1/meetings/{m}/documents", headers=clerk, timeout=600,
                          files={"file": (f"{tag}.docx", hanging_docx(pit_port, tag))})
        docx_ids.append(r.json().get("id") if r.ok else f"HTTP {r.status_code}")
    xlsx = {"Content-Type": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"}
    bombs = Repeat(lambda: requests.put(f"{url}/api/v1/meetings/{m}/participants", data=bomb,
                                        headers=dict(clerk, **xlsx), timeout=600).status_code, times)
    verifies = [Repeat(lambda: requests.post(f"{url}/verify", files={"file": ("bien-ban.pdf", pdf)},
                                             headers={"Accept": "application/json"}, timeout=600).status_code,
                        times)
                for _ in range(12)]
    return {"bombs": bombs, "docx": docx_ids, "verifies": verifies}


def _attacker(url: str, m: int, clerk: dict[str, str], bomb: bytes, pdf: bytes, pit_port: int, times: int,
              round_no: int, conn: Any) -> None:
    """`in_flight_load` in a process of its own (the attacker's laptop): says when it is under way with the DOCX
    ids, and when told to stop, what each of its clients got."""
    load = in_flight_load(url, m, clerk, bomb, pdf, pit_port, times, round_no)
    conn.send(load["docx"])
    conn.recv()
    conn.send({"bombs": load["bombs"].summary(), "bombs_done": load["bombs"].done,
               "verifies": [(v.started, v.done, v.summary()) for v in load["verifies"]]})


class Attacker:
    """The in-flight load, from its own process or (`--same-process`, as the bench did first) from threads of the
    bench's process. Its threads then share the bench's GIL with the presenter and the /healthz probe: while 12
    uploads are encoded and sent, the presenter's send and the probe's timer wait for the GIL (a switch interval
    is 5 ms, the floor's whole p50), which the figures then charge to the server."""

    def __init__(self, same_process: bool, *load: Any) -> None:
        self.same_process = same_process
        if same_process:
            self.load = in_flight_load(*load)
            self.docx = self.load["docx"]
            return
        ctx = mp.get_context("spawn")
        self.conn, child = ctx.Pipe()
        self.proc = ctx.Process(target=_attacker, args=(*load, child), daemon=True)
        self.proc.start()
        self.docx = self.conn.recv()

    def finish(self) -> dict[str, Any]:
        if self.same_process:
            return {"bombs": self.load["bombs"].summary(), "bombs_done": self.load["bombs"].done,
                    "verifies": [(v.started, v.done, v.summary()) for v in self.load["verifies"]]}
        self.conn.send("stop")
        out: dict[str, Any] = self.conn.recv()
        self.proc.join(30)
        return out


def inflight(args: argparse.Namespace) -> list[str]:
    """`args.rounds` rounds on one server, each a floor run then an in-flight run with the load sent afresh; the
    figures of all rounds pooled, and each round's."""
    import requests

    out: list[str] = []
    rounds = 1 if PROBE else args.rounds  # the probe's phases are one floor and one in-flight run
    with tempfile.TemporaryDirectory(prefix="room-loop-a-") as tmp:
        data = Path(tmp)
        proc, url, _port = start(data)
        pit, held = tarpit()
        try:
            lk, doc_id = fo.prepare(url, data, args.pages)
            tokens = [tok(d["url"]) for d in lk["delegates"]]
            chair = tok(lk["chair"][0])
            clerk = bearer(lk["clerk"])
            bomb = xlsx_bomb()
            verify_pdf = data / "verify.pdf"
            fo.make_pdf(verify_pdf, args.verify_pages)
            pdf_bytes = verify_pdf.read_bytes()
            if args.verify_signed:
                pdf_bytes = signed_pdf(pdf_bytes, data / "bench-ca")
            m = lk["meeting_id"]
            floors: list[dict[str, Any]] = []
            loads: list[dict[str, Any]] = []
            said: list[tuple[dict[str, Any], list[str], float]] = []
            for round_no in range(1, rounds + 1):
                quiet = wait_quiet(proc.pid)
                print(f"inflight round {round_no}/{rounds}: floor ({args.phones} phones, {args.turns} turns, nothing "
                      f"in flight; {quiet:.1f} s to a quiet server)", file=sys.stderr)
                if PROBE:
                    proc.send_signal(signal.SIGUSR1)  # the probe's phase 0: start-up and preparation
                floors.append(page_turns(url, proc, args.phones, args.turns, tokens, chair, doc_id, args.pages))
                if PROBE:
                    proc.send_signal(signal.SIGUSR1)  # phase 1: the floor; what follows is in OUT.json
                quiet = wait_quiet(proc.pid)
                print(f"inflight round {round_no}/{rounds}: XLSX bomb, 2 hanging DOCX, 12 /verify in flight "
                      f"({quiet:.1f} s to a quiet server)", file=sys.stderr)
                pending: list[Attacker] = []

                def in_flight(round_no: int = round_no, pending: list[Attacker] = pending) -> None:
                    pending.append(Attacker(args.same_process, url, m, clerk, bomb, pdf_bytes, pit.getsockname()[1],
                                            10**9 if args.keep_sending else 1, round_no))

                t_in = time.monotonic()
                loads.append(page_turns(url, proc, args.phones, args.turns, tokens, chair, doc_id, args.pages,
                                        in_flight))
                window = time.monotonic() - t_in
                docx_ids, got = pending[0].docx, pending[0].finish()
                docs = []
                for d in docx_ids:
                    if isinstance(d, int):
                        j = requests.get(f"{url}/api/v1/documents/{d}", headers=clerk, timeout=600).json()
                        docs.append(f"{j.get('status')}{' (' + j['error'] + ')' if j.get('error') else ''}")
                    else:
                        docs.append(str(d))
                said.append((got, docs, window))
            out.append(f"## a. Bad input in flight ({args.phones} phones, {args.turns} page turns 120 ms apart "
                       f"per run; {rounds} rounds of a floor run then an in-flight run, the load sent afresh in each)")
            out.append(TURN_HEAD)
            if rounds > 1:
                out.append(turn_row(f"nothing in flight (floor), {rounds} rounds pooled", pooled(floors), None))
                out.append(turn_row(f"**XLSX bomb + 2 hanging DOCX + 12 /verify in flight, {rounds} rounds pooled**",
                                    pooled(loads), pooled(floors)))
            for i, (floor, loaded) in enumerate(zip(floors, loads, strict=True), start=1):
                tag = f", round {i}" if rounds > 1 else ""
                out.append(turn_row(f"nothing in flight (floor){tag}", floor, None))
                out.append(turn_row(f"XLSX bomb + 2 hanging DOCX + 12 /verify in flight{tag}", loaded, floor))
            out.append("")
            for i, (floor, loaded) in enumerate(zip(floors, loads, strict=True), start=1):
                for label, r in (("floor", floor), ("in flight", loaded)):
                    out.append(f"- slowest turns {label}{f' (round {i})' if rounds > 1 else ''}: "
                               + ", ".join(f"{ms:.0f} ms at {at:.1f} s" for ms, at in r["slowest"]))
            sender = "the bench's own threads (--same-process)" if args.same_process else "a process of its own"
            out.append(f"- in-flight load sent from {sender}")
            kind = "signed (twice, record embedded) " if args.verify_signed else ""
            for i, (got, docs, window) in enumerate(said, start=1):
                tag = f"round {i}: " if rounds > 1 else ""
                out.append(f"- {tag}XLSX bomb: {len(bomb) / 1024:.0f} kB, 6,000,000 shared strings; PUT participants "
                           f"once: {got['bombs']}")
                verifies = got["verifies"]
                outcomes: dict[str, int] = {}
                for _started, done, _said in verifies:
                    for _s, o in done:
                        outcomes[o] = outcomes.get(o, 0) + 1
                out.append(f"- {tag}/verify: 12 clients, each one upload of a {len(pdf_bytes) / 1e6:.1f} MB {kind}PDF: "
                           f"first client {verifies[0][2]}; all: {sum(v[0] for v in verifies)} started, "
                           f"{sum(len(v[1]) for v in verifies)} finished ({json.dumps(outcomes)})")
                out.append(f"- {tag}DOCX with a picture linked to a tarpit: status after the {window:.0f} s window: "
                           f"{', '.join(docs)}")
            out.append(f"- connections the tarpit received: {len(held)}")
            out.append(f"- server RSS at the end {fo.rss_mb(proc.pid):.0f} MB (+{fo.children_rss_mb(proc.pid):.0f} MB "
                       f"in {len(fo.children(proc.pid))} child processes); {machine_note()}")
        finally:
            fo.stop_server(proc)
            pit.close()
            for c in held:
                c.close()
    return out


# --- reconnect ---------------------------------------------------------------------------------------------------


def live_js_backoff() -> tuple[float, float, float]:
    """(first delay, longest delay, randomization factor) of the pages' reconnection, as static/js/live.js sets
    them (seconds; socket.io-client's defaults where live.js sets none)."""
    import re

    js = (ROOT / "static" / "js" / "live.js").read_text(encoding="utf-8")
    first = re.search(r"reconnectionDelay:\s*(\d+)", js)
    most = re.search(r"reconnectionDelayMax:\s*(\d+)", js)
    jitter = re.search(r"randomizationFactor:\s*([\d.]+)", js)
    return ((int(first.group(1)) / 1000 if first else 1.0), (int(most.group(1)) / 1000 if most else 5.0),
            (float(jitter.group(1)) if jitter else 0.5))


def reconnecting_phones(url: str, tokens: list[str], ready: Any, results: Any, stop: Any,
                        send_digest: bool = True) -> None:
    """One process of phones, one thread each (blocked in recv nearly all the time): connect (Engine.IO 4 /
    Socket.IO 5 over a bare WebSocket), keep every `state`'s (time, seq), answer pings, and when the connection
    drops reconnect as socket.io-client does in live.js (its reconnectionDelay doubling to its reconnectionDelayMax,
    ± its randomizationFactor at random; all read from static/js/live.js).

    As live.js, a phone that has a snapshot sends its digest with its token (`send_digest`); the server then sends
    no `state` when it has not changed (realtime/session.py), and its connect acknowledgement (`40{"sid"…}`, sent
    after whatever the connect handler emitted) says the phone's snapshot is the current one: recorded as a `state`
    of the seq it had. A phone's list of arrivals has (time, seq, whether by digest)."""
    first_delay, max_delay, jitter = live_js_backoff()
    ws_url = url.replace("http://", "ws://") + "/socket.io/?EIO=4&transport=websocket"
    got: list[list[tuple[float, int, bool]]] = [[] for _ in tokens]
    tries: list[list[float]] = [[] for _ in tokens]  # when each phone tried to connect: the backoff floor
    first = threading.Semaphore(0)

    def phone(k: int, token: str) -> None:
        attempt = 0
        announced = False
        seq, digest = -1, None
        while not stop.is_set():
            try:
                tries[k].append(time.time())
                ws = fo.BareSocket(ws_url)
                ws.sock.settimeout(20.0)  # socket.io-client's connect timeout (its `timeout` option, 20 s)
                assert ws.recv().startswith(b"0")
                ws.sock.settimeout(1.0)
                auth: dict[str, Any] = {"token": token}
                if send_digest and digest:
                    auth["digest"] = digest
                ws.send(b"40" + json.dumps(auth).encode())
                attempt = 0
                fresh = False  # a state came on this connection
                while not stop.is_set():
                    try:
                        msg = ws.recv()
                    except TimeoutError:
                        continue
                    if msg == b"2":
                        ws.send(b"3")
                    elif msg.startswith(b'42["state"'):
                        state = json.loads(msg[2:])[1]
                        seq, digest, fresh = int(state["seq"]), state.get("digest"), True
                        got[k].append((time.time(), seq, False))
                        if not announced:
                            announced = True
                            first.release()
                    elif msg.startswith(b"40") and not fresh and "digest" in auth:
                        got[k].append((time.time(), seq, True))  # the server found our snapshot current
                    elif msg.startswith(b"44"):
                        raise ConnectionError(msg.decode()[:200])
                ws.close()
                return
            except (OSError, ConnectionError, AssertionError):
                # socket.io-client's Backoff.duration(): the doubled delay ± the randomization factor at random,
                # then capped at the max
                delay = first_delay * 2 ** attempt
                attempt += 1
                stop.wait(min(delay * (1 + random.uniform(-jitter, jitter)), max_delay))

    threads = []
    for i, t in enumerate(tokens):
        th = threading.Thread(target=phone, args=(i, t), daemon=True)
        th.start()
        threads.append(th)
        if i % 25 == 24:
            time.sleep(0.2)  # the first connections in bursts, as the room fills
    for _ in tokens:
        first.acquire()
    ready.put(len(tokens))
    stop.wait()
    for th in threads:
        th.join(5)
    results.put((got, tries))


def commit_cost(db_file: Path, n: int) -> dict[str, float]:
    """What n one-row commits of a device_session-like table cost on this disk, FULL and NORMAL sync (WAL)."""
    out = {}
    for mode in ("FULL", "NORMAL"):
        path = db_file.parent / f"commit-{mode}.db"
        conn = sqlite3.connect(path, isolation_level=None)
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute(f"PRAGMA synchronous={mode}")
        conn.execute("CREATE TABLE d (sid TEXT PRIMARY KEY, participant_id INT, pid INT, connected_at TEXT)")
        t0 = time.perf_counter()
        for i in range(n):
            conn.execute("BEGIN")
            conn.execute("INSERT OR REPLACE INTO d VALUES (?, ?, ?, ?)", (f"sid{i}", i, 1, "2026-01-01T00:00:00"))
            conn.execute("COMMIT")
        out[mode] = (time.perf_counter() - t0) * 1000
        conn.close()
    return out


def reconnect(args: argparse.Namespace) -> list[str]:
    import requests

    out: list[str] = []
    n = args.reconnect_phones
    with tempfile.TemporaryDirectory(prefix="room-loop-b-") as tmp:
        data = Path(tmp)
        proc, url, port = start(data)
        try:
            lk = delegates(url, data, n)
            tokens = [tok(d["url"]) for d in lk["delegates"]]
            ctx = mp.get_context("spawn")
            ready, results, stop = ctx.Queue(), ctx.Queue(), ctx.Event()
            k = fo.spread(n)
            procs = [ctx.Process(target=reconnecting_phones,
                                 args=(url, tokens[i::k], ready, results, stop, not args.no_digest))
                     for i in range(k)]
            for p in procs:
                p.start()
            connected = sum(ready.get(timeout=300) for _ in procs)
            time.sleep(2.0)
            rss_before = fo.rss_mb(proc.pid)
            print(f"reconnect: {connected} phones connected; SIGKILL and start again", file=sys.stderr)
            t_kill = time.time()
            proc.send_signal(signal.SIGKILL)
            proc.wait(30)
            t_spawn = time.time()
            proc = spawn(data, port, data / "server.prof" if args.profile else None)
            t_listen = None
            serving: list[float] = []

            def first_answer() -> None:  # the first /healthz answered: the server serves (it may listen before)
                while not serving and time.time() - t_spawn < args.reconnect_wait:
                    try:
                        if requests.get(url + "/healthz", timeout=10).ok:
                            serving.append(time.time())
                    except requests.RequestException:
                        time.sleep(0.02)

            threading.Thread(target=first_answer, daemon=True).start()
            peak = 0.0
            cpu_serving = float("nan")
            health: Healthz | None = None  # /healthz every 50 ms from the first answer on: does it queue behind them?
            health_until = t_spawn + 12.0  # the reconnection, not the quiet after it
            while time.time() - t_spawn < args.reconnect_wait:
                if health is None and serving:
                    health = Healthz(url)
                    cpu_serving = fo.cpu_s(proc.pid)  # the start's CPU, apart from the crowd's
                if health is not None and not health.stop_ev.is_set() and time.time() > health_until:
                    health.stop_ev.set()
                if t_listen is None:
                    try:
                        socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                        t_listen = time.time()
                    except OSError:
                        pass
                try:
                    peak = max(peak, fo.rss_mb(proc.pid))
                except OSError:
                    break
                time.sleep(0.02)
            cpu_storm = fo.cpu_s(proc.pid)
            hz = health.stop() if health is not None else None
            seq_now = requests.get(f"{url}/api/v1/meetings/{lk['meeting_id']}", headers=bearer(lk["clerk"]),
                                   timeout=30).json().get("seq")
            stop.set()
            got_marked: list[list[tuple[float, int, bool]]] = []
            tries: list[list[float]] = []
            for _ in procs:
                g, tr = results.get(timeout=120)
                got_marked.extend(g)
                tries.extend(tr)
            by_digest = sum(1 for g in got_marked if any(t > t_kill and d for t, _s, d in g))
            got = [[(t, s) for t, s, _d in g] for g in got_marked]
            for p in procs:
                p.join(30)
            after = [[t for t, s in g if t > t_kill] for g in got]
            seqs_after = [[s for t, s in g if t > t_kill] for g in got]
            firsts = sorted(a[0] for a in after if a)
            current = seq_now if isinstance(seq_now, int) else max((s[-1] for s in seqs_after if s), default=-1)
            has_current = sorted(min(t for t, s in g if t > t_kill and s >= current)
                                 for g in got if any(t > t_kill and s >= current for t, s in g))
            missing = n - len(has_current)
            costs = commit_cost(data / "meeting.db", n)
            log = (data / "server.log").read_text(errors="replace")
            refused = log.count("Traceback")
            out.append(f"## b. {n} phones reconnecting at once after SIGKILL and a start"
                       + (" (phones sending no digest)" if args.no_digest else ""))
            out.append("| measured from | first phone with `state` | half | every phone with the current `state` | "
                       "phones without it |")
            out.append("|---|---|---|---|---|")
            t_serving = serving[0] if serving else float("nan")
            for label, t0 in (("SIGKILL", t_kill), ("start of the new process", t_spawn),
                              ("its socket listening", t_listen or float("nan")),
                              ("its first /healthz answer", t_serving)):
                last = f"{has_current[-1] - t0:.2f} s" if has_current and missing == 0 else "not all"
                out.append(f"| {label} | {firsts[0] - t0:.2f} s | {fo.pct([f - t0 for f in has_current], 50):.2f} s | "
                           f"{last} | {missing} |" if firsts else f"| {label} | - | - | - | {missing} |")
            out.append("")
            out.append(f"- the new process: listening {(t_listen or float('nan')) - t_spawn:.2f} s after its start "
                       f"(connections are queued by the kernel from then on), serving (first /healthz answer) "
                       f"{t_serving - t_spawn:.2f} s after it")
            # The floor: a phone cannot have its state before it tries again, which its backoff (live.js's, see
            # live_js_backoff) decides, not the server. Each phone's first try after the socket listens, the last one's.
            if t_listen is not None:
                first_try = sorted(min(x for x in tr if x >= t_listen) - t_listen
                                   for tr in tries if any(x >= t_listen for x in tr))
                last_try = max(first_try, default=float("nan"))
                out.append(f"- floor (the phones' own backoff): the last phone's first try after the socket listens "
                           f"came {last_try:.2f} s after it (half {fo.pct(first_try, 50):.2f} s)")
                # The server's part: each phone from its first try after the socket listens to its current state.
                served = sorted(min(x for x, s in g if x > t_listen and s >= current)
                                - min(x for x in tr if x >= t_listen)
                                for g, tr in zip(got, tries, strict=True)
                                if any(x >= t_listen for x in tr) and any(x > t_listen and s >= current for x, s in g))
                if served:
                    out.append(f"- the server's part, each phone from that first try to its current `state`: half "
                               f"{fo.pct(served, 50):.2f} s, p99 {fo.pct(served, 99):.2f} s, worst {served[-1]:.2f} s")
            if hz is not None:
                out.append(f"- /healthz polled every 50 ms from its first answer to 12 s after the start: p50 "
                           f"{hz['p50']:.0f} ms, p99 {hz['p99']:.0f} ms, worst {hz['max']:.0f} ms over {hz['n']} "
                           f"polls, {hz['errors']} failed")
            out.append(f"- phones whose digest matched after the start (no `state` sent, as live.js): {by_digest} "
                       f"of {n}" + (" (--no-digest: none sent one)" if args.no_digest else ""))
            out.append(f"- server RSS: {rss_before:.0f} MB with {connected} phones before the kill; peak {peak:.0f} MB "
                       f"during the reconnection (sampled every 20 ms for {args.reconnect_wait:.0f} s)")
            out.append(f"- the current seq {current}; tracebacks in the server log: {refused}; the new server's CPU "
                       f"from its start to the end of the {args.reconnect_wait:.0f} s window: {cpu_storm:.1f} s, of "
                       f"which {cpu_serving:.1f} s before it first served (the start) and "
                       f"{cpu_storm - cpu_serving:.1f} s after (the crowd, and the phones' pings)")
            out.append(f"- one device_session commit per connect: {n} one-row commits on this disk take "
                       f"{costs['FULL']:.0f} ms with synchronous=FULL, {costs['NORMAL']:.0f} ms with NORMAL (WAL; this "
                       "VM's fsync is nearly free: a mini-PC's SSD takes 0.5-2 ms per fsync, shared/perf-floors.md)")
            out.append(f"- {machine_note()}")
        finally:
            fo.stop_server(proc)
            if args.profile and (data / "server.prof").exists():
                import pstats

                # Own time: green threads switch inside each other's frames, so cumulative times mean little.
                shutil.copy(data / "server.prof", "/tmp/room-loop-reconnect.prof")
                print("profile kept at /tmp/room-loop-reconnect.prof", file=sys.stderr)
                pstats.Stats(str(data / "server.prof")).sort_stats("tottime").print_stats(45)
    return out


# --- slow readers ------------------------------------------------------------------------------------------------


def stalled_phones(url: str, tokens: list[str], ready: Any, results: Any, stop: Any) -> None:
    """Phones that connect (small receive buffer, as a busy phone's) and then never read their socket again."""
    ws_url = url.replace("http://", "ws://") + "/socket.io/?EIO=4&transport=websocket"
    socks = []
    for token in tokens:
        ws = fo.BareSocket(ws_url)
        ws.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        assert ws.recv().startswith(b"0")
        ws.send(b"40" + json.dumps({"token": token}).encode())
        while not ws.recv().startswith(b"40"):
            pass
        socks.append(ws)
    ready.put(len(socks))
    stop.wait()
    closed = 0
    for ws in socks:  # whether the server hung up on it meanwhile (EOF or reset once the unread data is skipped)
        try:
            ws.sock.setblocking(False)
            while True:
                chunk = ws.sock.recv(1 << 20)
                if not chunk:
                    closed += 1
                    break
        except BlockingIOError:
            pass
        except OSError:
            closed += 1
    results.put(closed)
    for ws in socks:
        ws.sock.close()


def slow_readers(args: argparse.Namespace) -> list[str]:
    import requests

    out: list[str] = []
    readers = args.phones - args.slow
    turns_slow = int(args.duration / 0.12)
    turns_floor = max(args.turns, int(min(args.duration, 120) / 0.12))  # as long as the other, up to 2 minutes
    with tempfile.TemporaryDirectory(prefix="room-loop-c-") as tmp:
        data = Path(tmp)
        proc, url, _port = start(data)
        try:
            lk, doc_id = fo.prepare(url, data, args.pages)
            tokens = [tok(d["url"]) for d in lk["delegates"]]
            chair = tok(lk["chair"][0])
            print(f"slow-readers: floor ({readers} phones reading, {turns_floor} turns)", file=sys.stderr)
            floor = page_turns(url, proc, readers, turns_floor, tokens, chair, doc_id, args.pages)
            rss_floor = fo.rss_mb(proc.pid)
            ctx = mp.get_context("spawn")
            ready, results, stop = ctx.Queue(), ctx.Queue(), ctx.Event()
            sp = ctx.Process(target=stalled_phones, args=(url, tokens[: args.slow], ready, results, stop))
            sp.start()
            ready.get(timeout=120)
            print(f"slow-readers: {args.slow} stalled + {readers} reading, {turns_slow} turns "
                  f"(~{turns_slow * 0.12:.0f} s)", file=sys.stderr)
            rss_series: list[tuple[float, float]] = []
            sampling = threading.Event()

            def sample() -> None:
                t0 = time.monotonic()
                while not sampling.wait(10):
                    rss_series.append((time.monotonic() - t0, fo.rss_mb(proc.pid)))

            threading.Thread(target=sample, daemon=True).start()
            rss_start = fo.rss_mb(proc.pid)
            slow = page_turns(url, proc, readers, turns_slow, tokens, chair, doc_id, args.pages)
            sampling.set()
            rss_end = fo.rss_mb(proc.pid)
            health = requests.get(url + "/healthz", timeout=30).json()
            stop.set()
            hung_up = results.get(timeout=120)
            sp.join(30)
            out.append(f"## c. {args.slow} phones that stop reading among {args.phones}")
            out.append(TURN_HEAD)
            out.append(turn_row(f"{readers} reading, nobody stalled (floor, {turns_floor} turns)", floor, None))
            out.append(turn_row(f"{readers} reading beside {args.slow} stalled ({turns_slow} turns, "
                                f"{turns_slow * 0.12:.0f} s)", slow, floor))
            out.append("")
            series = ", ".join(f"{t:.0f} s: {r:.0f}" for t, r in rss_series)
            out.append(f"- server RSS: {rss_floor:.0f} MB after the floor run; {rss_start:.0f} MB as the stalled "
                       f"phones began; {rss_end:.0f} MB after {turns_slow * 0.12:.0f} s of them "
                       f"(every 10 s, MB: {series})")
            out.append(f"- stalled phones the server had hung up on by the end: {hung_up}/{args.slow}; /healthz's "
                       f"transport counts at the end: {json.dumps(health.get('websocket_frames', health))[:300]}")
            out.append(f"- {machine_note()}")
        finally:
            fo.stop_server(proc)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("which", choices=["inflight", "reconnect", "slow-readers", "all"])
    ap.add_argument("--turns", type=int, default=150, help="page turns of each floor run (and of the inflight run)")
    ap.add_argument("--rounds", type=int, default=3,
                    help="inflight: floor and in-flight runs, the load sent afresh in each round (1 with --probe)")
    ap.add_argument("--pages", type=int, default=20, help="pages of the document turned")
    ap.add_argument("--phones", type=int, default=None, help="phones: 50 for inflight, 200 for slow-readers")
    ap.add_argument("--verify-pages", type=int, default=200, help="pages of the PDF sent to /verify")
    ap.add_argument("--verify-signed", action="store_true",
                    help="inflight: sign the /verify PDF twice first (the validator then checks two signatures)")
    ap.add_argument("--same-process", action="store_true",
                    help="inflight: send the load from the bench's own threads (sharing the presenter's GIL), as first")
    ap.add_argument("--keep-sending", action="store_true",
                    help="inflight: each client sends its upload again as soon as it is answered, for the whole run")
    ap.add_argument("--reconnect-phones", type=int, default=500)
    ap.add_argument("--reconnect-wait", type=float, default=30.0, help="seconds to watch the reconnection")
    ap.add_argument("--profile", action="store_true", help="reconnect: run the restarted server under cProfile")
    ap.add_argument("--no-digest", action="store_true",
                    help="reconnect: the phones send no digest (every phone is sent a full `state`)")
    ap.add_argument("--probe", type=Path, default=None,
                    help="run the server under loopprobe.py, writing to this file (and .0, .1 … for phases)")
    ap.add_argument("--slow", type=int, default=10)
    ap.add_argument("--duration", type=float, default=300.0, help="seconds of page turns beside the stalled phones")
    args = ap.parse_args()
    import warnings

    warnings.filterwarnings("ignore", "connect\\(\\) must be used as a context manager", DeprecationWarning)
    if args.probe:
        PROBE.append(args.probe.resolve())
    report: list[str] = []
    if args.which in ("inflight", "all"):
        args.phones = args.phones or 50
        report += inflight(args) + [""]
        args.phones = None
    if args.which in ("reconnect", "all"):
        report += reconnect(args) + [""]
    if args.which in ("slow-readers", "all"):
        args.phones = args.phones or 200
        report += slow_readers(args) + [""]
    print("\n".join(report))


if __name__ == "__main__":
    main()
