#!/usr/bin/env python3
"""A delegate's first usable screen on a slow link (issue #21, "Bytes to the phones"), beside the floor of the
same link measured in the same run.

The link: ~1 Mbit/s each way and 150 ms latency, chromium's own network emulation
(`Network.emulateNetworkConditions` over CDP: each request's answer waits at least the latency, and the bytes flow
at the throughput), on a phone-sized page (360×740). The server is a real `serve` on loopback with the demo
meeting, started here on a fresh data directory.

"First usable" is the first moment at which all of these hold on the delegate's page (tested every 10 ms inside
the page, timed by `performance.now()`, whose origin is the start of the navigation, the join link's redirect
included):
  - the delegate's name is shown (`[data-bind=me_name]` has text and is visible),
  - the agenda is shown (`[data-bind=agenda]` has at least one item and is visible),
  - the Socket.IO connection is up (the connection line says "Đã kết nối": live.js writes it on `connect`, after
    the server's `state` can arrive), and the page's styles are applied (the name card has its border radius).

Figures, each the median of `--runs` runs:
  cold    a fresh browser context (no cache, no cookie) opens the card's join link `/j/<token>`: the redirect,
          the page, its styles and scripts, the WebSocket. Issue's figure on the old main: 1.97 s, 149 KiB.
  warm    the same context reloads the page (what a phone does when the delegate pulls to refresh or comes back
          to the tab). Old main: 2.15 s.
  no link the delegate's page cold and warm on loopback without emulation: what the server and the browser
          cost on this machine, the link aside (on a loaded machine this, not the link, dominates).
  floor   a bare HTML page of a few hundred bytes with no script or style, from a plain HTTP server on the same
          machine under the same emulation, cold and then reloaded: what no page can beat on this link.
Bytes are what crossed the (emulated) wire, headers included (CDP's encodedDataLength), for the whole load: what
the page fetches after its first screen (the delegate page's later bundle and its strings) included. `--waterfall`
prints each request of the first cold and warm run.

    .venv/bin/python scripts/bench/phone_first_screen.py [--runs 5] [--kbps 1000] [--latency 150] [--waterfall]
"""

from __future__ import annotations

import argparse
import http.server
import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
PY = sys.executable
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run", "--disable-dev-shm-usage"]
PHONE = {"viewport": {"width": 360, "height": 740}, "device_scale_factor": 2, "is_mobile": True, "has_touch": True}

