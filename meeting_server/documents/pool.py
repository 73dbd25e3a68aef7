"""A pool of render worker processes with a hard time limit per job and a priority queue.

Works under eventlet (after eventlet.monkey_patch(): threads become green threads, pipes and waits cooperative,
so waiting for a page blocks only the asking green thread) and with plain threads (tests, command-line tools).
Each worker is `python -m meeting_server.documents.worker` on two pipes; one dispatcher thread drives each.
A job that overruns gets its worker killed (caller: doc.timeout); a worker that dies mid-job (a segfault on a
fuzzed file) is replaced (caller: doc.damaged). The main process never imports PyMuPDF.
"""

from __future__ import annotations

import heapq
import itertools
import logging
import os
import subprocess
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from meeting_server import runner
from meeting_server.documents import wire
from meeting_server.documents.cache import STANDARD_WIDTHS, cache_path, watermark_key
from meeting_server.documents.model import DEFAULT_LIMITS, DocInfo, IngestError, Limits, Priority
from meeting_server.documents.sniff import may_need_conversion

__all__ = ["JobCancelled", "PoolJob", "PreRenderResult", "RenderPool", "default_pool_size", "pre_render_document"]

log = logging.getLogger(__name__)

_STARTUP_TIMEOUT_S = 30.0
_QUEUED, _RUNNING, _DONE = "queued", "running", "done"


def default_pool_size() -> int:
    """One worker per core, at most 4: workers run niced, so the web server still gets the CPU it needs."""
    return max(1, min(4, os.cpu_count() or 1))


class JobCancelled(RuntimeError):
    """The job was dropped before it ran (its document was removed, or the pool closed)."""


class PoolJob:
    """One job in the pool; `result()` waits for it, blocking only the calling (green) thread."""

    def __init__(self, op: str, args: dict[str, Any], priority: Priority, timeout_s: float, key: str | None) -> None:
        self.op = op
        self.args = args
        self.priority = priority
        self.timeout_s = timeout_s
        self.key = key
        self.state = _QUEUED
        self.seconds: float | None = None  # time the worker spent, when it answered
        self.finished_at: float | None = None  # time.monotonic() when the job ended
        self._done = threading.Event()
        self._result: Any = None
        self._error: BaseException | None = None

    def done(self) -> bool:
        """True once the job has a result or an error."""
        return self._done.is_set()

    def result(self, timeout: float | None = None) -> Any:
        """The job's result; raises its IngestError (the file), ValueError (the request), OSError (the server's disk)
        or JobCancelled, or TimeoutError after `timeout`."""
        if not self._done.wait(timeout):
            raise TimeoutError(f"{self.op} job still running after {timeout} s")
        error = self._error
        if isinstance(error, IngestError):
            # Each waiter gets its own exception object: several may share one job.
            raise error.copy()
        if error is not None:
            raise type(error)(*error.args)
        return self._result

    def _finish(self, result: Any = None, error: BaseException | None = None) -> None:
        self._result = result
        self._error = error
        self.state = _DONE
        self.finished_at = time.monotonic()
        self._done.set()


@dataclass(frozen=True)
class PreRenderResult:
    """What rendering a whole document ahead of time achieved."""

    pages: int
    rendered: int  # images written (or already in the cache)
    failed: tuple[tuple[int, int, str], ...]  # (page_index, width, code) of each image that failed
    seconds: float


