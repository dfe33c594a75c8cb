"""Hybrid retrieval: full-text (PostgreSQL tsvector / SQLite FTS5 bm25) and dense vectors,
fused by weighted reciprocal-rank fusion.

- Lexical: the query is analysed like the chunks (knowledge.analysis) and its terms are
  OR-ed — plain ``websearch_to_tsquery`` ANDs every word, which finds nothing for most
  natural-language questions. PostgreSQL ranks with idf-weighted ``ts_rank`` (see
  ``_pg_lexical``); SQLite ranks with FTS5 ``bm25``.
- Dense: cosine similarity (dot product of unit vectors) over a per-tenant float32
  matrix cached in the process, reloaded when the tenant's ``KnowledgeVersion`` moves.
- Fusion: score = sum over retrievers of ``weight / (rrf_k + rank)``; the weights per
  language and embedder come from ``settings.KB_FUSION_WEIGHTS`` (chosen by bench/retrieval.py).
"""

from __future__ import annotations

import math
import threading
import time
from collections import OrderedDict
from contextlib import contextmanager
from dataclasses import dataclass, field

import numpy as np
from django.conf import settings
from django.db import connection, transaction

from knowledge import analysis
from knowledge.models import Chunk, Document, KnowledgeVersion
from siganteng.ai.registry import get_embedder


@dataclass
class SearchHit:
    chunk_id: str
    document_id: str
    external_id: str
    title: str
    text: str
    score: float
    retrievers: list[str] = field(default_factory=list)


def fusion_weights(language: str, embedder_name: str) -> tuple[float, float]:
    """(lexical, dense) weights for a language and embedder, falling back to ``*``."""
    table = settings.KB_FUSION_WEIGHTS
    for key in (f"{language}:{embedder_name}", f"*:{embedder_name}", f"{language}:*", "*:*"):
        if key in table:
            lex, dense = table[key]
            return float(lex), float(dense)
    return 1.0, 1.0


def _tag_clause(tags: list[str] | None, alias: str) -> tuple[str, list[str]]:
    if not tags:
        return "", []
    ors = " OR ".join(f"{alias}.tags_key LIKE %s" for _ in tags)
    return f" AND ({ors})", [f"%|{t}|%" for t in tags]


_PG_STATS: OrderedDict[str, tuple[int, int, dict[str, int]]] = OrderedDict()
_pg_stats_lock = threading.Lock()
_PG_COMMON: list = [0.0, {}]  # [loaded at (monotonic s), {lexeme: fraction of rows}]


def _pg_common_terms() -> dict[str, float]:
    """The column statistics' most common lexemes of ``search_vector`` and the fraction of
    rows holding each (``pg_stats``, refreshed by ANALYZE / autovacuum), re-read at most
    every ``KB_PG_STATS_TTL`` seconds."""
    now = time.monotonic()
    with _pg_stats_lock:
        loaded, common = _PG_COMMON
    if common is not None and loaded and now - loaded < settings.KB_PG_STATS_TTL:
        return common
    with connection.cursor() as cur:
        cur.execute(
            "SELECT most_common_elems::text::text[], most_common_elem_freqs FROM pg_stats "
            "WHERE schemaname = current_schema() AND tablename = 'knowledge_chunk' "
            "AND attname = 'search_vector'"
        )
        row = cur.fetchone()
    # The frequencies array ends with extra entries (min, max): zip stops at the lexemes.
    common = dict(zip(row[0], row[1], strict=False)) if row and row[0] else {}
    with _pg_stats_lock:
        _PG_COMMON[:] = [now, common]
    return common


