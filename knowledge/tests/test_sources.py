"""Scheduled sources fetched from a real local HTTP server."""

from datetime import timedelta

import pytest
from django.utils import timezone

from knowledge import services, sources
from knowledge.models import Chunk, Document, Source
from siganteng.testing import Reply

pytestmark = pytest.mark.django_db

PAGE = """<html><head><title>Kebijakan Pengiriman</title><style>p{}</style></head><body>
<nav>Menu</nav><h1>Pengiriman</h1><p>Barang dikirim setiap hari kerja dari gudang Bandung.</p>
<h2>Ongkir</h2><p>Gratis ongkir di atas Rp100.000.</p><script>track()</script></body></html>"""


def rss(items):
    body = "".join(
        f"<item><title>{t}</title><link>https://toko.example/{k}</link><guid>{k}</guid>"
        f"<description><![CDATA[<p>{d}</p>]]></description></item>"
        for k, t, d in items
    )
    return f'<?xml version="1.0"?><rss version="2.0"><channel><title>Blog</title>{body}</channel></rss>'


def make_source(tenant, url, kind="page", **kw):
    return Source.objects.create(tenant=tenant, url=url, kind=kind, next_fetch_at=timezone.now(), **kw)


def index_pending():
    for pk in Document.objects.filter(status=Document.Status.PENDING).values_list("pk", flat=True):
        services.document_index(document_id=pk)


def test_it_ingests_a_page_and_honours_etags(tenant, local_server, allow_private):
    def handler(req):
        if req.headers.get("if-none-match") == '"v1"':
            return Reply(304)
        return Reply(200, PAGE, {"Content-Type": "text/html; charset=utf-8", "ETag": '"v1"'})

    local_server.handler = handler
    source = make_source(tenant, local_server.url + "/kebijakan")
    sources.source_fetch(source_id=source.pk)
    source.refresh_from_db()
    assert source.last_status == "ok" and source.last_http_status == 200 and source.etag == '"v1"'
    doc = Document.objects.get(origin=source)
    assert doc.title == "Kebijakan Pengiriman" and doc.source == "url"
    assert "Barang dikirim" in doc.body and "track()" not in doc.body and "Menu" not in doc.body
    index_pending()
    hits = services.search(tenant=tenant, query="ongkir gratis")
    assert hits and hits[0].document_id == str(doc.pk)
    chunk_ids = set(Chunk.objects.values_list("id", flat=True))

    sources.source_fetch(source_id=source.pk)
    source.refresh_from_db()
    assert local_server.requests[-1].headers["if-none-match"] == '"v1"'
    assert source.last_status == "not_modified" and source.last_http_status == 304
    assert set(Chunk.objects.values_list("id", flat=True)) == chunk_ids


def test_it_ingests_a_feed_and_replaces_only_changed_items(tenant, local_server, allow_private):
    items = [("p1", "Promo", "Diskon 10% untuk semua sepatu."), ("p2", "Retur", "Retur gratis dalam 7 hari.")]
    local_server.handler = lambda req: Reply(200, rss(items), {"Content-Type": "application/rss+xml"})
    source = make_source(tenant, local_server.url + "/feed.xml", kind="feed", tags=["blog"])
    sources.source_fetch(source_id=source.pk)
    source.refresh_from_db()
    assert source.last_status == "ok" and source.documents_seen == 2
    docs = {d.source_url.rsplit("/", 1)[1]: d for d in Document.objects.filter(origin=source)}
    assert set(docs) == {"p1", "p2"} and docs["p1"].tags == ["blog"] and docs["p1"].title == "Promo"
    index_pending()
    before = {d.pk: set(d.chunks.values_list("id", flat=True)) for d in docs.values()}

    # Same content (no validators sent by this server): nothing is re-indexed.
    sources.source_fetch(source_id=source.pk)
    assert not Document.objects.filter(status=Document.Status.PENDING).exists()
    assert {d.pk: set(d.chunks.values_list("id", flat=True)) for d in docs.values()} == before

    items[1] = ("p2", "Retur", "Retur gratis dalam 30 hari.")
    sources.source_fetch(source_id=source.pk)
    assert list(Document.objects.filter(status=Document.Status.PENDING).values_list("pk", flat=True)) == [docs["p2"].pk]
    index_pending()
    assert set(docs["p1"].chunks.values_list("id", flat=True)) == before[docs["p1"].pk]
    assert "30 hari" in docs["p2"].chunks.get().text
    assert Document.objects.filter(origin=source).count() == 2


