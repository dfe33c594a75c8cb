"""Ingestion through a real django-q2 cluster."""

import pytest

from knowledge import services
from knowledge.models import Document
from siganteng.testing import qcluster, wait_until


@pytest.mark.integration
@pytest.mark.django_db(transaction=True)
def test_it_indexes_upserted_documents_in_the_task_cluster(make_tenant):
    tenant = make_tenant("toko", locale="id")
    doc = services.document_upsert(
        tenant=tenant, external_id="a", title="Pengiriman", body="Barang dikirim setiap hari kerja."
    )
    assert doc.status == "PENDING"
    with qcluster():
        wait_until(
            lambda: Document.objects.get(pk=doc.pk).status == "INDEXED",
            timeout=60,
            message="the document to be indexed",
        )
    assert [h.external_id for h in services.search(tenant=tenant, query="kiriman")] == ["a"]
