"""What a request may send, on a real server: an oversized body is refused before it is read, a chunked one at its
limit, and the public /verify page runs at most its cap of validator processes at once, refusing the rest with
"the server is busy"; /healthz keeps answering quickly throughout."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import fitz
import requests

from tests.conftest import LiveServer
from tests.web.test_documents_corpus import VIETNAMESE

MB = 1024 * 1024
#: The target: /healthz within 100 ms throughout (issue #18).
HEALTHZ_WORST_S = 0.1


def healthz_bound(url: str, burst: int = 12) -> float:
    """The worst /healthz latency to accept: 100 ms, or 1.5× the worst measured just before on the same server
    while `burst` trivial requests arrive at once (new connections, like the uploads under test), when the machine
    itself cannot do better. On this 2-core box shared with other jobs (load average 7-10), such a burst alone gave
    worst cases of 110-530 ms. So an upload path that stalls the loop fails, and a busy machine does not."""
    poller = HealthPoller(url)
    poller.start()
    barrier = threading.Barrier(burst)

    def hit() -> None:
        barrier.wait()
        requests.get(url + "/healthz", timeout=10)

    threads = [threading.Thread(target=hit) for _ in range(burst)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    time.sleep(0.5)
    poller.stop()
    idle = [x for x in poller.latencies if x is not None]
    assert idle, "/healthz did not answer"
    return max(HEALTHZ_WORST_S, 1.5 * max(idle))


_POLLER = """
import sys, time, http.client
url = sys.argv[1].removeprefix("http://")
conn = http.client.HTTPConnection(url, timeout=5)
while sys.stdin.readline().strip() != "go":
    pass
out = []
import select
while not select.select([sys.stdin], [], [], 0.05)[0]:
    t = time.perf_counter()
    try:
        conn.request("GET", "/healthz")
        r = conn.getresponse()
        r.read()
        out.append(time.perf_counter() - t if r.status == 200 else -1)
    except OSError:
        out.append(-1)
        conn = http.client.HTTPConnection(url, timeout=5)
print(" ".join(map(str, out)))
"""


class HealthPoller:
    """Polls /healthz every 50 ms from a process of its own, so that the test's own threads (uploads, sampling)
    do not add their GIL waits to what is measured; `latencies` (None for a failure) once stopped."""

    def __init__(self, url: str) -> None:
        self.proc = subprocess.Popen([sys.executable, "-c", _POLLER, url], stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, text=True)
        self.latencies: list[float | None] = []

    def start(self) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.write("go\n")
        self.proc.stdin.flush()
        time.sleep(0.2)  # its connection is open: what follows measures the server, not the poller's connect

    def stop(self) -> None:
        out, _ = self.proc.communicate("stop\n", timeout=30)
        self.latencies = [None if float(x) < 0 else float(x) for x in out.split()]


def rss_kb(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise AssertionError("no VmRSS")


def children(pid: int) -> list[str]:
    """The command lines of a process's direct children."""
    out = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        try:
            kids = (task / "children").read_text().split()
        except OSError:
            continue
        for kid in kids:
            try:
                out.append(Path(f"/proc/{kid}/cmdline").read_bytes().replace(b"\0", b" ").decode())
            except OSError:
                pass
    return out