def _pg_term_stats(tenant_id: str, terms: list[str]) -> tuple[int, dict[str, int]]:
    """(number of chunks, document frequency of each term) for the tenant.

    Counting a common word's rows is what made a first query slow (tens of thousands of
    rows), so a word among the column statistics' most common lexemes (``pg_stats``) that
    is estimated in at least ``KB_PG_DF_ESTIMATE_FROM`` chunks is not counted: its
    fraction of all rows times the tenant's chunks is used. Other words are rarer than
    every common lexeme, so counting them through the GIN index is cheap; they are
    counted exactly, up to ``KB_PG_DF_CAP`` (a bound for when statistics are missing).
    Counts are cached in the process per knowledge version; only terms not seen since the
    last change are counted, in one query."""
    version = knowledge_version(tenant_id)
    with _pg_stats_lock:
        cached = _PG_STATS.get(tenant_id)
        if cached is None or cached[0] != version:
            cached = None
    if cached is None:
        with connection.cursor() as cur:
            cur.execute("SELECT count(*) FROM knowledge_chunk WHERE tenant_id = %s", [tenant_id])
            n = int(cur.fetchone()[0])
        cached = (version, n, {})
    version, n, counted = cached
    cap = settings.KB_PG_DF_CAP
    common = _pg_common_terms()
    least = settings.KB_PG_DF_ESTIMATE_FROM
    estimated = {t: min(n, round(common[t] * n)) for t in terms if t in common and common[t] * n >= least}
    missing = [t for t in terms if t not in counted and t not in estimated]
    if missing:
        counts = ", ".join(
            "(SELECT count(*) FROM (SELECT 1 FROM knowledge_chunk WHERE tenant_id = %s AND "
            "search_vector @@ plainto_tsquery('simple', %s) LIMIT %s) s)"
            for _ in missing
        )
        params: list = []
        for t in missing:
            params += [tenant_id, t, cap]
        with _gin_only() as cur:
            cur.execute(f"SELECT {counts}", params)
            row = cur.fetchone()
        counted = {**counted, **{t: int(c) for t, c in zip(missing, row, strict=True)}}
        cached = (version, n, counted)
    with _pg_stats_lock:
        _PG_STATS[tenant_id] = cached
        _PG_STATS.move_to_end(tenant_id)
        while len(_PG_STATS) > 4 * settings.KB_MATRIX_CACHE_TENANTS:
            _PG_STATS.popitem(last=False)
    return n, {**counted, **estimated}


def _tsquery(terms: list[str], op: str) -> str:
    """A ``to_tsquery('simple', …)`` text joining quoted lexemes with ``op`` (| or &)."""
    return f" {op} ".join("'" + t.replace("\\", "\\\\").replace("'", "''") + "'" for t in terms)


