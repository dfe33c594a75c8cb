"""The admin pages and the demo seed."""

import io

import pytest
from django.contrib.auth import get_user_model

from knowledge import seed, services
from knowledge.models import Chunk, Document, Source

pytestmark = pytest.mark.django_db


@pytest.fixture
def staff_client(client):
    user = get_user_model().objects.create_superuser("staff", "staff@example.com", "pw-123456789")
    client.force_login(user)
    return client


def test_it_seeds_demo_knowledge_idempotently(make_tenant):
    tenant = make_tenant("demo", locale="id")
    out = io.StringIO()
    seed.run(stdout=out)
    assert Document.objects.filter(tenant=tenant, status="INDEXED").count() == 3
    chunk_ids = set(Chunk.objects.values_list("id", flat=True))
    seed.run(stdout=out)
    assert set(Chunk.objects.values_list("id", flat=True)) == chunk_ids
    assert "unchanged" in out.getvalue()
    hits = services.search(tenant=tenant, query="berapa lama barang dikirim ke luar jawa?", k=3)
    assert hits[0].external_id == "demo-pengiriman"
    assert (
        services.search(tenant=tenant, query="bisa bayar lewat QRIS atau kartu kredit?")[0].external_id
        == "demo-pembayaran"
    )
    assert services.search(tenant=tenant, query="cara retur barang")[0].external_id == "demo-retur"


def test_it_shows_documents_and_retrieval_in_the_admin(staff_client, make_tenant):
    tenant = make_tenant("demo", locale="id")
    seed.run(stdout=io.StringIO())
    doc = Document.objects.get(external_id="demo-retur")
    assert staff_client.get("/admin/knowledge/document/").status_code == 200
    page = staff_client.get(f"/admin/knowledge/document/{doc.pk}/change/")
    assert page.status_code == 200 and "Retur dan pengembalian dana" in page.content.decode()
    found = staff_client.get("/admin/knowledge/document/retrieve/", {"tenant": tenant.pk, "query": "retur", "k": 3})
    assert found.status_code == 200 and "Pengembalian barang (retur)" in found.content.decode()
    resp = staff_client.post("/admin/knowledge/document/", {"action": "reindex", "_selected_action": [doc.pk]})
    assert resp.status_code == 302
    doc.refresh_from_db()
    assert doc.status == "PENDING"
    staff_client.post("/admin/knowledge/document/", {"action": "delete_with_chunks", "_selected_action": [doc.pk]})
    assert not Document.objects.filter(pk=doc.pk).exists() and not Chunk.objects.filter(document_id=doc.pk).exists()
    Source.objects.create(tenant=tenant, url="https://toko.example/feed", kind="feed")
    assert staff_client.get("/admin/knowledge/source/").status_code == 200
