"""Dense and hybrid retrieval with real embedders, and ingestion failures."""

import pytest

from knowledge import retrieval, services
from knowledge.models import Chunk, Document
from siganteng.ai.base import ProviderError
from siganteng.ai.embeddings.tests.test_embedders import openai_handler
from siganteng.testing import Reply

pytestmark = pytest.mark.django_db


@pytest.fixture
def local_embedder(settings):
    settings.EMBEDDER = "local"
    settings.KB_FUSION_WEIGHTS = {"*:*": (1.0, 1.0)}
    return settings


def test_it_finds_paraphrases_with_the_local_model(local_embedder, en_tenant):
    for ext, body in [
        ("deliver", "Your parcel arrives within three working days."),
        ("pay", "We accept credit cards and bank transfers."),
        ("hours", "Our store opens at nine in the morning."),
    ]:
        services.document_upsert(tenant=en_tenant, external_id=ext, title="", body=body, index_now=True)
    chunk = Chunk.objects.get(document__external_id="deliver")
    assert chunk.embedding_model == "all-MiniLM-L6-v2" and chunk.vector().shape == (384,)
    dense = services.search(tenant=en_tenant, query="how long does shipping take", mode="dense", k=1)
    assert [(h.external_id, h.retrievers) for h in dense] == [("deliver", ["dense"])]
    hybrid = services.search(tenant=en_tenant, query="bank transfer payment", k=3)
    assert hybrid[0].external_id == "pay" and hybrid[0].retrievers == ["lexical", "dense"]
    assert all(set(h.retrievers) <= {"lexical", "dense"} for h in hybrid)


def test_it_refreshes_the_cached_matrix_when_knowledge_changes(local_embedder, en_tenant, other_tenant):
    services.document_upsert(
        tenant=en_tenant, external_id="a", title="", body="Parcels arrive in 3 days.", index_now=True
    )
    services.document_upsert(
        tenant=other_tenant, external_id="b", title="", body="Parcels arrive in 3 days.", index_now=True
    )
    assert [h.external_id for h in services.search(tenant=en_tenant, query="delivery", mode="dense")] == ["a"]
    first = retrieval.tenant_matrix(en_tenant.pk, "all-MiniLM-L6-v2")
    assert retrieval.tenant_matrix(en_tenant.pk, "all-MiniLM-L6-v2") is first  # cached
    doc = services.document_upsert(
        tenant=en_tenant, external_id="c", title="", body="Refunds take a week.", index_now=True
    )
    assert len(retrieval.tenant_matrix(en_tenant.pk, "all-MiniLM-L6-v2").chunk_ids) == 2
    services.document_delete(document=doc)
    hits = services.search(tenant=en_tenant, query="refund", mode="dense", k=10)
    assert [h.external_id for h in hits] == ["a"]


def test_it_uses_the_dense_weight_for_the_tenants_language(local_embedder, id_tenant, settings):
    settings.KB_FUSION_WEIGHTS = {"indonesian:local": (1.0, 0.0), "*:*": (1.0, 1.0)}
    services.document_upsert(tenant=id_tenant, external_id="a", title="", body="Barang dikirim besok.", index_now=True)
    hits = services.search(tenant=id_tenant, query="kiriman")
    assert [h.retrievers for h in hits] == [["lexical"]]


def test_it_embeds_in_batches_with_openai_and_records_failures(settings, local_server, en_tenant):
    settings.EMBEDDER, settings.OPENAI_API_KEY = "openai", "sk-test"
    settings.OPENAI_BASE_URL, settings.LLM_MAX_RETRIES = local_server.url, 0
    settings.KB_CHUNK_TARGET_TOKENS, settings.KB_CHUNK_OVERLAP_TOKENS = 20, 0
    local_server.handler = openai_handler
    body = "\n\n".join(f"Paragraph {i} talks about shipping option number {i} in detail." for i in range(200))
    doc = services.document_upsert(tenant=en_tenant, external_id="long", title="", body=body, index_now=True)
    assert doc.status == "INDEXED" and doc.chunk_count == 200
    assert [len(r.json()["input"]) for r in local_server.requests] == [96, 96, 8]
    assert Chunk.objects.filter(document=doc, embedding_model="text-embedding-3-small").count() == 200

    local_server.handler = lambda req: Reply(401, {"error": {"message": "invalid api key"}})
    doc = services.document_upsert(tenant=en_tenant, external_id="long", title="", body=body + " More.", index_now=True)
    assert doc.status == "FAILED" and "401" in doc.error and "invalid api key" in doc.error
    # The previous chunks stay searchable until a good version replaces them.
    assert Chunk.objects.filter(document=doc).count() == 200

    local_server.handler = lambda req: Reply(503, {"error": {"message": "overloaded"}})
    with pytest.raises(ProviderError):  # transient: re-raised so the queue retries
        services.document_index(document_id=doc.pk, force=True)
    doc.refresh_from_db()
    assert doc.status == "FAILED" and "503" in doc.error
    local_server.handler = openai_handler
    again = services.document_upsert(
        tenant=en_tenant, external_id="long", title="", body=body + " More.", index_now=True
    )
    assert again.status == "INDEXED" and again.error == ""


def test_it_skips_work_for_a_duplicate_wake_up(id_tenant):
    doc = services.document_upsert(tenant=id_tenant, external_id="a", title="", body="Teks.", index_now=True)
    ids = list(Chunk.objects.values_list("id", flat=True))
    services.document_index(document_id=doc.pk)
    assert list(Chunk.objects.values_list("id", flat=True)) == ids
    assert services.document_index(document_id="00000000-0000-0000-0000-000000000000") is None
    assert Document.objects.get().status == "INDEXED"
