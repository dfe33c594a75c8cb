"""Ingestion never leaves a document PENDING forever: unstorable text is cleaned, archives
that would inflate past the limits are refused before parsing, a file without an
extension is read as its content type says, and a lost wake-up is recovered."""

from __future__ import annotations

import datetime as dt
import io
import zipfile

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone

from knowledge import extract, services
from knowledge.models import Chunk, Document
from siganteng.queue import broker
from siganteng.testing import qcluster, wait_until

pytestmark = pytest.mark.django_db


def _index_pending() -> None:
    for pk in Document.objects.filter(status=Document.Status.PENDING).values_list("pk", flat=True):
        services.document_index(document_id=pk)


def _upload(client, name: str, data: bytes, content_type: str = "application/octet-stream"):
    return client.post(
        "/api/v1/kb/documents/upload", {"file": SimpleUploadedFile(name, data, content_type)}, format="multipart"
    )


def _bomb(inflated: int, members: int = 1) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("[Content_Types].xml", "<Types/>")
        for i in range(members):
            archive.writestr(f"word/part{i}.xml", b"\0" * (inflated // members))
    return buf.getvalue()


def test_it_indexes_a_text_file_with_nul_bytes_without_them(client_a, tenant):
    resp = _upload(client_a, "notes.txt", b"Garansi\x00 resmi 12 bulan.\x00\n\nRetur 7 hari.")
    assert resp.status_code == 202, resp.json()
    _index_pending()
    doc = Document.objects.get()
    assert doc.status == "INDEXED", doc.error
    assert "\x00" not in doc.body and "Garansi resmi 12 bulan." in doc.body
    assert Chunk.objects.filter(document=doc).exists()
    assert not any("\x00" in text for text in Chunk.objects.values_list("text", flat=True))


def test_it_cleans_unstorable_text():
    assert extract.storable("a\x00b") == "ab"
    assert extract.storable("x\ud800y").encode("utf-8") == b"x?y"


def test_it_refuses_a_docx_that_inflates_past_the_limit_at_upload(client_a, settings):
    settings.KB_ARCHIVE_MAX_BYTES = 200_000
    data = _bomb(2_000_000)
    assert len(data) < 10_000
    resp = _upload(client_a, "bomb.docx", data)
    assert resp.status_code == 413, resp.json()
    assert "file" in resp.json()["error"]["fields"]
    assert not Document.objects.exists()


def test_it_refuses_a_docx_with_too_many_members_at_upload(client_a, settings):
    settings.KB_ARCHIVE_MAX_MEMBERS = 20
    resp = _upload(client_a, "many.docx", _bomb(1000, members=50))
    assert resp.status_code == 413, resp.json()
    assert not Document.objects.exists()


def test_it_fails_an_already_stored_bomb_before_parsing_it(client_a, settings):
    resp = _upload(client_a, "bomb.docx", _bomb(2_000_000))
    assert resp.status_code == 202
    settings.KB_ARCHIVE_MAX_BYTES = 200_000  # lowered after the upload was accepted
    _index_pending()
    doc = Document.objects.get()
    assert doc.status == "FAILED" and "inflates to" in doc.error


def test_it_reads_a_file_without_extension_by_its_content_type(client_a, tenant):
    resp = _upload(client_a, "catatan", b"Toko buka setiap hari.", content_type="text/plain")
    assert resp.status_code == 202, resp.json()
    _index_pending()
    doc = Document.objects.get()
    assert doc.status == "INDEXED", doc.error
    assert doc.external_id == "catatan" and "Toko buka" in doc.body


def test_it_refuses_a_file_without_extension_or_known_type_at_once(client_a):
    resp = _upload(client_a, "blob", b"\x89PNG....", content_type="image/png")
    assert resp.status_code == 415
    assert not Document.objects.exists()


def test_the_reconciler_queues_documents_whose_wake_up_was_lost(tenant, settings):
    settings.KB_PENDING_RECOVER_AFTER = 60
    stale = services.document_upsert(tenant=tenant, external_id="old", title="Lama", body="Dokumen lama.")
    fresh = services.document_upsert(tenant=tenant, external_id="new", title="Baru", body="Dokumen baru.")
    Document.objects.filter(pk=stale.pk).update(updated_at=timezone.now() - dt.timedelta(minutes=5))
    assert services.documents_recover_pending() == 1
    # Touched: the next pass does not queue it again until another interval passes.
    assert services.documents_recover_pending() == 0
    assert Document.objects.get(pk=fresh.pk).status == "PENDING"


@pytest.mark.integration
@pytest.mark.django_db(transaction=True)
def test_a_recovered_document_is_indexed_by_the_cluster(make_tenant, settings):
    tenant = make_tenant("toko", locale="id")
    doc = services.document_upsert(tenant=tenant, external_id="a", title="Kirim", body="Barang dikirim setiap hari.")
    broker().purge_queue()  # the wake-up is lost, as when the broker or a worker died
    Document.objects.filter(pk=doc.pk).update(updated_at=timezone.now() - dt.timedelta(hours=1))
    assert services.documents_recover_pending() == 1
    with qcluster():
        wait_until(lambda: Document.objects.get(pk=doc.pk).status == "INDEXED", timeout=60, message="indexing")
