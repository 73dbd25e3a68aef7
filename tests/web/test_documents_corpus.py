"""Every file of the bad-PDF corpus uploaded to a real server ends `ready` or `failed` with a Vietnamese message,
while /healthz keeps answering quickly: bad files never stall the server everyone else uses."""

from __future__ import annotations

import time
from pathlib import Path

import requests

from tests.conftest import SHARED, LiveServer
from tests.realtime.helpers import HealthPoller

CORPUS = sorted(p for p in (SHARED / "samples" / "pdf-corpus").iterdir() if p.is_file())
# Letters only Vietnamese uses: a message with one of them is Vietnamese, not an English fallback.
VIETNAMESE = set("ăâđêôơưạảấầẩẫậắằẳẵặẹẻẽếềểễệỉịọỏốồổỗộớờởỡợụủứừửữựỳỵỷỹ")


def test_every_corpus_file_ends_ready_or_failed_with_a_vietnamese_message(live_server: LiveServer) -> None:
    srv = live_server
    assert len(CORPUS) > 100
    clerk = {"Authorization": "Bearer " + srv.token(srv.links["clerk"])}
    poller = HealthPoller(srv.url)
    poller.start()
    ids: dict[int, Path] = {}
    try:
        for path in CORPUS:
            r = requests.post(f"{srv.url}/api/v1/meetings/1/documents", headers=clerk,
                              files={"file": (path.name, path.read_bytes())}, timeout=30)
            if r.status_code == 400:  # refused at the door (empty file): still a Vietnamese reason
                assert VIETNAMESE & set(r.json()["message"].lower()), (path.name, r.text)
                continue
            assert r.status_code == 202, (path.name, r.text)
            ids[r.json()["id"]] = path
        deadline = time.monotonic() + 240
        outcome: dict[str, int] = {}
        pending = dict(ids)
        while pending:
            assert time.monotonic() < deadline, f"still processing: {sorted(p.name for p in pending.values())}"
            for doc_id, path in list(pending.items()):
                d = requests.get(f"{srv.url}/api/v1/documents/{doc_id}", headers=clerk, timeout=30).json()
                if d["status"] == "processing":
                    continue
                del pending[doc_id]
                outcome[d["status"]] = outcome.get(d["status"], 0) + 1
                if d["status"] == "failed":
                    msg = d["error"]["message"]
                    assert d["error"]["code"].startswith("doc."), (path.name, d)
                    assert VIETNAMESE & set(msg.lower()), (path.name, msg)
                else:
                    assert d["status"] == "ready" and d["page_count"] >= 1, (path.name, d)
            time.sleep(0.2)
    finally:
        poller.stop.set()
        poller.join(10)
    answered = [x for x in poller.latencies if x is not None]
    assert len(poller.latencies) > 20
    assert len(answered) == len(poller.latencies), "the server stopped answering /healthz"
    worst = max(answered)
    print(f"\ncorpus: {outcome}; /healthz answered {len(answered)} times, max {worst * 1000:.0f} ms")
    assert worst < 1.0, f"/healthz took {worst:.2f} s while bad files were processed"
