"""Run one CPU-bound function in a fresh child process, so the eventlet loop that carries every page turn and
ballot never waits on it (join cards, and anything else that builds a file on request).

`call("meeting_server.documents.cards:build_from_payload", payload)` starts `python -m meeting_server.offload`,
sends the JSON payload on stdin and returns the bytes the function wrote. Under eventlet the subprocess module is
patched, so only the calling green thread waits.
"""

from __future__ import annotations

import importlib
import json
import logging
import subprocess
import sys
from typing import Any

from meeting_server import runner
from meeting_server.domain.errors import DomainError
from meeting_server.faults import disk_fault

log = logging.getLogger(__name__)


class OffloadFailed(DomainError):
    """The child process failed or ran out of time."""

    code = "offload.failed"


def call(target: str, payload: dict[str, Any], timeout: float = 120) -> bytes:
    """Run `module:function(payload) -> bytes` in a child process and return its bytes."""
    try:
        proc = runner.run("meeting_server.offload", target, input=json.dumps(payload).encode(), capture_output=True,
                          timeout=timeout, check=False, background=True)
    except subprocess.TimeoutExpired as exc:
        raise OffloadFailed("Máy chủ xử lý quá lâu; hãy thử lại.") from exc
    if proc.returncode != 0:
        # The child's stderr (a traceback) is for the log, never for the person.
        tail = proc.stderr.decode(errors="replace")[-2000:]
        log.error("offload %s exited with %s:\n%s", target, proc.returncode, tail)
        fault = disk_fault(OSError(tail))
        if fault is not None:
            raise fault
        raise OffloadFailed("Máy chủ không tạo được tệp; hãy thử lại. Nếu vẫn lỗi, hãy báo kỹ thuật viên.")
    return proc.stdout


def main() -> None:
    """Child side: read the payload, call the target, write its bytes (as background work: runner.yield_cpu)."""
    runner.yield_cpu()
    module, _, func = sys.argv[1].partition(":")
    fn = getattr(importlib.import_module(module), func)
    out = fn(json.loads(sys.stdin.buffer.read()))
    sys.stdout.buffer.write(out)
    sys.stdout.buffer.flush()


if __name__ == "__main__":
    main()