def _pg_lexical(tenant_id: str, terms: list[str], depth: int, tags: list[str] | None) -> list[tuple[int, float]]:
    """BM25-like ranking on PostgreSQL: ``ts_rank`` alone has no inverse document
    frequency, so each term's (length-normalised, saturating) ``ts_rank`` is weighted by
    its BM25 idf from ``_pg_term_stats``. Terms found in none of the tenant's chunks are
    dropped.

    At most ``KB_PG_MATCH_BUDGET`` chunks are ranked: the candidates match the rarest terms
    whose chunks fit the budget, which is exact BM25 over the OR of the terms whenever the
    dropped terms are common words (a chunk holding only common words ranks low anyway).
    When even the rarest term is in more chunks than the budget (every query word is
    common), the candidates are the chunks holding all the terms, then any holding the
    rarest, up to the budget."""
    n, dfs = _pg_term_stats(tenant_id, terms)
    terms = [t for t in terms if dfs.get(t)]
    if not terms:
        return []
    idf = {t: math.log(1 + (n - dfs[t] + 0.5) / (dfs[t] + 0.5)) for t in terms}
    budget = max(settings.KB_PG_MATCH_BUDGET, depth)
    match_terms, left = [], budget
    for t in sorted(terms, key=lambda t: dfs[t]):
        if match_terms and dfs[t] > left:
            break
        match_terms.append(t)
        left -= dfs[t]
    # The candidates carry their tsvector detoasted once (``|| ''``): each ts_rank below
    # would otherwise fetch and decompress it again, once per query term.
    score = " + ".join(f"{idf[t]:.6f} * ts_rank(c.v, to_tsquery('simple', %s), %s)" for t in terms)
    score_params: list = []
    for t in terms:
        score_params += [_tsquery([t], "|"), settings.KB_PG_RANK_NORMALIZATION]
    tag_sql, tag_params = _tag_clause(tags, "d")
    join = " JOIN knowledge_document d ON d.id = c.document_id" if tags else ""
    cand = (
        f"SELECT c.id, c.search_vector || ''::tsvector AS v FROM knowledge_chunk c{join} "
        f"WHERE c.tenant_id = %s AND c.search_vector @@ to_tsquery('simple', %s){tag_sql}"
    )
    if left >= 0:
        # Exact: every chunk matching the chosen terms (their counts fit the budget).
        # OFFSET 0 keeps the subquery from being flattened into the score expression.
        candidates = f"({cand} OFFSET 0) c"
        cand_params = [tenant_id, _tsquery(match_terms, "|"), *tag_params]
    else:
        every, rarest = _tsquery(terms, "&"), _tsquery(match_terms, "|")
        candidates = (
            f"((SELECT * FROM ({cand} LIMIT %s) a) UNION ALL "
            f"(SELECT * FROM ({cand} AND NOT c.search_vector @@ to_tsquery('simple', %s) LIMIT %s) o) "
            "LIMIT %s) c"
        )
        cand_params = [
            *[tenant_id, every, *tag_params, budget],
            *[tenant_id, rarest, *tag_params, every, budget],
            budget,
        ]
    sql = f"SELECT c.id, ({score}) AS score FROM {candidates} ORDER BY score DESC, c.id LIMIT %s"
    params = [*score_params, *cand_params, depth]
    with _gin_only() as cur:
        cur.execute(sql, params)
        return [(int(r[0]), float(r[1])) for r in cur.fetchall()]


@contextmanager
def _gin_only():
    """A cursor whose full-text queries the planner keeps to bitmap scans (the GIN index).

    A chunk row is over 2 kB, so its tsvector is TOASTed, which the planner does not cost:
    it picks a sequential or tenant-index scan that detoasts every row to test ``@@``,
    where the GIN bitmap finds the matching rows exactly
    and only those are read. The settings are local to the transaction and put back
    afterwards."""
    with transaction.atomic(using=connection.alias), connection.cursor() as cur:
        cur.execute(
            "SELECT current_setting('enable_seqscan'), current_setting('enable_indexscan'), "
            "set_config('enable_seqscan', 'off', true), set_config('enable_indexscan', 'off', true)"
        )
        seqscan, indexscan = cur.fetchone()[:2]
        yield cur
        cur.execute(
            "SELECT set_config('enable_seqscan', %s, true), set_config('enable_indexscan', %s, true)",
            [seqscan, indexscan],
        )


def _sqlite_lexical(tenant_id: str, terms: list[str], depth: int, tags: list[str] | None) -> list[tuple[int, float]]:
    tenant_key = "t" + tenant_id.encode().hex()
    match = f"tenant_key : {tenant_key} AND search_text : (" + " OR ".join(f'"{t}"' for t in terms) + ")"
    tag_sql, tag_params = _tag_clause(tags, "d")
    join = " JOIN knowledge_chunk c ON c.id = f.rowid JOIN knowledge_document d ON d.id = c.document_id" if tags else ""
    sql = (
        "SELECT f.rowid, bm25(knowledge_chunk_fts, 1.0, 0.0) AS rank "
        f"FROM knowledge_chunk_fts f{join} WHERE knowledge_chunk_fts MATCH %s{tag_sql} "
        "ORDER BY rank LIMIT %s"
    )
    with connection.cursor() as cur:
        cur.execute(sql, [match, *tag_params, depth])
        # FTS5's bm25() is negative (lower is better); report the usual positive BM25 score.
        return [(int(r[0]), -float(r[1])) for r in cur.fetchall()]