#: Evaluated in the page every 10 ms: the time (ms since the navigation started) when the screen became usable.
USABLE = """() => {
  var vis = function (e) { return !!e && e.offsetParent !== null && e.getBoundingClientRect().height > 0; };
  var name = document.querySelector('[data-bind=me_name]');
  var agenda = document.querySelector('[data-bind=agenda]');
  var conn = document.querySelector('[data-bind=connection]');
  var card = document.querySelector('.hello');
  var styled = !!card && getComputedStyle(card).borderTopLeftRadius !== '0px';
  if (vis(name) && name.textContent.trim() && vis(agenda) && agenda.querySelector('li') && conn &&
      conn.textContent.indexOf('Đã kết nối') >= 0 && styled) return performance.now();
  return false;
}"""
BARE = "<!doctype html><html lang=vi><meta charset=utf-8><title>floor</title><p>Sàn đo: trang trống.</p></html>"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start_server(data: Path) -> tuple[subprocess.Popen[bytes], str, str]:
    """`serve` with the demo meeting; returns the process, its URL and a delegate's join path (/j/<token>)."""
    port = free_port()
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    env.pop("MEETING_SERVER_DATA", None)
    env.pop("MEETING_SERVER_STATIC_CACHE", None)
    log = open(data / "server.log", "ab")  # noqa: SIM115 (the child keeps it)
    proc = subprocess.Popen([PY, "-m", "meeting_server", "serve", "--host", "127.0.0.1", "--port", str(port),
                             "--data-dir", str(data)], cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    import urllib.request

    deadline = time.monotonic() + 60
    while True:
        try:
            with urllib.request.urlopen(url + "/healthz", timeout=1) as r:
                if r.status == 200:
                    break
        except OSError:
            pass
        if proc.poll() is not None or time.monotonic() > deadline:
            proc.kill()
            raise SystemExit(f"server did not start:\n{(data / 'server.log').read_text()[-2000:]}")
        time.sleep(0.2)
    out = subprocess.run([PY, "-m", "meeting_server", "links", "--json", "--data-dir", str(data)], cwd=ROOT,
                         env=env, capture_output=True, text=True, check=True)
    links = json.loads(out.stdout)
    delegate = next(d["url"] for d in links["delegates"] if d["role"] == "delegate")
    return proc, url, "/j/" + delegate.rsplit("/j/", 1)[1]


def floor_server() -> tuple[http.server.ThreadingHTTPServer, str]:
    class Bare(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 (http.server's name)
            body = BARE.encode()
            self.send_response(200)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.send_header("Content-Length", str(len(body)))
            self.send_header("Cache-Control", "no-cache")
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: Any) -> None:
            pass

    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Bare)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    return httpd, f"http://127.0.0.1:{httpd.server_address[1]}/"


class Link:
    """One page on the emulated link, counting the bytes that crossed it."""

    def __init__(self, browser: Any, kbps: int, latency: int) -> None:
        self.ctx = browser.new_context(**PHONE, locale="vi-VN")
        self.page = self.ctx.new_page()
        self.page.set_default_timeout(60_000)
        self.cdp = self.ctx.new_cdp_session(self.page)
        self.cdp.send("Network.enable")
        if kbps:  # 0: loopback as it is (what the server and the browser cost without the link)
            rate = kbps * 1000 / 8
            self.cdp.send("Network.emulateNetworkConditions", {
                "offline": False, "latency": latency, "downloadThroughput": rate, "uploadThroughput": rate})
        self.bytes = 0
        self.last_finished = time.monotonic()
        self.cdp.on("Network.loadingFinished", self._finished)
        self.cdp.on("Network.webSocketFrameReceived", self._frame)
        self.events: list[tuple[str, dict[str, Any]]] = []
        for name in ("requestWillBeSent", "responseReceived", "loadingFinished", "loadingFailed", "webSocketCreated",
                     "webSocketWillSendHandshakeRequest", "webSocketHandshakeResponseReceived",
                     "webSocketFrameSent", "webSocketFrameReceived", "webSocketClosed"):
            self.cdp.on("Network." + name, lambda e, n=name: self.events.append((n, e)))

    def _finished(self, event: dict[str, Any]) -> None:
        self.bytes += int(event.get("encodedDataLength", 0))
        self.last_finished = time.monotonic()

    def _frame(self, event: dict[str, Any]) -> None:
        self.bytes += len(event.get("response", {}).get("payloadData", ""))

    def until_usable(self, go: Any) -> tuple[float, int]:
        """Seconds to the first usable screen, and the bytes of the whole load: what the page fetches after it
        (the delegate page's later bundle) too, so that nothing still coming is counted in the next figure."""
        self.bytes = 0
        self.events = []
        go()
        ms = self.page.wait_for_function(USABLE, polling=10).json_value()
        self.last_finished = time.monotonic()
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and time.monotonic() - self.last_finished < 0.8:
            self.page.wait_for_timeout(100)  # lets the CDP events in
        return ms / 1000, self.bytes

    def until_loaded(self, go: Any) -> tuple[float, int]:
        self.bytes = 0
        go()
        ms = self.page.evaluate("() => performance.getEntriesByType('navigation')[0].responseEnd")
        return ms / 1000, self.bytes

    def close(self) -> None:
        self.ctx.close()


def waterfall(events: list[tuple[str, dict[str, Any]]], usable: float) -> list[str]:
    """One line per request (and per WebSocket frame), in ms from the navigation's first request: when it was
    asked for, when its answer's headers came, when its last byte came, and the bytes on the wire."""
    t0: float | None = None
    rows: dict[str, dict[str, Any]] = {}
    order: list[str] = []
    lines: list[str] = []
    ms = 0.0
    for name, e in events:
        ts = e.get("timestamp")
        if ts is not None:  # webSocketCreated has none: it is placed at the last event's time
            if t0 is None:
                t0 = ts
            ms = (ts - t0) * 1000
        elif t0 is None:
            continue
        rid = e.get("requestId", "")
        if name == "requestWillBeSent":
            if e.get("redirectResponse") and rid in rows:  # the same id goes on after a redirect
                rows[rid]["status"] = e["redirectResponse"].get("status")
                rows[rid]["done"] = ms
                rows[rid + "~"] = rows.pop(rid)
                order[order.index(rid)] = rid + "~"
            rows[rid] = {"url": e["request"]["url"], "start": ms, "what": e.get("type", "")}
            order.append(rid)
        elif name == "responseReceived" and rid in rows:
            rows[rid].update(head=ms, status=e["response"].get("status"),
                             cache=e["response"].get("fromDiskCache") or e["response"].get("fromMemoryCache"))
        elif name == "loadingFinished" and rid in rows:
            rows[rid].update(done=ms, bytes=int(e.get("encodedDataLength", 0)))
        elif name == "loadingFailed" and rid in rows:
            rows[rid].update(done=ms, status="failed")
        elif name == "webSocketCreated":
            rows[rid] = {"url": e.get("url", ""), "start": ms, "what": "WebSocket"}
            order.append(rid)
        elif name == "webSocketWillSendHandshakeRequest" and rid in rows:
            rows[rid]["start"] = ms
        elif name == "webSocketHandshakeResponseReceived" and rid in rows:
            rows[rid].update(head=ms, status=e["response"].get("status"))
        elif name in ("webSocketFrameSent", "webSocketFrameReceived"):
            data = e.get("response", {}).get("payloadData", "")
            arrow = "->" if name == "webSocketFrameSent" else "<-"
            rows[f"{rid}:{len(order)}"] = {"url": f"  {arrow} {data[:60]}", "start": ms, "done": ms,
                                           "bytes": len(data), "what": "frame"}
            order.append(f"{rid}:{len(order)}")
    for rid in order:
        r = rows[rid]
        url = r["url"]
        if "://" in url:
            url = "/" + url.split("://", 1)[1].split("/", 1)[-1]
        url = url if len(url) <= 64 else url[:61] + "..."
        head = f"{r['head']:6.0f}" if "head" in r else "     -"
        done = f"{r['done']:6.0f}" if "done" in r else "     -"
        cached = " (cache)" if r.get("cache") else ""
        lines.append(f"    {r['start']:6.0f} {head} {done} {r.get('bytes', 0):7d} B  {str(r.get('status', '')):>6}  "
                     f"{r['what'][:10]:<10} {url}{cached}")
    lines.append(f"    usable at {usable * 1000:.0f} ms")
    return lines


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--kbps", type=int, default=1000, help="throughput each way, kbit/s")
    ap.add_argument("--latency", type=int, default=150, help="ms added to each request")
    ap.add_argument("--waterfall", action="store_true", help="print each request of the first cold and warm run")
    args = ap.parse_args()

    from playwright.sync_api import sync_playwright

    data = Path(tempfile.mkdtemp(prefix="phone-first-screen-"))
    proc, url, join = start_server(data)
    httpd, bare = floor_server()
    results: dict[str, list[tuple[float, int]]] = {
        k: [] for k in ("cold", "warm", "floor cold", "floor warm", "no link cold", "no link warm")}
    falls: dict[str, list[str]] = {}
    try:
        with sync_playwright() as p:
            exe = shutil.which("chromium") or "/usr/bin/chromium"
            browser = p.chromium.launch(executable_path=exe, headless=True, args=CHROMIUM_ARGS)
            for run in range(args.runs):
                link = Link(browser, args.kbps, args.latency)
                results["cold"].append(link.until_usable(lambda lk=link: lk.page.goto(url + join)))
                if run == 0:
                    falls["cold"] = waterfall(link.events, results["cold"][-1][0])
                results["warm"].append(link.until_usable(lambda lk=link: lk.page.reload()))
                if run == 0:
                    falls["warm"] = waterfall(link.events, results["warm"][-1][0])
                link.close()
                link = Link(browser, args.kbps, args.latency)
                results["floor cold"].append(link.until_loaded(lambda lk=link: lk.page.goto(bare)))
                results["floor warm"].append(link.until_loaded(lambda lk=link: lk.page.reload()))
                link.close()
                link = Link(browser, 0, 0)
                results["no link cold"].append(link.until_usable(lambda lk=link: lk.page.goto(url + join)))
                results["no link warm"].append(link.until_usable(lambda lk=link: lk.page.reload()))
                link.close()
            browser.close()
    finally:
        httpd.shutdown()
        proc.terminate()
        proc.wait(10)
        shutil.rmtree(data, ignore_errors=True)
    print(f"delegate's first usable screen, {args.kbps} kbit/s, {args.latency} ms, 360x740, "
          f"median of {args.runs} (min-max)")
    for name, runs in results.items():
        secs = [r[0] for r in runs]
        kib = statistics.median(r[1] for r in runs) / 1024
        print(f"  {name:<13} {statistics.median(secs):5.2f} s ({min(secs):.2f}-{max(secs):.2f})  {kib:6.1f} KiB")
    if args.waterfall:
        for name, lines in falls.items():
            print(f"  waterfall of the first {name} run (ms from the first request: asked, headers, last byte; "
                  "bytes on the wire)")
            print("\n".join(lines))
    cold = statistics.median(r[0] for r in results["cold"])
    warm = statistics.median(r[0] for r in results["warm"])
    print(f"  targets: cold <= 1.0 s ({'met' if cold <= 1.0 else 'NOT met'}), "
          f"warm <= 0.5 s ({'met' if warm <= 0.5 else 'NOT met'})")


if __name__ == "__main__":
    main()
