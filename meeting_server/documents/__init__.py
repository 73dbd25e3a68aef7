"""Uploads to page images: inspection, conversion, rendering in worker processes, and text search.

The only package that imports PyMuPDF, and only in ingest.py, render.py and the worker process;
what is exported here loads without it, so the web process stays light. Typical use in the server
(create the pool at start-up, after eventlet.monkey_patch(), never at import):

    pool = RenderPool(instance / "page-cache")                  # workers start in the background
    info = pool.inspect(upload_path, pdf_out=derived_path)     # DocInfo, or IngestError(.code, .message)
    image = pool.render(info.pdf_path, info.content_hash, 0, PHONE_WIDTH, priority=Priority.HIGH)
    pre_render_document(pool, info.pdf_path, info.content_hash, info.page_count, STANDARD_WIDTHS, progress)
"""

from meeting_server.documents import fastpath
from meeting_server.documents.cache import (
    LARGE_WIDTH,
    PHONE_WIDTH,
    STANDARD_WIDTHS,
    cache_path,
    document_cache_dir,
    watermark_key,
)
from meeting_server.documents.convert import libreoffice_available
from meeting_server.documents.model import DEFAULT_LIMITS, INGEST_CODES, DocInfo, IngestError, Limits, Priority
from meeting_server.documents.pool import (
    JobCancelled,
    PoolJob,
    PreRenderResult,
    RenderPool,
    default_pool_size,
    pre_render_document,
)
from meeting_server.documents.textsearch import fold_vietnamese, snippet, to_fts5_query, to_tsquery

__all__ = [
    "DEFAULT_LIMITS",
    "INGEST_CODES",
    "LARGE_WIDTH",
    "PHONE_WIDTH",
    "STANDARD_WIDTHS",
    "DocInfo",
    "IngestError",
    "JobCancelled",
    "Limits",
    "PoolJob",
    "PreRenderResult",
    "Priority",
    "RenderPool",
    "cache_path",
    "default_pool_size",
    "fastpath",
    "document_cache_dir",
    "fold_vietnamese",
    "libreoffice_available",
    "pre_render_document",
    "snippet",
    "to_fts5_query",
    "to_tsquery",
    "watermark_key",
]