def lexical_search(*, tenant, query: str, depth: int, tags: list[str] | None = None) -> list[tuple[int, float]]:
    """(chunk id, score) best first, only ``tenant``'s chunks."""
    terms = analysis.query_terms(query, analysis.language_for_locale(tenant.locale))
    if not terms:
        return []
    terms = terms[: settings.KB_MAX_QUERY_TERMS]
    if connection.vendor == "postgresql":
        return _pg_lexical(tenant.pk, terms, depth, tags)
    return _sqlite_lexical(tenant.pk, terms, depth, tags)


# --- dense -------------------------------------------------------------------------------


@dataclass
class _Matrix:
    version: int
    chunk_ids: np.ndarray  # int64
    doc_codes: np.ndarray  # int32 index into doc_ids
    doc_ids: list[str]
    vectors: np.ndarray  # float32, unit rows


_cache: OrderedDict[tuple[str, str], _Matrix] = OrderedDict()
_cache_lock = threading.Lock()


def knowledge_version(tenant_id: str) -> int:
    return KnowledgeVersion.objects.filter(tenant_id=tenant_id).values_list("version", flat=True).first() or 0


def tenant_matrix(tenant_id: str, model: str) -> _Matrix:
    """The tenant's vectors for ``model``, from the process cache unless its version moved."""
    version = knowledge_version(tenant_id)
    key = (tenant_id, model)
    with _cache_lock:
        cached = _cache.get(key)
        if cached is not None and cached.version == version:
            _cache.move_to_end(key)
            return cached
    rows = (
        Chunk.objects.filter(tenant_id=tenant_id, embedding_model=model, embedding__isnull=False)
        .order_by("id")
        .values_list("id", "document_id", "embedding")
    )
    ids, codes, doc_ids, blobs = [], [], {}, []
    for cid, did, blob in rows.iterator(chunk_size=2000):
        ids.append(cid)
        codes.append(doc_ids.setdefault(str(did), len(doc_ids)))
        blobs.append(bytes(blob))
    if blobs:
        vectors = np.frombuffer(b"".join(blobs), dtype=np.float32).reshape(len(blobs), -1)
    else:
        vectors = np.zeros((0, 1), dtype=np.float32)
    matrix = _Matrix(
        version, np.asarray(ids, dtype=np.int64), np.asarray(codes, dtype=np.int32), list(doc_ids), vectors
    )
    with _cache_lock:
        _cache[key] = matrix
        _cache.move_to_end(key)
        while len(_cache) > settings.KB_MATRIX_CACHE_TENANTS:
            _cache.popitem(last=False)
    return matrix


def dense_search(
    *, tenant, query_vector: np.ndarray, model: str, depth: int, tags: list[str] | None = None
) -> list[tuple[int, float]]:
    """(chunk id, cosine) best first over the tenant's vectors made by ``model``."""
    matrix = tenant_matrix(tenant.pk, model)
    if not len(matrix.chunk_ids) or matrix.vectors.shape[1] != query_vector.shape[-1]:
        return []
    scores = matrix.vectors @ np.asarray(query_vector, dtype=np.float32).reshape(-1)
    if tags:
        allowed = set(
            str(pk)
            for pk in Document.objects.filter(tenant=tenant, tags_key__regex=_tags_regex(tags)).values_list(
                "pk", flat=True
            )
        )
        mask = np.fromiter((d in allowed for d in matrix.doc_ids), dtype=bool, count=len(matrix.doc_ids))
        scores = np.where(mask[matrix.doc_codes], scores, -np.inf)
    n = min(depth, len(scores))
    top = np.argpartition(-scores, n - 1)[:n]
    top = top[np.argsort(-scores[top], kind="stable")]
    return [(int(matrix.chunk_ids[i]), float(scores[i])) for i in top if np.isfinite(scores[i])]


