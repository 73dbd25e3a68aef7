"""A render worker process: reads jobs from stdin, answers on stdout, one at a time (`python -m` this module).

Jobs are JSON messages framed by wire.py. Images go to the render cache on disk, never through the pipe.
The pool kills a worker whose job overruns, and respawns one that crashes.
"""

from __future__ import annotations

import argparse
import logging
import os
import subprocess
import sys
import time
import traceback
from pathlib import Path
from typing import Any

from meeting_server import runner
from meeting_server.documents import wire
from meeting_server.documents.model import IngestError, Limits

log = logging.getLogger("meeting_server.documents.worker")


def main(argv: list[str] | None = None) -> int:
    """Serve jobs until stdin closes."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--memory-mb", type=int, default=0, help="address-space limit, 0 for none")
    parser.add_argument("--nice", type=int, default=0, help="added scheduling niceness")
    parser.add_argument("--background", action="store_true", help="idle scheduling class (runner.yield_cpu)")
    args = parser.parse_args(argv)
    # Started by runner.py, it dies with the server however the server dies (runner.py says how).

    # Keep the protocol on private descriptors and point fd 0/1 elsewhere: a library that prints to
    # stdout (MuPDF warnings, a stray print) must not corrupt a message, nor may soffice read our jobs.
    proto_in = os.fdopen(os.dup(0), "rb", buffering=0)
    proto_out = os.fdopen(os.dup(1), "wb", buffering=0)
    devnull = os.open(os.devnull, os.O_RDONLY)
    os.dup2(devnull, 0)
    os.close(devnull)
    os.dup2(2, 1)

    logging.basicConfig(level=logging.WARNING, stream=sys.stderr, format="render-worker %(process)d: %(message)s")
    if args.background:
        # The conversion lane: LibreOffice (which inherits this) runs only on CPU time the server does not want.
        runner.yield_cpu()
    else:
        # The web server shares the CPU: rendering ahead must never make a vote feel slow (SCHED_BATCH + nice).
        runner.batch_cpu(args.nice)
    if args.memory_mb:
        _limit_memory(args.memory_mb)

    # Imported after the descriptors are safe, since importing PyMuPDF may already print.
    import pymupdf

    from meeting_server.documents import ingest, render

    pymupdf.TOOLS.mupdf_display_errors(False)
    pymupdf.TOOLS.mupdf_display_warnings(False)
    docs = render.DocCache(size=4)
    handler = _Handler(ingest, render, docs)

    wire.send(proto_out, {"ready": True, "pid": os.getpid()})
    while True:
        try:
            message = wire.receive(proto_in)
        except wire.WireClosed:
            return 0
        try:
            wire.send(proto_out, handler.handle(message))
        except BrokenPipeError:  # the server stopped while this page was drawn: nobody is waiting for it
            return 0


class _Handler:
    def __init__(self, ingest: Any, render: Any, docs: Any) -> None:
        self.ingest = ingest
        self.render = render
        self.docs = docs

    def handle(self, message: dict[str, Any]) -> dict[str, Any]:
        job_id = message.get("id")
        started = time.perf_counter()
        try:
            op = message["op"]
            args = message.get("args", {})
            if op == "inspect":
                result = self._inspect(args)
            elif op == "render":
                result = self._render(args)
            elif op == "recognize":
                result = self._recognize(args)
            elif op == "ping":
                result = {"pid": os.getpid()}
            else:
                raise ValueError(f"unknown op {op!r}")
        except IngestError as exc:
            return {"id": job_id, "ok": False, "kind": "ingest", "error": exc.to_dict()}
        except ValueError as exc:
            return {"id": job_id, "ok": False, "kind": "value", "error": {"message": str(exc)}}
        except OSError as exc:
            # MuPDF's own failures arrive wrapped as IngestError; an OSError is ours: a missing upload,
            # a full disk or an unwritable cache. That is the server's fault, not the file's.
            return {"id": job_id, "ok": False, "kind": "os",
                    "error": {"message": f"{type(exc).__name__}: {exc}", "errno": exc.errno}}
        except MemoryError:
            # The address-space limit was reached: the file asks for more memory than a page should need.
            self.docs.close()
            return _damaged(job_id)
        except Exception:
            log.warning("job %s failed:\n%s", job_id, traceback.format_exc())
            return _damaged(job_id)
        result["seconds"] = round(time.perf_counter() - started, 4)
        return {"id": job_id, "ok": True, "result": result}

    def _inspect(self, args: dict[str, Any]) -> dict[str, Any]:
        info = self.ingest.inspect_file(
            Path(args["path"]),
            limits=Limits.from_dict(args["limits"]),
            password=args.get("password"),
            pdf_out=Path(args["pdf_out"]) if args.get("pdf_out") else None,
            convert_dir=args.get("convert_dir"),
        )
        return {"info": info.to_dict()}

    def _recognize(self, args: dict[str, Any]) -> dict[str, Any]:
        try:
            return _recognize_blocks(args)
        except (RuntimeError, subprocess.TimeoutExpired) as exc:  # no tesseract, or it overran: no text, no crash
            log.warning("OCR of page %s failed: %s", args.get("page_index"), exc)
            return {"blocks": [], "failed": str(exc)[:300]}

    def _render(self, args: dict[str, Any]) -> dict[str, Any]:
        data = self.render.render_page(
            Path(args["pdf_path"]),
            int(args["page_index"]),
            int(args["width"]),
            args["fmt"],
            args.get("quality"),
            args.get("watermark"),
            docs=self.docs,
            max_pixels=int(args["max_pixels"]),
        )
        out = Path(args["out_path"])
        self.render.write_atomic(out, data)
        return {"path": str(out), "bytes": len(data)}


def _recognize_blocks(args: dict[str, Any]) -> dict[str, Any]:
    from meeting_server.documents import reading

    blocks = reading.recognize(Path(args["pdf_path"]), int(args["page_index"]), timeout_s=float(args["timeout_s"]))
    return {"blocks": blocks}


def _damaged(job_id: Any) -> dict[str, Any]:
    return {"id": job_id, "ok": False, "kind": "ingest", "error": IngestError.of("doc.damaged").to_dict()}


def _limit_memory(megabytes: int) -> None:
    try:
        import resource
    except ImportError:  # not on POSIX
        return
    soft = megabytes * 1024 * 1024
    _, hard = resource.getrlimit(resource.RLIMIT_AS)
    if hard != resource.RLIM_INFINITY:
        soft = min(soft, hard)
    # Only the soft limit: LibreOffice, started from here, gets its own (convert.py, office.limit_resources).
    resource.setrlimit(resource.RLIMIT_AS, (soft, hard))


if __name__ == "__main__":
    sys.exit(main())
