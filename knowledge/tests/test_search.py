"""Upsert, indexing and lexical search on whichever database the suite runs on."""

import pytest

from knowledge import services
from knowledge.models import Chunk, Document
from siganteng.errors import InvalidInput

pytestmark = pytest.mark.django_db


def upsert(tenant, external_id, body, title="", tags=None, **kw):
    return services.document_upsert(
        tenant=tenant, external_id=external_id, title=title, body=body, tags=tags, index_now=True, **kw
    )


def test_it_indexes_and_finds_a_document(id_tenant):
    doc = upsert(id_tenant, "ongkir", "Barang dikirim dari Jakarta setiap hari kerja.", title="Pengiriman")
    assert doc.status == Document.Status.INDEXED and doc.chunk_count == 1
    hits = services.search(tenant=id_tenant, query="kapan barang dikirim?")
    assert [h.external_id for h in hits] == ["ongkir"]
    hit = hits[0]
    assert hit.document_id == str(doc.pk) and hit.title == "Pengiriman" and hit.retrievers == ["lexical"]
    assert hit.score > 0 and "dikirim" in hit.text


def test_it_stems_indonesian_kiriman_finds_dikirim(id_tenant):
    upsert(id_tenant, "a", "Semua barang dikirim dengan kurir JNE.")
    upsert(id_tenant, "b", "Pembayaran bisa lewat transfer bank.")
    assert [h.external_id for h in services.search(tenant=id_tenant, query="kiriman")] == ["a"]


def test_it_stems_english_shipping_finds_shipped(en_tenant):
    upsert(en_tenant, "a", "Orders are shipped within two business days.")
    upsert(en_tenant, "b", "Payment by card or bank transfer.")
    assert [h.external_id for h in services.search(tenant=en_tenant, query="shipping")] == ["a"]


def test_it_upserts_idempotently(id_tenant):
    first = upsert(id_tenant, "x", "Retur dalam 7 hari.", title="Retur")
    chunk_ids = list(Chunk.objects.filter(document=first).values_list("id", flat=True))
    again = upsert(id_tenant, "x", "Retur dalam 7 hari.", title="Retur")
    assert again.pk == first.pk and again.action == "unchanged" and first.action == "created"
    assert list(Chunk.objects.filter(document=first).values_list("id", flat=True)) == chunk_ids
    assert Document.objects.filter(tenant=id_tenant).count() == 1


def test_it_replaces_chunks_on_update(id_tenant):
    doc = upsert(id_tenant, "x", "Retur dalam 7 hari.")
    updated = upsert(id_tenant, "x", "Pengembalian dana dalam 14 hari kerja.")
    assert updated.action == "updated" and updated.pk == doc.pk
    texts = list(Chunk.objects.filter(document=doc).values_list("text", flat=True))
    assert texts == ["Pengembalian dana dalam 14 hari kerja."]
    assert services.search(tenant=id_tenant, query="retur 7") == [] or all(
        "7 hari" not in h.text for h in services.search(tenant=id_tenant, query="retur 7")
    )
    assert services.search(tenant=id_tenant, query="pengembalian dana")[0].external_id == "x"


def test_it_deletes_a_document_and_its_chunks(id_tenant):
    doc = upsert(id_tenant, "x", "Retur dalam 7 hari.")
    services.document_delete(document=doc)
    assert not Chunk.objects.filter(tenant=id_tenant).exists()
    assert services.search(tenant=id_tenant, query="retur") == []


def test_it_filters_by_tag(id_tenant):
    upsert(id_tenant, "a", "Ongkir gratis untuk pembelian di atas 100 ribu.", tags=["promo"])
    upsert(id_tenant, "b", "Ongkir dihitung per kilogram.", tags=["pengiriman"])
    hits = services.search(tenant=id_tenant, query="ongkir", tags=["pengiriman"])
    assert [h.external_id for h in hits] == ["b"]
    assert len(services.search(tenant=id_tenant, query="ongkir")) == 2


def test_it_handles_emoji_and_mixed_scripts(en_tenant):
    upsert(en_tenant, "jp", "Free shipping 🚚 to Tokyo 東京 and 大阪 — café ❤️ مرحبا")
    upsert(en_tenant, "other", "Returns accepted within 30 days.")
    assert [h.external_id for h in services.search(tenant=en_tenant, query="東京")] == ["jp"]
    assert [h.external_id for h in services.search(tenant=en_tenant, query="cafe 🚚")] == ["jp"]
    assert [h.external_id for h in services.search(tenant=en_tenant, query="مرحبا")] == ["jp"]
    assert services.search(tenant=en_tenant, query="🚚❤️") == []
    assert services.search(tenant=en_tenant, query='" OR * NEAR( AND -') == []


@pytest.mark.parametrize("body", ["", "   \n\t  "])
def test_it_rejects_an_empty_body_with_a_field_error(id_tenant, body):
    with pytest.raises(InvalidInput) as err:
        upsert(id_tenant, "x", body)
    assert "body" in err.value.fields
    assert not Document.objects.exists()


def test_it_never_returns_another_tenants_passages(id_tenant, other_tenant):
    upsert(other_tenant, "secret", "Rahasia perusahaan: barang dikirim dari gudang rahasia.")
    upsert(id_tenant, "mine", "Toko kami buka setiap hari.")
    for query in ["rahasia", "barang dikirim gudang", "globex", "secret", "toko", "*", "t" + b"globex".hex()]:
        for hit in services.search(tenant=id_tenant, query=query, k=50):
            assert hit.external_id == "mine"


def test_it_splits_long_documents_into_overlapping_chunks(id_tenant, settings):
    settings.KB_CHUNK_TARGET_TOKENS, settings.KB_CHUNK_OVERLAP_TOKENS = 50, 10
    body = "# Pengiriman\n\n" + " ".join(f"kata{i}" for i in range(200)) + "\n\n## Retur\n\nRetur 7 hari."
    doc = upsert(id_tenant, "long", body)
    chunks = list(Chunk.objects.filter(document=doc).order_by("ordinal"))
    assert len(chunks) > 4 and all(body[c.start : c.end] == c.text for c in chunks)
    assert all(c.token_count <= 50 for c in chunks)
    assert chunks[-1].text.startswith("## Retur")
    assert chunks[1].start < chunks[0].end  # overlap
