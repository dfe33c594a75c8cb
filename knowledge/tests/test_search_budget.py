"""Lexical search when every query word is common: the ranked candidates are bounded
(KB_PG_MATCH_BUDGET) and common words' frequencies come from the column statistics,
without losing the passage that holds all the words. Runs on both databases; the
bounds only exist on PostgreSQL."""

import pytest
from django.db import connection

from knowledge import services

pytestmark = pytest.mark.django_db


def upsert(tenant, external_id, body, tags=None):
    return services.document_upsert(
        tenant=tenant, external_id=external_id, title="", body=body, tags=tags, index_now=True
    )


@pytest.fixture
def common_words(en_tenant):
    # "parcel" is in every document, "courier" in half of them, "refund" in one.
    for i in range(8):
        upsert(en_tenant, f"c{i}", f"Parcel number {i} goes by courier.", tags=["all"])
        upsert(en_tenant, f"t{i}", f"Parcel tracking page {i}.", tags=["all"])
    upsert(en_tenant, "best", "Parcel refund: the courier returns the parcel.", tags=["all"])
    return en_tenant


def test_it_ranks_passages_holding_every_common_word_within_a_small_budget(common_words, settings):
    # Both words are in more chunks than the budget: the candidates hold both first.
    settings.KB_PG_MATCH_BUDGET = settings.KB_CANDIDATES = 3
    for tags in (None, ["all"]):
        hits = services.search(tenant=common_words, query="parcel courier", k=3, tags=tags)
        assert len(hits) == 3 and all(h.external_id[0] in "cb" for h in hits)
    assert services.search(tenant=common_words, query="courier refund", k=1)[0].external_id == "best"


def test_it_estimates_common_words_from_column_statistics(common_words, settings):
    if connection.vendor != "postgresql":
        pytest.skip("pg_stats is PostgreSQL's")
    from knowledge import retrieval

    with connection.cursor() as cur:
        cur.execute("ANALYZE knowledge_chunk")
    settings.KB_PG_DF_ESTIMATE_FROM = 1
    settings.KB_PG_STATS_TTL = 0.0
    n, dfs = retrieval._pg_term_stats(common_words.pk, ["parcel", "refund"])
    assert n == 17 and dfs["refund"] == 1  # rare: counted
    assert 1 <= dfs["parcel"] <= n  # common: estimated from pg_stats
    assert [h.external_id for h in services.search(tenant=common_words, query="refund parcel", k=1)] == ["best"]


def test_it_leaves_the_planner_settings_as_they_were(common_words):
    if connection.vendor != "postgresql":
        pytest.skip("planner settings are PostgreSQL's")
    services.search(tenant=common_words, query="parcel refund")
    with connection.cursor() as cur:
        cur.execute("SELECT current_setting('enable_seqscan'), current_setting('enable_indexscan')")
        assert cur.fetchone() == ("on", "on")
