"""Make the rendered minutes an archival PDF/A file before anything is signed (signatures keep it: they append).

The minutes carry the meeting's record as an attached JSON file (`sign.attach_record`). PDF/A-2 allows only
PDF/A files as attachments (ISO 19005-2:2011, 6.8), so the level is PDF/A-3b (ISO 19005-3:2012): PDF/A-2b plus
associated files with an /AFRelationship, which is what the record is. Everything else is the same as 2b:
XMP metadata with the pdfaid identification, an sRGB output intent with its ICC profile, every font embedded
(Liberation Serif subsets), no encryption, no JavaScript, an appearance for every widget (ISO 19005-2, 6.3.3).
"""

from __future__ import annotations

from datetime import UTC, datetime
from xml.sax.saxutils import escape

import pymupdf

__all__ = ["PDFA_CONFORMANCE", "PDFA_PART", "make_pdfa", "srgb_icc"]

PDFA_PART = 3
PDFA_CONFORMANCE = "B"


def srgb_icc() -> bytes:
    """An sRGB IEC61966-2.1 ICC profile (made by LittleCMS through Pillow, no file needed)."""
    from PIL import ImageCms

    return ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()


def _xmp(title: str, author: str, creator: str, producer: str, when: str) -> str:
    return f"""<?xpacket begin="\ufeff" id="W5M0MpCehiHzreSzNTczkc9d"?>
<x:xmpmeta xmlns:x="adobe:ns:meta/">
 <rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">
  <rdf:Description rdf:about="" xmlns:pdfaid="http://www.aiim.org/pdfa/ns/id/">
   <pdfaid:part>{PDFA_PART}</pdfaid:part>
   <pdfaid:conformance>{PDFA_CONFORMANCE}</pdfaid:conformance>
  </rdf:Description>
  <rdf:Description rdf:about="" xmlns:dc="http://purl.org/dc/elements/1.1/">
   <dc:format>application/pdf</dc:format>
   <dc:title><rdf:Alt><rdf:li xml:lang="x-default">{escape(title)}</rdf:li></rdf:Alt></dc:title>
   <dc:creator><rdf:Seq><rdf:li>{escape(author)}</rdf:li></rdf:Seq></dc:creator>
  </rdf:Description>
  <rdf:Description rdf:about="" xmlns:xmp="http://ns.adobe.com/xap/1.0/">
   <xmp:CreatorTool>{escape(creator)}</xmp:CreatorTool>
   <xmp:CreateDate>{when}</xmp:CreateDate>
   <xmp:ModifyDate>{when}</xmp:ModifyDate>
   <xmp:MetadataDate>{when}</xmp:MetadataDate>
  </rdf:Description>
  <rdf:Description rdf:about="" xmlns:pdf="http://ns.adobe.com/pdf/1.3/">
   <pdf:Producer>{escape(producer)}</pdf:Producer>
  </rdf:Description>
 </rdf:RDF>
</x:xmpmeta>
<?xpacket end="w"?>"""