def _tags_regex(tags: list[str]) -> str:
    import re

    return "|".join(re.escape(f"|{t}|") for t in tags)


# --- fusion ------------------------------------------------------------------------------


def fuse(
    ranked: dict[str, list[tuple[int, float]]], weights: dict[str, float], rrf_k: int
) -> list[tuple[int, float, list[str]]]:
    """Weighted reciprocal-rank fusion: (chunk id, score, retrievers that found it) best first."""
    scores: dict[int, float] = {}
    found: dict[int, list[str]] = {}
    for name, results in ranked.items():
        w = weights.get(name, 1.0)
        for rank, (cid, _score) in enumerate(results, start=1):
            scores[cid] = scores.get(cid, 0.0) + w / (rrf_k + rank)
            found.setdefault(cid, []).append(name)
    order = sorted(scores, key=lambda c: (-scores[c], c))
    return [(c, scores[c], found[c]) for c in order]


def search(
    *,
    tenant,
    query: str,
    k: int = 5,
    tags: list[str] | None = None,
    mode: str = "auto",
    query_vector: np.ndarray | None = None,
    weights: tuple[float, float] | None = None,
    depth: int | None = None,
) -> list[SearchHit]:
    """The ``k`` best passages of ``tenant``'s knowledge for ``query`` (never another tenant's).

    ``mode``: ``auto`` (lexical, plus dense when an embedder is configured and its weight
    for the tenant's language is above zero), ``lexical``, ``dense`` or ``hybrid``.
    A hit's ``score`` is the retriever's own score when one retriever is used (BM25-like
    or cosine) and the fused RRF score otherwise; ``retrievers`` names who found it.
    ``tags``: only documents carrying any of these tags. ``query_vector`` and ``weights``
    let benchmarks time the search without the query embedding and try weightings.
    """
    query = (query or "").strip()
    if not query or k <= 0:
        return []
    k = min(int(k), settings.KB_SEARCH_MAX_K)
    depth = max(k, depth or settings.KB_CANDIDATES)
    language = analysis.language_for_locale(tenant.locale)
    embedder = get_embedder() if mode != "lexical" else None
    w_lex, w_dense = weights or fusion_weights(language, embedder.name if embedder else "none")
    use_lexical = mode in ("auto", "lexical", "hybrid")
    use_dense = embedder is not None and (mode in ("dense", "hybrid") or (mode == "auto" and w_dense > 0))
    if mode == "auto" and w_lex <= 0 and use_dense:
        use_lexical = False

    ranked: dict[str, list[tuple[int, float]]] = {}
    if use_lexical:
        ranked["lexical"] = lexical_search(tenant=tenant, query=query, depth=depth, tags=tags)
    if use_dense:
        vector = query_vector if query_vector is not None else embedder.embed([query])[0]
        ranked["dense"] = dense_search(tenant=tenant, query_vector=vector, model=embedder.model, depth=depth, tags=tags)
    if len(ranked) == 1:
        name, results = next(iter(ranked.items()))
        top = [(cid, score, [name]) for cid, score in results[:k]]
    else:
        top = fuse(ranked, {"lexical": w_lex, "dense": w_dense}, settings.KB_RRF_K)[:k]
    if not top:
        return []
    chunks = {
        c.id: c
        for c in Chunk.objects.filter(tenant=tenant, id__in=[t[0] for t in top])
        .select_related("document")
        .only("id", "text", "document__id", "document__external_id", "document__title")
    }
    return [
        SearchHit(
            chunk_id=str(cid),
            document_id=str(chunks[cid].document.id),
            external_id=chunks[cid].document.external_id,
            title=chunks[cid].document.title,
            text=chunks[cid].text,
            score=round(score, 6),
            retrievers=found,
        )
        for cid, score, found in top
        if cid in chunks
    ]