def test_it_reads_atom_feeds_and_sitemaps(tenant, local_server, allow_private):
    atom = (
        '<?xml version="1.0"?><feed xmlns="http://www.w3.org/2005/Atom"><title>x</title>'
        '<entry><id>urn:1</id><title>Jam buka</title><link href="https://toko.example/jam"/>'
        '<content type="html">&lt;p&gt;Buka jam 9 sampai 17.&lt;/p&gt;</content></entry></feed>'
    )
    sitemap = (
        '<?xml version="1.0"?><urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">'
        f"<url><loc>{local_server.url}/a</loc></url><url><loc>{local_server.url}/b</loc></url></urlset>"
    )

    def handler(req):
        if req.path == "/atom":
            return Reply(200, atom, {"Content-Type": "application/atom+xml"})
        if req.path == "/sitemap.xml":
            return Reply(200, sitemap, {"Content-Type": "application/xml"})
        return Reply(
            200,
            f"<html><title>{req.path}</title><body><p>Halaman {req.path[1:]}</p></body></html>",
            {"Content-Type": "text/html"},
        )

    local_server.handler = handler
    feed = make_source(tenant, local_server.url + "/atom", kind="feed")
    sources.source_fetch(source_id=feed.pk)
    assert Document.objects.get(origin=feed).body == "Buka jam 9 sampai 17."
    smap = make_source(tenant, local_server.url + "/sitemap.xml", kind="sitemap")
    sources.source_fetch(source_id=smap.pk)
    assert sorted(Document.objects.filter(origin=smap).values_list("body", flat=True)) == ["Halaman a", "Halaman b"]


def test_it_records_a_timeout(tenant, local_server, allow_private, settings):
    settings.KB_SOURCE_TIMEOUT = 0.3
    local_server.handler = lambda req: Reply(200, PAGE, delay=1.0)
    source = make_source(tenant, local_server.url + "/slow")
    sources.source_fetch(source_id=source.pk)
    source.refresh_from_db()
    assert source.last_status == "error" and source.last_error.startswith("timeout")
    assert not Document.objects.exists()


def test_it_records_an_oversize_body(tenant, local_server, allow_private, settings):
    settings.KB_SOURCE_MAX_BYTES = 1000
    local_server.handler = lambda req: Reply(200, "<p>" + "x" * 5000 + "</p>", {"Content-Type": "text/html"})
    source = make_source(tenant, local_server.url + "/big")
    sources.source_fetch(source_id=source.pk)
    source.refresh_from_db()
    assert source.last_status == "error" and source.last_error.startswith("too_large")
    assert not Document.objects.exists()


def test_it_refuses_loopback_without_the_setting(tenant, local_server, settings):
    settings.OUTBOUND_ALLOW_PRIVATE = False
    source = make_source(tenant, local_server.url + "/kebijakan")
    sources.source_fetch(source_id=source.pk)
    source.refresh_from_db()
    assert source.last_status == "error" and source.last_error.startswith("private_address")
    assert local_server.requests == [] and not Document.objects.exists()


def test_it_enqueues_due_sources_once(tenant):
    due = make_source(tenant, "https://toko.example/a")
    later = make_source(tenant, "https://toko.example/b")
    Source.objects.filter(pk=later.pk).update(next_fetch_at=timezone.now() + timedelta(hours=1))
    assert sources.sources_enqueue_due() == 1
    assert sources.sources_enqueue_due() == 0
    due.refresh_from_db()
    assert due.next_fetch_at > timezone.now() + timedelta(minutes=59)


def test_it_manages_sources_over_the_api(client_a, client_b):
    resp = client_a.post(
        "/api/v1/kb/sources",
        {"url": "https://toko.example/feed", "kind": "feed", "refresh_minutes": 30, "tags": ["blog"]},
    )
    assert resp.status_code == 201, resp.json()
    sid = resp.json()["id"]
    assert client_a.post("/api/v1/kb/sources", {"url": "https://toko.example/feed"}).status_code == 400
    assert client_a.post("/api/v1/kb/sources", {"url": "ftp://x"}).json()["error"]["fields"]["url"]
    assert client_a.post("/api/v1/kb/sources", {"url": "https://x.example", "refresh_minutes": 1}).json()["error"][
        "fields"
    ]["refresh_minutes"]
    assert [s["id"] for s in client_a.get("/api/v1/kb/sources").json()["results"]] == [sid]
    assert client_b.get("/api/v1/kb/sources").json()["results"] == []
    for method, path in [("get", ""), ("patch", ""), ("delete", ""), ("post", "/refresh")]:
        assert getattr(client_b, method)(f"/api/v1/kb/sources/{sid}{path}").status_code == 404
    patched = client_a.patch(f"/api/v1/kb/sources/{sid}", {"refresh_minutes": 120, "is_active": False}).json()
    assert patched["refresh_minutes"] == 120 and patched["is_active"] is False
    assert client_a.post(f"/api/v1/kb/sources/{sid}/refresh").status_code == 202
    assert client_a.delete(f"/api/v1/kb/sources/{sid}").status_code == 204
    assert not Source.objects.exists()