def make_pdfa(pdf_bytes: bytes, now: datetime | None = None,
              attachment: tuple[str, bytes, str] | None = None) -> bytes:
    """The same document as PDF/A-3b: XMP metadata only (no Info dictionary, which pyHanko's later updates would
    let drift from the XMP), sRGB output intent, widget appearances, and `attachment` (file name, bytes,
    description) as an associated file (/AF, /AFRelationship /Source, MIME type and modification date)."""
    when = (now or datetime.now(UTC)).astimezone(UTC).replace(microsecond=0)
    doc = pymupdf.open(stream=pdf_bytes, filetype="pdf")
    try:
        if doc.is_encrypted or doc.needs_pass:
            raise ValueError("an encrypted PDF cannot be PDF/A")
        meta = dict(doc.metadata or {})
        title, author = meta.get("title") or "", meta.get("author") or ""
        creator, producer = meta.get("creator") or "meeting-server", meta.get("producer") or "meeting-server"
        doc.set_metadata({})
        doc.xref_set_key(-1, "Info", "null")
        doc.set_xml_metadata(_xmp(title, author, creator, producer, when.strftime("%Y-%m-%dT%H:%M:%SZ")))
        icc = doc.get_new_xref()
        doc.update_object(icc, "<< /N 3 >>")
        doc.update_stream(icc, srgb_icc(), compress=True)
        intent = doc.get_new_xref()
        doc.update_object(intent, f"<< /Type /OutputIntent /S /GTS_PDFA1 /OutputConditionIdentifier (sRGB "
                                  f"IEC61966-2.1) /Info (sRGB IEC61966-2.1) /DestOutputProfile {icc} 0 R >>")
        catalog = doc.pdf_catalog()
        doc.xref_set_key(catalog, "OutputIntents", f"[{intent} 0 R]")
        _empty_appearances(doc)
        if doc.xref_get_key(catalog, "AcroForm")[0] != "null":
            # SignaturesExist | AppendOnly (ISO 32000-1, 12.7.2): set here rather than by the first signature, so
            # that each signature's revision only fills its field (minutes/external.py compares revisions).
            doc.xref_set_key(catalog, "AcroForm/SigFlags", "3")
        if attachment is not None:
            _associate(doc, *attachment, when=when)
        return doc.tobytes(garbage=3, deflate=True, no_new_id=False)
    finally:
        doc.close()


def _empty_appearances(doc: pymupdf.Document) -> None:
    """Give each widget without /AP an empty normal appearance (signing replaces it with the stamp)."""
    for number in range(doc.page_count):
        kind, value = doc.xref_get_key(doc[number].xref, "Annots")
        if kind != "array":
            continue
        for ref in value.strip("[]").split(" R"):
            parts = ref.split()
            if len(parts) < 2:
                continue
            xref = int(parts[0])
            if doc.xref_get_key(xref, "Subtype")[1] != "/Widget" or doc.xref_get_key(xref, "AP")[0] != "null":
                continue
            rect = [float(x) for x in doc.xref_get_key(xref, "Rect")[1].strip("[]").split()]
            w, h = abs(rect[2] - rect[0]), abs(rect[3] - rect[1])
            form = doc.get_new_xref()
            doc.update_object(form, f"<< /Type /XObject /Subtype /Form /BBox [0 0 {w:.2f} {h:.2f}] >>")
            doc.update_stream(form, b"")
            doc.xref_set_key(xref, "AP", f"<< /N {form} 0 R >>")


def _associate(doc: pymupdf.Document, name: str, data: bytes, description: str, when: datetime) -> None:
    """Embed `data` as an associated file of the document (ISO 19005-3, 6.8): an indirect file specification
    with /AFRelationship, listed in the catalog's /AF and in the EmbeddedFiles name tree."""
    stream = doc.get_new_xref()
    doc.update_object(stream, f"<< /Type /EmbeddedFile /Subtype /application#2Fjson /Params << /ModDate "
                              f"(D:{when.strftime('%Y%m%d%H%M%S')}Z) /Size {len(data)} >> >>")
    doc.update_stream(stream, data, compress=True)
    spec = doc.get_new_xref()
    doc.update_object(spec, f"<< /Type /Filespec /F ({name}) /UF {_text(name)} /Desc {_text(description)} "
                            f"/AFRelationship /Source /EF << /F {stream} 0 R /UF {stream} 0 R >> >>")
    catalog = doc.pdf_catalog()
    doc.xref_set_key(catalog, "Names", f"<< /EmbeddedFiles << /Names [({name}) {spec} 0 R] >> >>")
    doc.xref_set_key(catalog, "AF", f"[{spec} 0 R]")


def _text(value: str) -> str:
    """A PDF text string in UTF-16BE with its byte order mark, as hex."""
    return "<FEFF" + value.encode("utf-16-be").hex().upper() + ">"
