"""An upload as a file on disk, for a child process to read: its bytes are not read, copied or hashed on the loop.

Werkzeug spools a form's file part while it parses the body (in memory up to 500 kB, then an unlinked temporary
file); `spooled_upload` gives that file (rolled to disk when it was still in memory) and its size, or, for a body
sent without a form, copies the request stream to a temporary file in large chunks. The caller hands the file's
descriptor to the child (`pass_fds`) and the child reads it whole.
"""

from __future__ import annotations

import os
import tempfile
from typing import IO, Any

from flask import request

__all__ = ["spooled_upload"]

#: Bytes copied per read of a raw request body: each read is a trip through the hub, so large.
CHUNK = 1024 * 1024


def spooled_upload(f: Any, limit: int) -> tuple[IO[bytes], int]:
    """(a file with a descriptor holding the upload, its size), the file positioned at its start. `f` is the form's
    FileStorage or None (then the raw body is the upload, read to its end). The size may exceed `limit` (by the
    route's room for a form's envelope, web/limits.py, which has refused anything larger): the caller refuses it."""
    if f is not None:
        stream = f.stream
        try:
            stream.fileno()  # a SpooledTemporaryFile rolls over to its disk file here
            out: IO[bytes] = stream
        except (AttributeError, OSError, ValueError):  # io.UnsupportedOperation: an in-memory BytesIO (small)
            out = tempfile.TemporaryFile()
            stream.seek(0)
            out.write(stream.read(limit + 1))
    else:
        out = tempfile.TemporaryFile()
        try:  # to its end: web/limits.py bounds it (Content-Length checked, a chunked body stopped with 413)
            while chunk := request.stream.read(CHUNK):
                out.write(chunk)
        except BaseException:  # a chunked body over the limit (413), a client gone
            out.close()
            raise
    out.flush()
    size = os.fstat(out.fileno()).st_size
    out.seek(0)
    return out, size
