"""The knowledge API over HTTP: upsert, list, get, delete, upload, search."""

import io

import docx
import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from knowledge import services
from knowledge.models import Chunk, Document

pytestmark = pytest.mark.django_db


def index_pending():
    for pk in Document.objects.filter(status=Document.Status.PENDING).values_list("pk", flat=True):
        services.document_index(document_id=pk)


def test_it_upserts_one_document_idempotently(client_a, tenant):
    body = {"external_id": "ship", "title": "Shipping", "body": "Orders are shipped daily.", "tags": ["faq"]}
    first = client_a.post("/api/v1/kb/upsert", body)
    assert first.status_code == 200, first.json()
    assert first.json()["action"] == "created" and first.json()["status"] == "PENDING"
    index_pending()
    again = client_a.post("/api/v1/kb/upsert", body).json()
    assert again == {**first.json(), "status": "INDEXED", "action": "unchanged"}
    changed = client_a.post("/api/v1/kb/upsert", {**body, "body": "Orders ship twice a day."}).json()
    assert changed["action"] == "updated" and changed["status"] == "PENDING" and changed["id"] == first.json()["id"]


def test_it_upserts_a_batch_all_or_nothing(client_a, tenant):
    docs = [{"external_id": f"d{i}", "body": f"Dokumen nomor {i}."} for i in range(3)]
    resp = client_a.post("/api/v1/kb/upsert", {"documents": docs})
    assert resp.status_code == 200
    assert [d["external_id"] for d in resp.json()["documents"]] == ["d0", "d1", "d2"]
    bad = client_a.post(
        "/api/v1/kb/upsert", {"documents": [{"external_id": "x", "body": "ok"}, {"external_id": "y", "body": "  "}]}
    )
    assert bad.status_code == 400 and "documents" in bad.json()["error"]["fields"]
    assert not Document.objects.filter(external_id__in=["x", "y"]).exists()
    too_many = client_a.post(
        "/api/v1/kb/upsert", {"documents": [{"external_id": f"n{i}", "body": "b"} for i in range(101)]}
    )
    assert too_many.status_code == 400 and "documents" in too_many.json()["error"]["fields"]


@pytest.mark.parametrize(
    "payload, field",
    [
        ({"external_id": "x", "body": ""}, "body"),
        ({"external_id": "x", "body": " \n\t "}, "body"),
        ({"external_id": "", "body": "text"}, "external_id"),
        ({"body": "text"}, "external_id"),
        ({"external_id": "x", "body": "text", "tags": "nope"}, "tags"),
    ],
)
def test_it_rejects_bad_documents_naming_the_field(client_a, payload, field):
    resp = client_a.post("/api/v1/kb/upsert", payload)
    assert resp.status_code == 400 and field in resp.json()["error"]["fields"]
    assert not Document.objects.exists()


def test_it_lists_with_filters_and_cursor_pagination(client_a, tenant):
    for i in range(5):
        services.document_upsert(
            tenant=tenant,
            external_id=f"d{i}",
            title="",
            body=f"teks {i}",
            tags=["a"] if i % 2 else ["b"],
            index_now=i < 3,
        )
    page = client_a.get("/api/v1/kb/documents", {"page_size": 2}).json()
    assert len(page["results"]) == 2 and page["next"]
    rest = client_a.get(page["next"]).json()
    assert len(rest["results"]) == 2
    tagged = client_a.get("/api/v1/kb/documents", {"tag": "a"}).json()["results"]
    assert sorted(d["external_id"] for d in tagged) == ["d1", "d3"]
    pending = client_a.get("/api/v1/kb/documents", {"status": "PENDING"}).json()["results"]
    assert sorted(d["external_id"] for d in pending) == ["d3", "d4"]
    assert client_a.get("/api/v1/kb/documents", {"status": "NOPE"}).json()["error"]["fields"]["status"]


def test_it_gets_and_deletes_a_document(client_a, client_b, tenant):
    doc = services.document_upsert(tenant=tenant, external_id="x", title="T", body="Isi dokumen.", index_now=True)
    got = client_a.get(f"/api/v1/kb/documents/{doc.pk}").json()
    assert got["body"] == "Isi dokumen." and got["status"] == "INDEXED" and got["chunk_count"] == 1
    assert client_b.get(f"/api/v1/kb/documents/{doc.pk}").status_code == 404
    assert client_b.delete(f"/api/v1/kb/documents/{doc.pk}").status_code == 404
    assert client_a.get("/api/v1/kb/documents/not-a-uuid").status_code == 404
    assert client_a.delete(f"/api/v1/kb/documents/{doc.pk}").status_code == 204
    assert not Document.objects.exists() and not Chunk.objects.exists()