def headers_only(port: int, head: str, timeout: float = 5) -> tuple[float, bytes]:
    """Send a request's headers (and no body) and read what comes back: (seconds until the answer, the answer)."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as sock:
        t = time.perf_counter()
        sock.sendall(head.encode("latin-1"))
        data = b""
        while b"\r\n\r\n" not in data:
            chunk = sock.recv(65536)
            assert chunk, f"connection closed without an answer: {data!r}"
            data += chunk
        elapsed = time.perf_counter() - t
        head_part, _, body = data.partition(b"\r\n\r\n")
        length = next(int(line.split(b":")[1]) for line in head_part.split(b"\r\n")
                      if line.lower().startswith(b"content-length:"))
        while len(body) < length:
            chunk = sock.recv(65536)
            assert chunk
            body += chunk
        return elapsed, head_part + b"\r\n\r\n" + body


def test_an_oversized_body_is_refused_before_it_is_sent(live_server: LiveServer) -> None:
    srv = live_server
    clerk = srv.token(srv.links["clerk"])
    requests.get(srv.url + "/healthz", timeout=5)  # the first request of a process is not what is measured
    bound = healthz_bound(srv.url)
    poller = HealthPoller(srv.url)
    poller.start()
    before = rss_kb(srv.proc.pid)
    slowest = 0.0
    cases = [  # (request line, extra headers, announced size)
        ("POST /verify", "Content-Type: application/pdf\r\n", 100 * MB),
        ("POST /verify", "Content-Type: multipart/form-data; boundary=x\r\n", 100 * MB),
        ("POST /api/v1/meetings/1/documents", f"Authorization: Bearer {clerk}\r\n"
         "Content-Type: multipart/form-data; boundary=x\r\n", 200 * MB),
        ("POST /api/v1/meetings/1/minutes/signatures/chair/upload", f"Authorization: Bearer {clerk}\r\n"
         "Content-Type: application/pdf\r\n", 100 * MB),
        ("PUT /api/v1/meetings/1/participants", f"Authorization: Bearer {clerk}\r\nContent-Type: text/csv\r\n",
         100 * MB),
        ("PATCH /api/v1/meetings/1", f"Authorization: Bearer {clerk}\r\nContent-Type: application/json\r\n",
         100 * MB),
        ("POST /clerk/roster/preview", "Content-Type: multipart/form-data; boundary=x\r\n", 100 * MB),
    ]
    try:
        for line, extra, size in cases:
            elapsed, answer = headers_only(
                srv.port, f"{line} HTTP/1.1\r\nHost: x\r\nAccept: application/json\r\n{extra}"
                          f"Content-Length: {size}\r\n\r\n")
            assert answer.startswith(b"HTTP/1.1 413"), (line, answer[:300])
            head_part, _, payload = answer.partition(b"\r\n\r\n")
            text = json.loads(payload)["message"] if b"application/json" in head_part else payload.decode()
            assert "quá lớn" in text and "tối đa" in text, (line, text)
            assert elapsed < 1.0, (line, elapsed)
            slowest = max(slowest, elapsed)
        time.sleep(0.2)  # a few answers after the last refusal too
    finally:
        poller.stop()
    grown = rss_kb(srv.proc.pid) - before
    assert grown < 20 * 1024, f"the server's memory grew by {grown} kB"
    answered = [x for x in poller.latencies if x is not None]
    print(f"\noversized bodies: answered 413 within {slowest * 1000:.0f} ms (headers only), RSS grew {grown} kB; "
          f"/healthz max {max(answered) * 1000:.0f} ms over {len(answered)} (bound {bound * 1000:.0f} ms)")
    assert answered and len(answered) == len(poller.latencies), "/healthz failed"
    assert max(answered) < bound, f"/healthz took {max(answered) * 1000:.0f} ms (bound {bound * 1000:.0f} ms)"


def test_a_chunked_body_is_stopped_at_the_limit(live_server: LiveServer) -> None:
    srv = live_server
    clerk = {"Authorization": "Bearer " + srv.token(srv.links["clerk"]), "Content-Type": "application/json",
             "Accept": "application/json"}

    def body() -> object:  # no Content-Length: requests sends it chunked
        yield b'{"place": "'
        for _ in range(5):
            yield b"a" * MB
        yield b'"}'

    r = requests.patch(f"{srv.url}/api/v1/meetings/1", data=body(), headers=clerk, timeout=30)
    assert r.status_code == 413, r.text
    assert "quá lớn" in r.json()["message"]
    # A small chunked body is read whole (not as empty) and reaches the route.
    place = "Hội trường xã".encode()
    ok = requests.patch(f"{srv.url}/api/v1/meetings/1", data=iter([b'{"place": "', place, b'"}']),
                        headers=clerk, timeout=30)
    assert ok.status_code == 200, ok.text
    assert ok.json()["place"] == "Hội trường xã"


def test_a_chunked_verify_body_is_refused_past_the_limit_and_read_whole_below_it(live_server: LiveServer) -> None:
    """/verify's raw body is copied to a file for the validator (web/uploads.py): a chunked one over the route's
    limit still ends 413 with the message (and leaves no file behind), a small one is checked whole."""
    srv = live_server

    def big() -> object:  # no Content-Length: requests sends it chunked
        yield b"%PDF-1.7\n"
        for _ in range(52):
            yield b"0" * MB

    accept = {"Accept": "application/json"}
    r = requests.post(f"{srv.url}/verify", data=big(), headers=accept, timeout=60)
    assert r.status_code == 413, r.text[:300]
    assert "quá lớn" in r.json()["message"]
    pdf = _pdf()
    ok = requests.post(f"{srv.url}/verify", data=iter([pdf[:100], pdf[100:]]), headers=accept, timeout=60)
    assert ok.status_code == 200, ok.text[:300]
    assert ok.json()["signatures"] == [] and ok.json()["sha256"] == __import__("hashlib").sha256(pdf).hexdigest()


def _pdf() -> bytes:
    doc = fitz.open()
    doc.new_page().insert_text((72, 72), "verify me")
    return doc.tobytes()


def test_twelve_verify_uploads_start_at_most_the_cap_of_validators(live_server: LiveServer) -> None:
    srv = live_server
    pdf = _pdf()
    cap = 2  # VERIFY_CONCURRENCY's default
    requests.get(srv.url + "/healthz", timeout=5)
    bound = healthz_bound(srv.url)
    poller = HealthPoller(srv.url)
    poller.start()
    peak = 0
    sampling = threading.Event()

    def sample() -> None:
        nonlocal peak
        while not sampling.is_set():
            validators = [c for c in children(srv.proc.pid) if "meeting_server.minutes.worker" in c]
            peak = max(peak, len(validators))
            time.sleep(0.01)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    barrier = threading.Barrier(12)
    answers: list[requests.Response] = []
    lock = threading.Lock()

    def upload() -> None:
        barrier.wait()
        r = requests.post(f"{srv.url}/verify", files={"file": ("x.pdf", pdf, "application/pdf")},
                          headers={"Accept": "application/json"}, timeout=120)
        with lock:
            answers.append(r)

    threads = [threading.Thread(target=upload) for _ in range(12)]
    try:
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    finally:
        sampling.set()
        sampler.join()
        poller.stop()
    done = [r for r in answers if r.status_code == 200]
    busy = [r for r in answers if r.status_code == 503]
    assert len(done) + len(busy) == 12, [(r.status_code, r.text[:200]) for r in answers]
    assert 1 <= len(done) and busy, [r.status_code for r in answers]
    assert 1 <= peak <= cap, f"{peak} validator processes at once"
    for r in busy:
        assert r.json()["message"] == "Máy chủ đang bận, hãy thử lại sau.", r.text
        assert int(r.headers["Retry-After"]) > 0
    assert all(r.json()["signatures"] == [] for r in done)
    # The places are given back: one more upload, alone, is checked.
    assert requests.post(f"{srv.url}/verify", files={"file": ("x.pdf", pdf)}, headers={"Accept": "application/json"},
                         timeout=60).status_code == 200
    answered = [x for x in poller.latencies if x is not None]
    assert answered and len(answered) == len(poller.latencies), "/healthz failed"
    print(f"\nverify x12: {len(done)} checked, {len(busy)} busy, peak {peak} validators; "
          f"/healthz max {max(answered) * 1000:.0f} ms over {len(answered)} (bound {bound * 1000:.0f} ms)")
    assert max(answered) < bound, f"/healthz took {max(answered) * 1000:.0f} ms (bound {bound * 1000:.0f} ms)"
    assert VIETNAMESE & set(busy[0].json()["message"])


def test_a_400_megapixel_image_upload_ends_too_large_not_damaged(live_server: LiveServer, tmp_path: Path) -> None:
    from tests.documents.test_ingest import huge_png, pdf_with_huge_image

    srv = live_server
    clerk = {"Authorization": "Bearer " + srv.token(srv.links["clerk"])}
    files = (huge_png(tmp_path / "ban-do.png"), pdf_with_huge_image(tmp_path / "ban-do.pdf"))  # before measuring
    # The render pool starts with the first upload (two Python processes importing PyMuPDF on this 2-core box):
    # start it with an ordinary file first, so what is measured is the huge image.
    warm = requests.post(f"{srv.url}/api/v1/meetings/1/documents", headers=clerk,
                         files={"file": ("x.pdf", _pdf())}, timeout=30).json()["id"]
    deadline = time.monotonic() + 60
    while requests.get(f"{srv.url}/api/v1/documents/{warm}", headers=clerk, timeout=10).json()["status"] != "ready":
        assert time.monotonic() < deadline
        time.sleep(0.2)
    bound = healthz_bound(srv.url)
    poller = HealthPoller(srv.url)
    poller.start()
    ids = {}
    try:
        for path in files:
            r = requests.post(f"{srv.url}/api/v1/meetings/1/documents", headers=clerk,
                              files={"file": (path.name, path.read_bytes())}, timeout=30)
            assert r.status_code == 202, r.text
            ids[path.suffix] = r.json()["id"]
        got = {}
        deadline = time.monotonic() + 60
        while len(got) < len(ids):
            assert time.monotonic() < deadline, got
            for kind, doc_id in ids.items():
                d = requests.get(f"{srv.url}/api/v1/documents/{doc_id}", headers=clerk, timeout=10).json()
                if d["status"] != "processing":
                    got[kind] = d
            time.sleep(0.2)
    finally:
        poller.stop()
    assert got[".png"]["status"] == "failed" and got[".png"]["error"]["code"] == "doc.too_large"
    assert got[".png"]["error"]["message"].startswith("Ảnh quá lớn (400 megapixel)")
    assert got[".pdf"]["status"] == "failed" and got[".pdf"]["error"]["code"] == "doc.too_large"
    assert got[".pdf"]["error"]["message"].startswith("Trang 1 có ảnh quá lớn (400 megapixel)")
    answered = [x for x in poller.latencies if x is not None]
    assert answered and len(answered) == len(poller.latencies), "/healthz failed"
    assert max(answered) < bound, f"/healthz took {max(answered) * 1000:.0f} ms (bound {bound * 1000:.0f} ms)"


def test_a_refused_body_is_dropped_whole_and_the_connection_serves_the_next_request(live_server: LiveServer) -> None:
    """A 60 MB body to /verify (limit 50 MB) sent whole, as a browser without `Expect: 100-continue` sends it: the
    answer is 413 in Vietnamese, the server reads the body to its end and drops it (web/serving.py, in 1 MB
    reads), and the same connection then serves /healthz: nothing of the body was taken for a request."""
    import http.client

    conn = http.client.HTTPConnection("127.0.0.1", live_server.port, timeout=60)
    try:
        conn.request("POST", "/verify", body=bytes(60 * MB),
                     headers={"Content-Type": "application/pdf", "Accept": "application/json"})
        refused = conn.getresponse()
        message = json.loads(refused.read())["message"]
        assert refused.status == 413 and "quá lớn" in message, (refused.status, message)
        sock = conn.sock
        conn.request("GET", "/healthz")
        after = conn.getresponse()
        assert after.status == 200 and json.loads(after.read())["status"] == "ok"
        assert conn.sock is sock, "the server closed the connection instead of dropping the body"
    finally:
        conn.close()
