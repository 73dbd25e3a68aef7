"""The render pool: real worker processes, killed on overrun, replaced after a crash, served by priority."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from PIL import Image

from meeting_server.documents import (
    IngestError,
    JobCancelled,
    Priority,
    RenderPool,
    cache_path,
    pre_render_document,
)
from meeting_server.documents.convert import libreoffice_available
from tests.documents.conftest import VI_SAMPLES, is_vietnamese, make_docx, make_image, pool_with

SAMPLE = next(p for p in VI_SAMPLES if p.name == "ke-hoach-cds-phuc-loi.pdf")


def wait_running(job: object, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while job.state != "running":
        assert time.monotonic() < deadline, "job never started"
        time.sleep(0.01)


def test_inspect_and_render_through_the_pool(pool: RenderPool) -> None:
    info = pool.inspect(SAMPLE)
    assert info.page_count == 7
    path = pool.render(info.pdf_path, info.content_hash, 2, 720)
    assert path == cache_path(pool.cache_dir, info.content_hash, 2, 720, "webp")
    with Image.open(path) as image:
        assert image.format == "WEBP" and image.width == 720


@pytest.mark.skipif(not libreoffice_available(), reason="LibreOffice (soffice) is not installed")
def test_a_word_file_and_a_photo_become_pages_in_the_workers(pool: RenderPool, tmp_path: Path) -> None:
    # Workers cap their address space; LibreOffice, started from one, must still run.
    docx = make_docx(tmp_path / "upload-1", ["NGHỊ QUYẾT", "Về kế hoạch chuyển đổi số năm 2026"])
    info = pool.inspect(docx, pdf_out=tmp_path / "derived-1.pdf")
    assert info.source_format == "docx" and info.pdf_path == tmp_path / "derived-1.pdf"
    assert info.title == "NGHỊ QUYẾT Về kế hoạch chuyển đổi số năm 2026" and "chuyển đổi số" in info.page_texts[0]
    with Image.open(pool.render(info.pdf_path, info.content_hash, 0, 720)) as image:
        assert image.width == 720
    photo = pool.inspect(make_image(tmp_path / "upload-2", "jpeg"), pdf_out=tmp_path / "derived-2.pdf")
    assert photo.source_format == "jpeg" and photo.page_count == 1


def test_equal_requests_share_one_job_and_cached_pages_cost_nothing(pool: RenderPool) -> None:
    info = pool.inspect(SAMPLE)
    first = pool.submit_render(info.pdf_path, info.content_hash, 5, 1600, fmt="jpeg")
    second = pool.submit_render(info.pdf_path, info.content_hash, 5, 1600, fmt="jpeg", priority=Priority.HIGH)
    assert second is first
    path = first.result(timeout=30)
    again = pool.submit_render(info.pdf_path, info.content_hash, 5, 1600, fmt="jpeg")
    assert again.done() and again.result() == path


def test_a_watermarked_page_is_cached_apart(pool: RenderPool) -> None:
    info = pool.inspect(SAMPLE)
    plain = pool.render(info.pdf_path, info.content_hash, 0, 720)
    marked = pool.render(info.pdf_path, info.content_hash, 0, 720, watermark="Lê Thị Mai")
    assert marked != plain and marked.read_bytes() != plain.read_bytes()


def test_a_runaway_job_is_killed_and_the_worker_replaced(tmp_path: Path, slow_pdf: Path) -> None:
    with pool_with(tmp_path, render_timeout_s=0.3) as pool:
        info = pool.inspect(slow_pdf)
        (old_pid,) = pool.worker_pids()
        started = time.monotonic()
        with pytest.raises(IngestError) as error:
            pool.render(slow_pdf, info.content_hash, 0, 1600)
        assert time.monotonic() - started < 3.0  # the page alone takes seconds to draw
        assert error.value.code == "doc.timeout"
        assert is_vietnamese(error.value.message)
        with pytest.raises(ProcessLookupError):
            os.kill(old_pid, 0)
        assert pool.inspect(SAMPLE).page_count == 7  # the pool goes on with a new worker
        assert pool.worker_pids() and pool.worker_pids() != [old_pid]


def test_an_inspection_over_time_is_stopped(tmp_path: Path, long_pdf: Path) -> None:
    with pool_with(tmp_path, inspect_timeout_s=0.05) as pool:
        while not pool.worker_pids():  # let the worker start, so the limit times the inspection alone
            time.sleep(0.01)
        started = time.monotonic()
        with pytest.raises(IngestError) as error:
            pool.inspect(long_pdf)  # 270 pages of text to read: far more than 50 ms
        assert error.value.code == "doc.timeout"
        assert error.value.message.startswith("Xử lý tệp quá lâu")
        assert time.monotonic() - started < 2.0


def test_a_crashed_worker_is_replaced_and_the_caller_told_the_file_is_damaged(tmp_path: Path, slow_pdf: Path) -> None:
    with pool_with(tmp_path) as pool:
        info = pool.inspect(slow_pdf)
        (old_pid,) = pool.worker_pids()
        job = pool.submit_render(slow_pdf, info.content_hash, 0, 720)
        wait_running(job)
        time.sleep(0.1)
        os.kill(old_pid, signal.SIGSEGV)  # what MuPDF does on a bad enough file
        with pytest.raises(IngestError) as error:
            job.result(timeout=10)
        assert error.value.code == "doc.damaged"
        assert is_vietnamese(error.value.message)
        sample = pool.inspect(SAMPLE)
        assert pool.render(sample.pdf_path, sample.content_hash, 0, 720).is_file()
        assert pool.worker_pids() != [old_pid]


def test_a_worker_whose_server_stopped_mid_job_exits_quietly() -> None:
    """The server stops while a worker draws a page (a pre-render at the large width): the worker finds nobody to
    answer, and leaves without a traceback in the server's log."""
    from meeting_server.documents import wire

    proc = subprocess.Popen([sys.executable, "-m", "meeting_server.documents.worker"], stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    assert proc.stdin is not None and proc.stdout is not None and proc.stderr is not None
    assert wire.receive(proc.stdout)["ready"] is True
    proc.stdout.close()  # the server is gone: nobody reads the answer
    wire.send(proc.stdin, {"id": 1, "op": "ping"})
    proc.stdin.close()
    assert proc.wait(10) == 0
    err = proc.stderr.read().decode()
    proc.stderr.close()
    assert "Traceback" not in err and "BrokenPipe" not in err, err


def test_the_presented_page_jumps_the_queue(tmp_path: Path, slow_pdf: Path) -> None:
    with pool_with(tmp_path) as pool:
        slow = pool.inspect(slow_pdf)
        info = pool.inspect(SAMPLE)
        blocker = pool.submit_render(slow_pdf, slow.content_hash, 0, 720)
        wait_running(blocker)
        background = [
            pool.submit_render(info.pdf_path, info.content_hash, page, 720, priority=Priority.BACKGROUND)
            for page in range(6)
        ]
        presented = pool.submit_render(info.pdf_path, info.content_hash, 6, 720, priority=Priority.HIGH)
        assert pool.queued() == 7
        for job in [blocker, presented, *background]:
            job.result(timeout=30)
        assert presented.finished_at is not None
        assert all(presented.finished_at < job.finished_at for job in background)  # type: ignore[operator]


def test_a_background_job_asked_again_at_high_priority_is_promoted(tmp_path: Path, slow_pdf: Path) -> None:
    with pool_with(tmp_path) as pool:
        slow = pool.inspect(slow_pdf)
        info = pool.inspect(SAMPLE)
        blocker = pool.submit_render(slow_pdf, slow.content_hash, 0, 720)
        wait_running(blocker)
        background = [
            pool.submit_render(info.pdf_path, info.content_hash, page, 720, priority=Priority.BACKGROUND)
            for page in range(7)
        ]
        promoted = pool.submit_render(info.pdf_path, info.content_hash, 6, 720, priority=Priority.HIGH)
        assert promoted is background[6]
        for job in background:
            job.result(timeout=30)
        assert all(promoted.finished_at < job.finished_at for job in background[:6])  # type: ignore[operator]


def test_pre_render_document_renders_every_page_in_order(pool: RenderPool) -> None:
    info = pool.inspect(SAMPLE)
    progress: list[tuple[int, int]] = []
    result = pre_render_document(
        pool, info.pdf_path, info.content_hash, info.page_count, (720, 1600), lambda d, t: progress.append((d, t))
    )
    assert progress == [(page, 7) for page in range(1, 8)]
    assert result.pages == 7 and result.rendered == 14 and result.failed == ()
    for page in range(7):
        for width in (720, 1600):
            with Image.open(cache_path(pool.cache_dir, info.content_hash, page, width, "webp")) as image:
                assert image.width == width
    again = pre_render_document(pool, info.pdf_path, info.content_hash, info.page_count)
    assert again.rendered == 14 and again.seconds < 1.0  # everything came from the cache


def test_removing_a_document_drops_its_queued_pages(tmp_path: Path, slow_pdf: Path) -> None:
    with pool_with(tmp_path) as pool:
        slow = pool.inspect(slow_pdf)
        info = pool.inspect(SAMPLE)
        blocker = pool.submit_render(slow_pdf, slow.content_hash, 0, 720)
        wait_running(blocker)
        queued = [pool.submit_render(info.pdf_path, info.content_hash, page, 720) for page in range(7)]
        assert pool.cancel_pending(info.content_hash) == 7
        for job in queued:
            with pytest.raises(JobCancelled):
                job.result(timeout=1)
        blocker.result(timeout=30)


def test_server_side_failures_are_not_blamed_on_the_file(pool: RenderPool, tmp_path: Path) -> None:
    with pytest.raises(OSError):
        pool.inspect(tmp_path / "gone.pdf")  # the upload vanished
    info = pool.inspect(SAMPLE)
    with pytest.raises(ValueError):
        pool.render(info.pdf_path, info.content_hash, 99, 720)  # no page 100
    readonly = tmp_path / "readonly-cache"
    readonly.mkdir()
    with RenderPool(readonly, size=1) as ro_pool:
        readonly.chmod(0o500)
        try:
            if os.access(readonly, os.W_OK):  # root writes anywhere: use a file where a directory must go
                readonly.chmod(0o700)
                (readonly / info.content_hash[:2]).write_text("not a directory")
            with pytest.raises(OSError):
                ro_pool.render(info.pdf_path, info.content_hash, 0, 720)
        finally:
            readonly.chmod(0o700)


def test_a_closed_pool_refuses_work(tmp_path: Path) -> None:
    pool = pool_with(tmp_path)
    pool.close()
    assert pool.worker_pids() == []
    with pytest.raises(JobCancelled):
        pool.submit_inspect(SAMPLE)


def test_the_web_process_never_loads_pymupdf() -> None:
    """The pool, the types and the search helpers load without PyMuPDF; only workers draw pages."""
    code = (
        "import sys, tempfile\n"
        "from meeting_server.documents import RenderPool\n"
        f"with RenderPool(tempfile.mkdtemp(), size=1) as pool:\n"
        f"    info = pool.inspect({str(SAMPLE)!r})\n"
        "    pool.render(info.pdf_path, info.content_hash, 0, 720)\n"
        "print('pymupdf' in sys.modules, 'fitz' in sys.modules)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, env=dict(os.environ))
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "False False"


def test_idle_workers_past_the_first_stop_and_come_back_with_work(tmp_path: Path) -> None:
    """A worker holds ~50 MB of MuPDF: past the first, an idle one stops, and work brings it back."""
    with RenderPool(tmp_path / "cache", size=2, idle_s=0.5) as p:
        deadline = time.monotonic() + 20
        while len(p.worker_pids()) < 2:  # both start with the pool
            assert time.monotonic() < deadline, "workers never started"
            time.sleep(0.05)
        first = p.worker_pids()
        deadline = time.monotonic() + 20
        while len(p.worker_pids()) > 1:
            assert time.monotonic() < deadline, "the idle worker never stopped"
            time.sleep(0.05)
        assert p.worker_pids() == first[:1]  # the first stays, ready
        # One job goes to the worker that is running, without starting another.
        info = p.inspect(SAMPLE)
        assert p.worker_pids() == first[:1]
        # Enough work for two brings the second back; every page is drawn.
        jobs = [p.submit_render(info.pdf_path, info.content_hash, page, width)
                for page in range(info.page_count) for width in (720, 1600)]
        seen: set[int] = set()
        paths = []
        for job in jobs:
            seen.update(p.worker_pids())
            paths.append(job.result())
        assert all(path.is_file() for path in paths)
        assert first[0] in seen and len(seen - set(first)) == 1  # the first worker, and a new second one


def test_without_an_idle_limit_every_worker_stays(tmp_path: Path) -> None:
    with RenderPool(tmp_path / "cache", size=2) as p:
        deadline = time.monotonic() + 20
        while len(p.worker_pids()) < 2:
            assert time.monotonic() < deadline, "workers never started"
            time.sleep(0.05)
        time.sleep(1.0)
        assert len(p.worker_pids()) == 2
