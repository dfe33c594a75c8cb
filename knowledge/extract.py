"""Plain text from uploaded files and fetched pages: .txt, .md, .html, .pdf, .docx."""

from __future__ import annotations

import io
import re
import zipfile
from pathlib import PurePath

from django.conf import settings

EXTENSIONS = {
    ".txt": "text",
    ".md": "text",
    ".markdown": "text",
    ".html": "html",
    ".htm": "html",
    ".pdf": "pdf",
    ".docx": "docx",
}
CONTENT_TYPES = {
    "text/plain": "text",
    "text/markdown": "text",
    "text/html": "html",
    "application/xhtml+xml": "html",
    "application/pdf": "pdf",
    "application/vnd.openxmlformats-officedocument.wordprocessingml.document": "docx",
}
_DROP_TAGS = ("script", "style", "noscript", "template", "svg", "nav", "footer", "header", "form", "iframe")
_BLOCK_TAGS = {
    "p",
    "div",
    "section",
    "article",
    "li",
    "tr",
    "br",
    "table",
    "ul",
    "ol",
    "pre",
    "blockquote",
    "h1",
    "h2",
    "h3",
    "h4",
    "h5",
    "h6",
    "dt",
    "dd",
}


class ExtractionError(Exception):
    """The file could not be read as text; the message is shown on the document."""


class ArchiveTooLarge(ExtractionError):
    """A .docx (a zip archive) would inflate past the limits: refused before parsing."""


def check_archive(data: bytes) -> None:
    """Refuse a zip-based document whose members would inflate past ``KB_ARCHIVE_MAX_BYTES``
    or that has more than ``KB_ARCHIVE_MAX_MEMBERS`` members, from its directory alone —
    nothing is decompressed. (A member never inflates past the size its header declares:
    :mod:`zipfile` stops there and checks the CRC.)"""
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            members = archive.infolist()
    except (zipfile.BadZipFile, ValueError) as exc:
        raise ExtractionError(f"Cannot read the Word document: {exc}") from None
    if len(members) > settings.KB_ARCHIVE_MAX_MEMBERS:
        raise ArchiveTooLarge(
            f"The document has {len(members)} parts; at most {settings.KB_ARCHIVE_MAX_MEMBERS} are accepted."
        )
    inflated = sum(member.file_size for member in members)
    if inflated > settings.KB_ARCHIVE_MAX_BYTES:
        raise ArchiveTooLarge(
            f"The document inflates to {inflated} bytes; at most {settings.KB_ARCHIVE_MAX_BYTES} are accepted."
        )


def storable(text: str) -> str:
    """``text`` without what a database cannot store: NUL characters (PostgreSQL refuses
    them in text) and unpaired surrogates (not encodable as UTF-8)."""
    text = text.replace("\x00", "")
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        text = text.encode("utf-8", errors="replace").decode("utf-8")
    return text


def suffix_for(filename: str, content_type: str = "") -> str:
    """The extension to store a file under: its own when it has a known one, else one
    for its content type (``notes`` sent as text/plain is kept as ``notes.txt``), so the
    ingestion task, which sees only the stored name, reads it as what it was sent as."""
    kind = kind_for(filename, content_type)
    if kind is None or PurePath(filename or "").suffix.lower() in EXTENSIONS:
        return ""
    return next(ext for ext, k in EXTENSIONS.items() if k == kind)


def kind_for(filename: str, content_type: str = "") -> str | None:
    """``text``, ``html``, ``pdf`` or ``docx`` by extension (falling back to the content type)."""
    ext = PurePath(filename or "").suffix.lower()
    if ext in EXTENSIONS:
        return EXTENSIONS[ext]
    return CONTENT_TYPES.get((content_type or "").split(";")[0].strip().lower()) if not ext else None


def _decode(data: bytes) -> str:
    for enc in ("utf-8-sig", "cp1252"):
        try:
            return data.decode(enc)
        except UnicodeDecodeError:
            continue
    return data.decode("utf-8", errors="replace")


def html_to_text(html: str | bytes) -> tuple[str, str]:
    """(title, text) of an HTML page: scripts, navigation and forms dropped, headings kept
    as Markdown headings so chunking can follow them, blocks separated by blank lines."""
    import lxml.html

    if isinstance(html, bytes) and not html.strip() or isinstance(html, str) and not html.strip():
        return "", ""
    try:
        root = lxml.html.fromstring(html)
    except Exception as exc:
        raise ExtractionError(f"Cannot parse HTML: {exc}") from None
    title = " ".join((root.findtext(".//title") or "").split())
    for bad in root.xpath("|".join(f"//{t}" for t in _DROP_TAGS)):
        bad.drop_tree()
    for tag in ("h1", "h2", "h3", "h4", "h5", "h6"):
        for el in root.iter(tag):
            level = int(tag[1])
            text = " ".join(el.text_content().split())
            el.clear()
            el.text = "\n\n" + "#" * level + " " + text + "\n\n"
    for el in root.iter():
        if isinstance(el.tag, str) and el.tag in _BLOCK_TAGS:
            el.tail = "\n\n" + (el.tail or "")
    body = root.find("body")
    text = (body if body is not None else root).text_content()
    lines = [" ".join(line.split()) for line in text.splitlines()]
    text = re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip()
    return title, text


def extract_text(data: bytes, filename: str, content_type: str = "") -> str:
    """The document text of a file, or :class:`ExtractionError` with a readable reason."""
    kind = kind_for(filename, content_type)
    if kind == "text":
        return _decode(data)
    if kind == "html":
        return html_to_text(data)[1]
    if kind == "pdf":
        from pypdf import PdfReader

        try:
            reader = PdfReader(io.BytesIO(data))
            parts, size = [], 0
            for page in reader.pages:
                text = (page.extract_text() or "").strip()
                size += len(text)
                if size > settings.KB_ARCHIVE_MAX_BYTES:
                    raise ArchiveTooLarge(
                        f"The PDF's text passes {settings.KB_ARCHIVE_MAX_BYTES} characters; split the file."
                    )
                parts.append(text)
            return "\n\n".join(parts).strip()
        except ArchiveTooLarge:
            raise
        except Exception as exc:
            raise ExtractionError(f"Cannot read the PDF: {exc}") from None
    if kind == "docx":
        import docx

        check_archive(data)
        try:
            document = docx.Document(io.BytesIO(data))
        except Exception as exc:
            raise ExtractionError(f"Cannot read the Word document: {exc}") from None
        parts = []
        for para in document.paragraphs:
            text = para.text.strip()
            if not text:
                continue
            style = (para.style.name or "").lower() if para.style is not None else ""
            if style.startswith("heading") and style[-1:].isdigit():
                text = "#" * int(style[-1]) + " " + text
            parts.append(text)
        return "\n\n".join(parts)
    raise ExtractionError(f"Unsupported file type: {PurePath(filename).suffix or content_type or 'unknown'}.")