class RenderPool:
    """Worker processes that inspect uploads and render pages into `cache_dir`."""

    def __init__(
        self,
        cache_dir: Path | str,
        *,
        size: int | None = None,
        limits: Limits = DEFAULT_LIMITS,
        nice: int = 5,
        background: bool = False,
        max_jobs_per_worker: int = 2000,
        idle_s: float | None = None,
        keep_first: bool = True,
        convert_dir: Path | str | None = None,
        name: str = "render",
    ) -> None:
        self.cache_dir = Path(cache_dir)
        self.name = name
        # Where LibreOffice works (convert.reap_leftovers finds what a killed worker left there); None: a temp dir.
        self.convert_dir = str(convert_dir) if convert_dir is not None else None
        self.limits = limits
        self.size = size if size is not None else default_pool_size()
        if self.size < 1:
            raise ValueError("pool size must be at least 1")
        self.nice = nice
        self.background = background  # idle scheduling class for the workers (runner.yield_cpu): the conversion lane
        self.max_jobs_per_worker = max_jobs_per_worker
        # Workers past the first stop after `idle_s` seconds without a job (None: never) and start again when
        # work comes: a worker holds ~50 MB that a mini-PC needs more than a render ready in advance. With
        # keep_first=False the first one stops too (the conversion lane: Office uploads are rare).
        self.idle_s = idle_s
        self.keep_first = keep_first
        self._idle_live = 0  # slots with a live worker waiting for a job (a slot without one lets them go first)
        self._cond = threading.Condition()
        self._heap: list[tuple[int, int, PoolJob]] = []
        self._seq = itertools.count()
        self._keyed: dict[str, PoolJob] = {}
        self._closed = False
        self._slots = [_Slot(self, i) for i in range(self.size)]
        self._threads: list[threading.Thread] = []
        for slot in self._slots:
            thread = threading.Thread(target=slot.run, name=f"{name}-dispatch-{slot.index}", daemon=True)
            thread.start()
            self._threads.append(thread)

    # --- public API ------------------------------------------------------------------------------------------

    def submit_inspect(
        self,
        path: Path | str,
        *,
        password: str | None = None,
        pdf_out: Path | str | None = None,
        priority: Priority = Priority.NORMAL,
    ) -> PoolJob:
        """Queue `ingest.inspect_file` of an upload; `result()` gives a DocInfo."""
        path = Path(path)
        timeout = self.limits.inspect_timeout_s
        if may_need_conversion(path):
            timeout += self.limits.convert_timeout_s + 10.0  # the worker's own soffice timeout fires first
        args = {
            "path": str(path),
            "password": password,
            "pdf_out": str(pdf_out) if pdf_out is not None else None,
            "limits": self.limits.to_dict(),
            "convert_dir": self.convert_dir,
        }
        return self._submit(PoolJob("inspect", args, priority, timeout, None))

    def inspect(
        self,
        path: Path | str,
        *,
        password: str | None = None,
        pdf_out: Path | str | None = None,
        priority: Priority = Priority.NORMAL,
    ) -> DocInfo:
        """Inspect an upload in a worker and wait; raises IngestError (doc.timeout when it overran)."""
        info: DocInfo = self.submit_inspect(path, password=password, pdf_out=pdf_out, priority=priority).result()
        return info

    def submit_render(
        self,
        pdf_path: Path | str,
        content_hash: str,
        page_index: int,
        width: int,
        *,
        fmt: str = "webp",
        quality: int | None = None,
        watermark: str | None = None,
        priority: Priority = Priority.NORMAL,
    ) -> PoolJob:
        """Queue one page image into the cache; `result()` gives its Path. Equal requests share one job."""
        wm_key = watermark_key(watermark) if watermark else None
        out = cache_path(self.cache_dir, content_hash, page_index, width, fmt, wm_key)
        if out.exists():
            job = PoolJob("render", {}, priority, 0.0, None)
            job._finish(out)
            return job
        args = {
            "pdf_path": str(pdf_path),
            "content_hash": content_hash,
            "page_index": page_index,
            "width": width,
            "fmt": fmt,
            "quality": quality,
            "watermark": watermark,
            "out_path": str(out),
            "max_pixels": self.limits.max_render_pixels,
        }
        return self._submit(PoolJob("render", args, priority, self.limits.render_timeout_s, str(out)))

    def render(
        self,
        pdf_path: Path | str,
        content_hash: str,
        page_index: int,
        width: int,
        *,
        fmt: str = "webp",
        quality: int | None = None,
        watermark: str | None = None,
        priority: Priority = Priority.NORMAL,
    ) -> Path:
        """The cached image of one page, rendered now if missing; raises IngestError for a page that fails."""
        job = self.submit_render(
            pdf_path, content_hash, page_index, width, fmt=fmt, quality=quality, watermark=watermark, priority=priority
        )
        path: Path = job.result()
        return path

    def recognize(self, pdf_path: Path | str, content_hash: str, page_index: int, *,
                  priority: Priority = Priority.BACKGROUND) -> dict[str, Any]:
        """OCR one page (documents/reading.recognize) and wait: {"blocks": [...]} and, when tesseract is missing or
        overran `Limits.ocr_timeout_s`, "failed" with the reason (the page then simply has no text)."""
        timeout = self.limits.ocr_timeout_s
        args = {"pdf_path": str(pdf_path), "content_hash": content_hash, "page_index": page_index,
                "timeout_s": timeout}
        # The worker's own tesseract timeout fires first; this one catches a worker stuck drawing the page.
        result: dict[str, Any] = self._submit(PoolJob("recognize", args, priority, timeout + 20.0, None)).result()
        return result

    def cancel_pending(self, content_hash: str) -> int:
        """Drop the queued (not yet running) renders of a document; returns how many were dropped."""
        dropped = 0
        with self._cond:
            for _, _, job in self._heap:
                if job.state == _QUEUED and job.args.get("content_hash") == content_hash:
                    job.state = _DONE
                    self._forget(job)
                    job._finish(error=JobCancelled("document removed"))
                    dropped += 1
        return dropped

    def worker_pids(self) -> list[int]:
        """Process ids of the live workers (for monitoring, and for tests that kill one)."""
        return [slot.pid for slot in self._slots if slot.pid is not None]

    def queued(self) -> int:
        """How many jobs wait for a worker."""
        with self._cond:
            return sum(1 for _, _, job in self._heap if job.state == _QUEUED)

    def close(self, timeout: float = 5.0) -> None:
        """Stop the workers; queued jobs end in JobCancelled."""
        with self._cond:
            if self._closed:
                return
            self._closed = True
            for _, _, job in self._heap:
                if job.state == _QUEUED:
                    job._finish(error=JobCancelled("render pool closed"))
            self._heap.clear()
            self._keyed.clear()
            self._cond.notify_all()
        deadline = time.monotonic() + timeout
        for thread in self._threads:
            thread.join(max(0.0, deadline - time.monotonic()))
        for slot in self._slots:
            slot.stop()

    def __enter__(self) -> RenderPool:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # --- queue -------------------------------------------------------------------------------------------

    def _submit(self, job: PoolJob) -> PoolJob:
        with self._cond:
            if self._closed:
                raise JobCancelled("render pool closed")
            if job.key is not None:
                existing = self._keyed.get(job.key)
                if existing is not None and not existing.done():
                    if existing.state == _QUEUED and job.priority < existing.priority:
                        # Push it again at the better priority; the stale heap entry is skipped when popped.
                        existing.priority = job.priority
                        heapq.heappush(self._heap, (int(job.priority), next(self._seq), existing))
                        self._cond.notify_all()
                    return existing
                self._keyed[job.key] = job
            heapq.heappush(self._heap, (int(job.priority), next(self._seq), job))
            self._cond.notify_all()  # every waiting slot looks: one without a live worker leaves it to one with
        return job

    def _take(self, slot: _Slot) -> PoolJob | None | _Idle:
        """The next job for `slot`; None once the pool is closed; IDLE when the slot's worker may stop.

        A slot whose worker is stopped (or not started) leaves a job to a slot with a live, idle worker, so that
        the job does not wait for a process to start while one is ready.
        """
        live = slot.proc is not None
        linger = self.idle_s if live and (slot.index > 0 or not self.keep_first) else None
        deadline = None if linger is None else time.monotonic() + linger
        with self._cond:
            while True:
                if self._closed:
                    return None
                while self._heap and self._heap[0][2].state != _QUEUED:
                    heapq.heappop(self._heap)  # cancelled, or already taken at a better priority
                if self._heap and (live or self._idle_live < len(self._heap)):
                    _, _, job = heapq.heappop(self._heap)
                    job.state = _RUNNING
                    return job
                if deadline is not None and time.monotonic() >= deadline:
                    return IDLE
                if live:
                    self._idle_live += 1
                try:
                    self._cond.wait(None if deadline is None else deadline - time.monotonic())
                finally:
                    if live:
                        self._idle_live -= 1

    def _forget(self, job: PoolJob) -> None:
        if job.key is not None and self._keyed.get(job.key) is job:
            del self._keyed[job.key]

    def _complete(self, job: PoolJob, result: Any = None, error: BaseException | None = None) -> None:
        with self._cond:
            self._forget(job)
        job._finish(result, error)


