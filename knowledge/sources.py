"""Scheduled sources: a page, an RSS/Atom feed or a sitemap the tenant keeps in its
knowledge base. Fetching goes through ``siganteng.http.fetch`` (timeout, size cap,
private-address guard) with conditional requests (ETag / Last-Modified); every item is
upserted as a document, so unchanged content re-indexes nothing. The outcome of the
last fetch (status, HTTP status, error) is recorded on the source.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.utils import timezone
from lxml import etree

from knowledge import extract
from knowledge.models import Chunk, Document, Source
from knowledge.services import clean_tags, document_upsert, knowledge_changed
from siganteng.errors import InvalidInput, field_error
from siganteng.http import OutboundError, fetch
from siganteng.queue import enqueue

logger = logging.getLogger(__name__)

_XML = etree.XMLParser(resolve_entities=False, no_network=True, huge_tree=False, recover=True)
ATOM = "{http://www.w3.org/2005/Atom}"
CONTENT = "{http://purl.org/rss/1.0/modules/content/}encoded"
SITEMAP = "{http://www.sitemaps.org/schemas/sitemap/0.9}"


@dataclass
class Item:
    key: str
    title: str
    text: str
    url: str


def _validate(url: str, refresh_minutes: int) -> None:
    if not url.lower().startswith(("http://", "https://")):
        raise field_error("url", "Must be an http or https URL.")
    if not 5 <= refresh_minutes <= 7 * 24 * 60:
        raise field_error("refresh_minutes", "Between 5 and 10080 minutes.")


def source_create(
    *, tenant, url: str, kind: str = Source.Kind.PAGE, refresh_minutes: int = 60, tags: list[str] | None = None
) -> Source:
    """Register a source and queue its first fetch. One source per URL per tenant."""
    url = url.strip()
    _validate(url, refresh_minutes)
    if Source.objects.filter(tenant=tenant, url=url).exists():
        raise field_error("url", "This tenant already has a source with this URL.")
    source = Source.objects.create(
        tenant=tenant,
        url=url,
        kind=kind,
        refresh_minutes=refresh_minutes,
        tags=clean_tags(tags),
        next_fetch_at=timezone.now(),
    )
    enqueue("knowledge.tasks.fetch_source", str(source.pk))
    return source


def source_update(*, source: Source, **changes) -> Source:
    allowed = {"refresh_minutes", "tags", "is_active", "kind"}
    for name, value in changes.items():
        if name not in allowed:
            raise field_error(name, "Cannot be changed.")
        if name == "tags":
            value = clean_tags(value)
        setattr(source, name, value)
    _validate(source.url, source.refresh_minutes)
    source.save()
    return source


def source_delete(*, source: Source) -> None:
    """Delete the source and the documents it created."""
    with transaction.atomic():
        Chunk.objects.filter(document__origin=source).delete()
        Document.objects.filter(origin=source).delete()
        source.delete()
        knowledge_changed(tenant_id=source.tenant_id)


def sources_enqueue_due(*, now=None, limit: int = 100) -> int:
    """Queue a fetch for each active source whose time has come. Each is claimed by a
    conditional update that moves ``next_fetch_at`` on, so overlapping runs never queue
    the same source twice."""
    now = now or timezone.now()
    queued = 0
    due = Source.objects.filter(is_active=True, next_fetch_at__lte=now).values_list(
        "pk", "next_fetch_at", "refresh_minutes"
    )
    for pk, next_at, minutes in due[:limit]:
        claimed = Source.objects.filter(pk=pk, next_fetch_at=next_at).update(
            next_fetch_at=now + timedelta(minutes=minutes)
        )
        if claimed:
            enqueue("knowledge.tasks.fetch_source", str(pk))
            queued += 1
    return queued


def _text(el, path: str, ns: dict | None = None) -> str:
    found = el.find(path, ns) if ns else el.find(path)
    return (found.text or "").strip() if found is not None and found.text else ""


def parse_feed(content: bytes) -> list[Item]:
    """Items of an RSS 2.0 or Atom feed (HTML content reduced to text)."""
    root = etree.fromstring(content, _XML)
    if root is None:
        raise ValueError("not XML")
    items = []
    if root.tag == f"{ATOM}feed":
        for entry in root.iter(f"{ATOM}entry"):
            link = entry.find(f"{ATOM}link[@rel='alternate']")
            if link is None:  # an lxml element with no children is falsy: test for None
                link = entry.find(f"{ATOM}link")
            url = link.get("href", "") if link is not None else ""
            html = _text(entry, f"{ATOM}content") or _text(entry, f"{ATOM}summary")
            key = _text(entry, f"{ATOM}id") or url
            items.append(Item(key, _text(entry, f"{ATOM}title"), extract.html_to_text(html)[1] if html else "", url))
    else:
        for entry in root.iter("item"):
            url = _text(entry, "link")
            html = _text(entry, CONTENT) or _text(entry, "description")
            key = _text(entry, "guid") or url or _text(entry, "title")
            items.append(Item(key, _text(entry, "title"), extract.html_to_text(html)[1] if html else "", url))
    return items


def parse_sitemap(content: bytes) -> list[str]:
    root = etree.fromstring(content, _XML)
    if root is None:
        raise ValueError("not XML")
    return [loc.text.strip() for loc in root.iter(f"{SITEMAP}loc", "loc") if loc.text and loc.text.strip()]


def _get(url: str, headers: dict[str, str] | None = None):
    return fetch(
        "GET",
        url,
        headers=headers or {},
        timeout=settings.KB_SOURCE_TIMEOUT,
        max_bytes=settings.KB_SOURCE_MAX_BYTES,
        retries=0,
    )


def _page_item(result, key: str) -> Item:
    ctype = result.headers.get("content-type", "").split(";")[0].strip().lower()
    if ctype in ("text/plain", "text/markdown"):
        return Item(key, "", result.text, result.url)
    title, text = extract.html_to_text(result.content)
    return Item(key, title, text, result.url)


def _record(
    source: Source, *, status: str, http_status: int | None, error: str = "", seen: int | None = None, headers=None
) -> None:
    source.last_status, source.last_http_status, source.last_error = status, http_status, error[:2000]
    source.last_fetched_at = timezone.now()
    if source.next_fetch_at is None or source.next_fetch_at <= source.last_fetched_at:
        source.next_fetch_at = source.last_fetched_at + timedelta(minutes=source.refresh_minutes)
    fields = ["last_status", "last_http_status", "last_error", "last_fetched_at", "next_fetch_at", "updated_at"]
    if headers is not None:
        source.etag = headers.get("etag", "")[:500]
        source.last_modified = headers.get("last-modified", "")[:100]
        fields += ["etag", "last_modified"]
    if seen is not None:
        source.documents_seen = seen
        fields.append("documents_seen")
    Source.objects.filter(pk=source.pk).update(
        **{f: getattr(source, f) for f in fields if f != "updated_at"}, updated_at=timezone.now()
    )


def source_fetch(*, source_id) -> Source | None:
    """Fetch one source now and upsert what it holds. Errors are recorded, not raised."""
    source = Source.objects.select_related("tenant").filter(pk=source_id).first()
    if source is None:
        return None
    conditional = {}
    if source.etag:
        conditional["If-None-Match"] = source.etag
    if source.last_modified:
        conditional["If-Modified-Since"] = source.last_modified
    try:
        result = _get(source.url, conditional)
    except OutboundError as exc:
        _record(source, status="error", http_status=exc.status, error=f"{exc.kind}: {exc}")
        return source
    if result.status == 304:
        _record(source, status="not_modified", http_status=304)
        return source

    errors: list[str] = []
    try:
        if source.kind == Source.Kind.FEED:
            items = parse_feed(result.content)[: settings.KB_SOURCE_MAX_ITEMS]
        elif source.kind == Source.Kind.SITEMAP:
            items = []
            for url in parse_sitemap(result.content)[: settings.KB_SOURCE_MAX_ITEMS]:
                try:
                    items.append(_page_item(_get(url), url))
                except OutboundError as exc:
                    errors.append(f"{url}: {exc.kind}: {exc}")
        else:
            items = [_page_item(result, "")]
    except (ValueError, etree.LxmlError, extract.ExtractionError) as exc:
        _record(source, status="error", http_status=result.status, error=f"parse: cannot read the content: {exc}")
        return source

    seen = 0
    for item in items:
        external_id = f"source:{source.pk}" + (f":{item.key}" if item.key else "")
        try:
            document_upsert(
                tenant=source.tenant,
                external_id=external_id[:255],
                title=item.title or item.url or source.url,
                body=item.text,
                tags=source.tags,
                source=Document.Source.URL,
                source_url=item.url or source.url,
                origin=source,
            )
            seen += 1
        except InvalidInput as exc:
            errors.append(f"{item.url or item.key}: {exc.message} {exc.fields}")
    _record(
        source,
        status="ok" if not errors else "partial",
        http_status=result.status,
        error="\n".join(errors),
        seen=seen,
        headers=result.headers,
    )
    return source


def source_refresh(*, source: Source) -> None:
    """Queue a fetch now (the API's refresh and the admin action)."""
    enqueue("knowledge.tasks.fetch_source", str(source.pk))
