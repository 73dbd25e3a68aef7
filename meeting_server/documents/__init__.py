"""Uploads to page images: inspection, conversion, rendering in worker processes, and text search.

The only package that imports PyMuPDF, and only in ingest.py, render.py and the worker process;
what is exported here loads without it, so the web process stays light.
"""

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
from meeting_server.documents.textsearch import fold_vietnamese, snippet, to_fts5_query

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
    "document_cache_dir",
    "fold_vietnamese",
    "libreoffice_available",
    "pre_render_document",
    "snippet",
    "to_fts5_query",
    "watermark_key",
]