class _Idle:
    """What `_take` returns when a slot's worker has waited long enough to stop."""


IDLE = _Idle()


class _WorkerGone(Exception):
    def __init__(self, timed_out: bool) -> None:
        super().__init__("timed out" if timed_out else "worker died")
        self.timed_out = timed_out


class _Slot:
    """One worker process and the dispatcher thread that feeds it."""

    def __init__(self, pool: RenderPool, index: int) -> None:
        self.pool = pool
        self.index = index
        self.proc: subprocess.Popen[bytes] | None = None
        self.pid: int | None = None
        self.jobs_done = 0
        self._lock = threading.Lock()
        self._exchange_no = 0
        self._timed_out = False
        self._next_id = itertools.count(1)

    def run(self) -> None:
        if self.index > 0 or self.pool.keep_first:  # a lane whose workers all stop when idle waits for work
            try:
                self._spawn()  # warm up before the first job arrives
            except Exception:
                log.exception("%s worker %d failed to start", self.pool.name, self.index)
        while True:
            job = self.pool._take(self)
            if job is None:
                self.stop()  # the pool closed; also catches a worker respawned while it was closing
                return
            if isinstance(job, _Idle):
                log.info("render worker %d idle for %.0f s: stopped until work comes", self.index, self.pool.idle_s)
                self.stop()
                continue
            try:
                result = self._run(job)
            except BaseException as exc:  # the job must always end, or its waiters hang
                self.pool._complete(job, error=exc)
            else:
                self.pool._complete(job, result)
            if self.proc is None and not self.pool._closed:
                # Replace a killed or crashed worker now, after its caller has the answer, not before.
                self._respawn_quietly()

    def _run(self, job: PoolJob) -> Any:
        if self.proc is None or self.proc.poll() is not None:
            self._reap()
            self._spawn()
        message = {"id": next(self._next_id), "op": job.op, "args": job.args}
        try:
            reply = self._exchange(message, job.timeout_s)
        except _WorkerGone as gone:
            self._reap()
            path = job.args.get("path") or job.args.get("pdf_path")
            if gone.timed_out:
                log.warning("%s of %s overran %.1f s: worker killed", job.op, path, job.timeout_s)
                error = IngestError.of("doc.timeout")
            else:
                log.warning("render worker died during %s of %s", job.op, path)
                error = IngestError.of("doc.crashed")
            raise error from None
        self.jobs_done += 1
        if self.jobs_done >= self.pool.max_jobs_per_worker:
            # MuPDF keeps caches and fragments its heap: a fresh process now and then keeps memory flat.
            self.stop()
        job.seconds = (reply.get("result") or {}).get("seconds")
        if reply.get("ok"):
            result = reply["result"]
            if job.op == "inspect":
                return DocInfo.from_dict(result["info"])
            if job.op == "render":
                return Path(result["path"])
            return result
        if reply.get("kind") == "ingest":
            raise IngestError.from_dict(reply["error"])
        message = reply.get("error", {}).get("message", "bad request")
        if reply.get("kind") == "os":  # with its errno: a full or read-only disk is said as such (faults.py)
            code = reply.get("error", {}).get("errno")
            raise OSError(code, message) if isinstance(code, int) else OSError(message)
        raise ValueError(message)

    def _exchange(self, message: dict[str, Any] | None, timeout_s: float) -> dict[str, Any]:
        proc = self.proc
        assert proc is not None and proc.stdin is not None and proc.stdout is not None
        with self._lock:
            self._exchange_no += 1
            number = self._exchange_no
            self._timed_out = False
        # A timer rather than a read timeout: it works the same on real and green threads, and a killed
        # worker closes its end of the pipe, which ends the read below.
        timer = threading.Timer(timeout_s, self._on_timeout, (proc, number))
        timer.daemon = True
        timer.start()
        try:
            if message is not None:
                wire.send(proc.stdin, message)
            reply = wire.receive(proc.stdout)
        except (wire.WireClosed, OSError, ValueError):
            timer.cancel()
            with self._lock:
                timed_out = self._timed_out and self._exchange_no == number
                self._exchange_no += 1
            raise _WorkerGone(timed_out) from None
        timer.cancel()
        with self._lock:
            # From here a timer that fires finds a stale number and does nothing.
            killed_late = self._timed_out and self._exchange_no == number
            self._exchange_no += 1
        if killed_late:
            # The answer beat the kill by a hair: keep the answer, replace the dying worker.
            self._reap()
        return reply

    def _on_timeout(self, proc: subprocess.Popen[bytes], number: int) -> None:
        with self._lock:
            if number != self._exchange_no:
                return
            self._timed_out = True
        try:
            proc.kill()
        except OSError:
            pass

    def _spawn(self) -> None:
        # The worker dies with the server (runner.py: every child does), so a killed server leaves no worker, nor
        # the converter it runs (which dies with the worker: convert.py).
        self.proc = runner.start(
            "meeting_server.documents.worker", "--memory-mb", str(self.pool.limits.worker_memory_mb),
            "--nice", str(self.pool.nice), *(["--background"] if self.pool.background else []),
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, bufsize=0, close_fds=True, background=self.pool.background
        )
        self.jobs_done = 0
        try:
            hello = self._exchange(None, _STARTUP_TIMEOUT_S)
        except _WorkerGone:
            self._reap()
            raise RuntimeError("render worker did not start") from None
        self.pid = int(hello["pid"])

    def _respawn_quietly(self) -> None:
        try:
            self._spawn()
        except Exception:
            # The next job retries; say why once here rather than failing this caller twice.
            log.exception("render worker %d failed to restart", self.index)

    def _reap(self) -> None:
        proc, self.proc, self.pid = self.proc, None, None
        if proc is None:
            return
        try:
            proc.kill()
        except OSError:
            pass
        proc.wait()
        for stream in (proc.stdin, proc.stdout):
            if stream is not None:
                try:
                    stream.close()
                except OSError:
                    pass

    def stop(self) -> None:
        """End the worker: closing its stdin asks it to exit; kill it if it does not."""
        proc = self.proc
        if proc is None:
            return
        try:
            if proc.stdin is not None:
                proc.stdin.close()
            proc.wait(timeout=2.0)
        except (OSError, subprocess.TimeoutExpired):
            pass
        self._reap()