def test_it_searches_over_http_within_the_tenant(client_a, client_b, tenant, other_tenant):
    services.document_upsert(
        tenant=tenant, external_id="ship", title="Shipping", body="Orders are shipped daily.", index_now=True
    )
    services.document_upsert(
        tenant=other_tenant, external_id="theirs", title="", body="We shipped it yesterday.", index_now=True
    )
    results = client_a.post("/api/v1/kb/search", {"query": "shipping", "k": 3}).json()["results"]
    assert [r["external_id"] for r in results] == ["ship"]
    assert results[0]["retrievers"] == ["lexical"] and results[0]["score"] > 0 and results[0]["document_id"]
    assert [r["external_id"] for r in client_b.post("/api/v1/kb/search", {"query": "shipping"}).json()["results"]] == [
        "theirs"
    ]
    bad = client_a.post("/api/v1/kb/search", {"query": "", "k": 500})
    assert bad.status_code == 400 and {"query", "k"} <= set(bad.json()["error"]["fields"])


def test_it_requires_the_knowledge_scope(make_client, tenant):
    client = make_client(tenant, scopes=["chat"])
    assert client.post("/api/v1/kb/search", {"query": "x"}).status_code == 403


def _docx_bytes(text: str) -> bytes:
    document = docx.Document()
    document.add_heading("Pengembalian", level=1)
    document.add_paragraph(text)
    buf = io.BytesIO()
    document.save(buf)
    return buf.getvalue()


@pytest.mark.parametrize(
    "name, data, needle",
    [
        ("faq.txt", b"Barang dikirim setiap hari.", "dikirim"),
        ("faq.md", b"# FAQ\n\nBarang dikirim setiap hari.", "dikirim"),
        (
            "faq.html",
            b"<html><head><title>FAQ</title><script>x()</script></head><body><h1>FAQ</h1>"
            b"<p>Barang dikirim setiap hari.</p></body></html>",
            "dikirim",
        ),
        ("retur.docx", None, "retur"),
    ],
)
def test_it_uploads_and_indexes_files(client_a, tenant, name, data, needle):
    data = data if data is not None else _docx_bytes("Retur diterima dalam 7 hari.")
    resp = client_a.post(
        "/api/v1/kb/documents/upload", {"file": SimpleUploadedFile(name, data), "tags": "faq, x"}, format="multipart"
    )
    assert resp.status_code == 202, resp.json()
    assert resp.json()["status"] == "PENDING" and resp.json()["tags"] == ["faq", "x"]
    doc = Document.objects.get(pk=resp.json()["id"])
    assert doc.file.read() == data
    index_pending()
    doc.refresh_from_db()
    assert doc.status == "INDEXED", doc.error
    assert "x()" not in doc.body
    hits = services.search(tenant=tenant, query=needle)
    assert hits and hits[0].document_id == str(doc.pk)
    again = client_a.post(
        "/api/v1/kb/documents/upload", {"file": SimpleUploadedFile(name, data), "tags": "faq, x"}, format="multipart"
    )
    assert again.json()["action"] == "unchanged"


def test_it_uploads_a_pdf(client_a, tenant):
    from pypdf import PdfWriter

    writer = PdfWriter()
    writer.add_blank_page(width=200, height=200)
    buf = io.BytesIO()
    writer.write(buf)
    resp = client_a.post(
        "/api/v1/kb/documents/upload", {"file": SimpleUploadedFile("blank.pdf", buf.getvalue())}, format="multipart"
    )
    assert resp.status_code == 202
    index_pending()
    doc = Document.objects.get(pk=resp.json()["id"])
    # A PDF without a text layer fails with a readable reason instead of an empty index.
    assert doc.status == "FAILED" and "no extractable text" in doc.error


def test_it_answers_413_for_oversize_uploads(client_a, settings):
    settings.KB_UPLOAD_MAX_BYTES = 100
    resp = client_a.post(
        "/api/v1/kb/documents/upload", {"file": SimpleUploadedFile("big.txt", b"x" * 101)}, format="multipart"
    )
    assert resp.status_code == 413 and "file" in resp.json()["error"]["fields"]
    assert not Document.objects.exists()


def test_it_answers_415_for_other_types(client_a):
    resp = client_a.post(
        "/api/v1/kb/documents/upload", {"file": SimpleUploadedFile("x.exe", b"MZ\x90\x00")}, format="multipart"
    )
    assert resp.status_code == 415 and "file" in resp.json()["error"]["fields"]
    missing = client_a.post("/api/v1/kb/documents/upload", {}, format="multipart")
    assert missing.status_code == 400 and "file" in missing.json()["error"]["fields"]
    assert not Document.objects.exists()