def pre_render_document(
    pool: RenderPool,
    pdf_path: Path | str,
    content_hash: str,
    page_count: int,
    widths: Iterable[int] = STANDARD_WIDTHS,
    progress_cb: Callable[[int, int], None] | None = None,
    *,
    fmt: str = "webp",
    priority: Priority = Priority.BACKGROUND,
) -> PreRenderResult:
    """Render every page at every width ahead of time, in page order; progress_cb(pages_done, page_count).

    Jobs run at background priority, so the presented page and uploads go first. A page that fails is
    recorded and the rest still render; a document removed meanwhile stops it (JobCancelled).
    """
    started = time.monotonic()
    widths = tuple(widths)
    jobs = [
        [pool.submit_render(pdf_path, content_hash, page, width, fmt=fmt, priority=priority) for width in widths]
        for page in range(page_count)
    ]
    rendered = 0
    failed: list[tuple[int, int, str]] = []
    for page, page_jobs in enumerate(jobs):
        for width, job in zip(widths, page_jobs, strict=True):
            try:
                job.result()
                rendered += 1
            except IngestError as exc:
                failed.append((page, width, exc.code))
        if progress_cb is not None:
            progress_cb(page + 1, page_count)
    return PreRenderResult(page_count, rendered, tuple(failed), round(time.monotonic() - started, 3))
