"""Retrieval quality, search latency and ingestion throughput of the knowledge base.

1. Quality, on each set in /work/shared/data (TyDi QA Indonesian, NFCorpus English):
   nDCG@10 and Recall@100 (documents ranked by their best chunk; nDCG with linear gains
   as trec_eval computes it) for lexical, dense (``local`` all-MiniLM-L6-v2) and hybrid
   (weighted RRF over a grid of dense weights), with per-query search latency p50/p95
   (dense and hybrid exclude the query embedding, reported on its own line).
2. Scale: one tenant with 100,000 synthetic chunks (bulk inserted, random unit vectors):
   lexical and hybrid search latency p50/p95, k=10, query embedding excluded.
3. Ingestion throughput (chunks/s) through ``document_index`` with ``none`` and ``local``.

Corpus embeddings are cached under var/bench/ (embedding NFCorpus takes ~5 min on 2 cores).

    .venv/bin/python bench/retrieval.py                       # SQLite (var/bench/retrieval.sqlite3)
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/bench_kb .venv/bin/python bench/retrieval.py
    options: --skip-quality --skip-scale --skip-ingest --scale-chunks 100000
"""

from __future__ import annotations

import argparse
import hashlib
import json
import math
import os
import random
import statistics
import sys
import time
from pathlib import Path

from cryptography.fernet import Fernet

BASE = Path(__file__).resolve().parent.parent
sys.path[0] = str(BASE)  # not bench/: its modules (queue.py…) would shadow the stdlib
DATA = Path("/work/shared/data")
CACHE = BASE / "var" / "bench"
SETS = [("tydiqa-id-goldp-dev", "id"), ("beir-nfcorpus-test", "en")]
DENSE_WEIGHTS = [0.0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.8, 1.0, 1.5, 2.0]


def setup() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "siganteng.settings")
    os.environ.setdefault("SECRET_KEY", "bench-only-secret-key-0123456789abcdef0123456789")
    os.environ.setdefault("SECRETS_ENCRYPTION_KEYS", Fernet.generate_key().decode())
    os.environ.setdefault("SQLITE_PATH", str(CACHE / "retrieval.sqlite3"))
    os.environ.setdefault("LOG_LEVEL", "WARNING")
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ["EMBEDDER"] = "none"
    CACHE.mkdir(parents=True, exist_ok=True)
    if os.environ.get("DATABASE_URL"):
        import psycopg

        from siganteng.env import database_from_url

        db = database_from_url(os.environ["DATABASE_URL"])
        with psycopg.connect(
            host=db["HOST"],
            port=db["PORT"] or 5432,
            user=db["USER"],
            password=db["PASSWORD"] or None,
            dbname="postgres",
            autocommit=True,
        ) as conn:
            if not conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [db["NAME"]]).fetchone():
                conn.execute(f'CREATE DATABASE "{db["NAME"]}"')
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)


def pct(values: list[float], p: float) -> float:
    values = sorted(values)
    if not values:
        return float("nan")
    idx = min(len(values) - 1, max(0, math.ceil(p / 100 * len(values)) - 1))
    return values[idx]


def ndcg_at(ranked: list[str], rels: dict[str, int], k: int = 10) -> float:
    dcg = sum(rels.get(d, 0) / math.log2(i + 2) for i, d in enumerate(ranked[:k]))
    ideal = sorted((r for r in rels.values() if r > 0), reverse=True)[:k]
    idcg = sum(r / math.log2(i + 2) for i, r in enumerate(ideal))
    return dcg / idcg if idcg else 0.0


def recall_at(ranked: list[str], rels: dict[str, int], k: int = 100) -> float:
    relevant = {d for d, r in rels.items() if r > 0}
    return len(relevant & set(ranked[:k])) / len(relevant) if relevant else 0.0


def load_set(name: str):
    corpus = [json.loads(line) for line in (DATA / name / "corpus.jsonl").open()]
    queries = {q["_id"]: q["text"] for q in map(json.loads, (DATA / name / "queries.jsonl").open())}
    qrels: dict[str, dict[str, int]] = {}
    with (DATA / name / "qrels.tsv").open() as fh:
        next(fh)
        for line in fh:
            qid, did, score = line.rstrip("\n").split("\t")
            qrels.setdefault(qid, {})[did] = int(score)
    queries = {q: t for q, t in queries.items() if q in qrels}
    return corpus, queries, qrels


def local_embedder():
    from siganteng.ai.embeddings.local import LocalEmbedder

    return LocalEmbedder()


def cached_embeddings(name: str, texts: list[str]):
    """Vectors for ``texts`` from var/bench/embeddings-<name>.npz, embedding what is missing."""
    import numpy as np

    path = CACHE / f"embeddings-{name}.npz"
    table: dict[str, np.ndarray] = {}
    if path.exists():
        data = np.load(path)
        table = dict(zip(data["keys"].tolist(), data["vectors"], strict=True))
    keys = [hashlib.sha1(t.encode()).hexdigest() for t in texts]
    missing = list(dict.fromkeys(t for t, k in zip(texts, keys, strict=True) if k not in table))
    if missing:
        started = time.perf_counter()
        vectors = local_embedder().embed(missing)
        print(f"  embedded {len(missing)} texts in {time.perf_counter() - started:.0f} s", file=sys.stderr)
        for t, v in zip(missing, vectors, strict=True):
            table[hashlib.sha1(t.encode()).hexdigest()] = v
        np.savez(path, keys=np.array(list(table)), vectors=np.stack(list(table.values())))
    return np.stack([table[k] for k in keys]) if keys else np.zeros((0, 384), dtype=np.float32)


def ensure_tenant(tenant_id: str, locale: str):
    from tenants.models import Tenant

    tenant, _ = Tenant.objects.update_or_create(id=tenant_id, defaults={"name": tenant_id, "locale": locale})
    return tenant


def load_corpus(tenant, name: str, corpus: list[dict]) -> None:
    """Upsert the corpus (EMBEDDER=none; unchanged documents are skipped), then attach the
    cached local-model vectors to exactly the chunks ingestion produced."""
    from django.db import transaction

    from knowledge import services
    from knowledge.models import Chunk

    started = time.perf_counter()
    for doc in corpus:
        services.document_upsert(
            tenant=tenant,
            external_id=doc["_id"],
            title=doc.get("title", ""),
            body=doc["text"] or doc.get("title") or doc["_id"],
            index_now=True,
        )
    print(f"  {name}: upserted {len(corpus)} documents in {time.perf_counter() - started:.0f} s", file=sys.stderr)
    todo = list(Chunk.objects.filter(tenant=tenant, embedding_model="").select_related("document"))
    if todo:
        vectors = cached_embeddings(name, [services.embedding_input(c.document.title, c.text) for c in todo])
        for c, v in zip(todo, vectors, strict=True):
            c.embedding, c.embedding_model = v.astype("float32").tobytes(), "all-MiniLM-L6-v2"
        with transaction.atomic():
            Chunk.objects.bulk_update(todo, ["embedding", "embedding_model"], batch_size=1000)
            services.knowledge_changed(tenant_id=tenant.pk)


def doc_ranking(hits) -> list[str]:
    seen: dict[str, None] = {}
    for h in hits:
        seen.setdefault(h.external_id, None)
    return list(seen)


def quality(args) -> dict:
    from django.conf import settings

    from knowledge import retrieval
    from knowledge.models import Chunk

    embedder = local_embedder()
    out = {}
    for name, locale in SETS:
        if name not in args.sets.split(","):
            continue
        corpus, queries, qrels = load_set(name)
        tenant = ensure_tenant(f"bench-{locale}", locale)
        settings.EMBEDDER = "none"  # ingest lexically; cached vectors are attached afterwards
        load_corpus(tenant, name, corpus)
        analyze()
        settings.EMBEDDER = "local"
        qids = list(queries)
        started = time.perf_counter()
        qvecs = cached_embeddings(name + "-queries", [queries[q] for q in qids])
        embed_ms = []
        for q in qids[:50]:
            t = time.perf_counter()
            embedder.embed([queries[q]])
            embed_ms.append((time.perf_counter() - t) * 1000)
        print(f"  {name}: query vectors ready in {time.perf_counter() - started:.0f} s", file=sys.stderr)
        chunk_doc = dict(Chunk.objects.filter(tenant=tenant).values_list("id", "document__external_id"))
        runs: dict[str, dict[str, list]] = {"lexical": {}, "dense": {}}
        lat: dict[str, list[float]] = {"lexical": [], "dense": [], "hybrid": []}
        for qid, qv in zip(qids, qvecs, strict=True):
            t = time.perf_counter()
            hits = retrieval.search(tenant=tenant, query=queries[qid], k=100, mode="lexical")
            lat["lexical"].append((time.perf_counter() - t) * 1000)
            runs["lexical"][qid] = [(int(h.chunk_id), h.score) for h in hits]
            t = time.perf_counter()
            hits = retrieval.search(tenant=tenant, query=queries[qid], k=100, mode="dense", query_vector=qv)
            lat["dense"].append((time.perf_counter() - t) * 1000)
            runs["dense"][qid] = [(int(h.chunk_id), h.score) for h in hits]
            t = time.perf_counter()
            retrieval.search(tenant=tenant, query=queries[qid], k=100, mode="hybrid", query_vector=qv)
            lat["hybrid"].append((time.perf_counter() - t) * 1000)

        def evaluate(
            ranked_chunks: dict[str, list], qids=qids, chunk_doc=chunk_doc, qrels=qrels
        ) -> tuple[float, float]:
            nd, rc = [], []
            for qid in qids:
                docs = list(dict.fromkeys(chunk_doc[c] for c, *_ in ranked_chunks[qid]))
                nd.append(ndcg_at(docs, qrels[qid]))
                rc.append(recall_at(docs, qrels[qid]))
            return statistics.fmean(nd), statistics.fmean(rc)

        rows = {"lexical": evaluate(runs["lexical"]), "dense": evaluate(runs["dense"])}
        grid = {}
        for w in DENSE_WEIGHTS:
            fused = {
                q: retrieval.fuse(
                    {"lexical": runs["lexical"][q], "dense": runs["dense"][q]},
                    {"lexical": 1.0, "dense": w},
                    settings.KB_RRF_K,
                )[:100]
                for q in qids
            }
            grid[w] = evaluate(fused)
        out[name] = {
            "rows": rows,
            "grid": grid,
            "lat": lat,
            "embed_ms": embed_ms,
            "queries": len(qids),
            "docs": len(corpus),
            "chunks": len(chunk_doc),
        }
    return out


def analyze() -> None:
    """Refresh PostgreSQL's statistics after loading, as autovacuum would in production: the
    planner's row estimates per tenant and the common lexemes the search's document
    frequencies come from (``pg_stats``) are read from them."""
    from django.db import connection

    if connection.vendor == "postgresql":
        with connection.cursor() as cur:
            cur.execute("ANALYZE knowledge_chunk")
            cur.execute("ANALYZE knowledge_document")


def synthetic_scale(n_chunks: int) -> dict:
    """Bulk-insert ``n_chunks`` synthetic chunks for one tenant, then time searches."""
    import numpy as np
    from django.conf import settings
    from django.db import transaction

    from knowledge import retrieval, services
    from knowledge.models import Chunk, Document

    rng = random.Random(7)
    vocab = [f"w{i:05d}" for i in range(30_000)]
    weights = [1 / (i + 1) ** 1.05 for i in range(len(vocab))]
    tenant = ensure_tenant("bench-scale", "xx")  # no stemming: the words are synthetic
    have = Chunk.objects.filter(tenant=tenant).count()
    if have != n_chunks:
        Document.objects.filter(tenant=tenant).delete()
        started = time.perf_counter()
        np_rng = np.random.default_rng(7)
        per_doc = 10
        for start in range(0, n_chunks, 5000):
            count = min(5000, n_chunks - start)
            docs = [
                Document(
                    tenant=tenant,
                    external_id=f"s{start + i}",
                    title="",
                    body="(synthetic)",
                    content_hash="x",
                    indexed_hash="x",
                    status="INDEXED",
                    chunk_count=per_doc,
                )
                for i in range(0, count, per_doc)
            ]
            vectors = np_rng.standard_normal((count, 384)).astype(np.float32)
            vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
            chunks = []
            for i in range(count):
                words = rng.choices(vocab, weights, k=rng.randint(60, 140))
                text = " ".join(words)
                chunks.append(
                    Chunk(
                        tenant=tenant,
                        document=docs[i // per_doc],
                        ordinal=i % per_doc,
                        text=text,
                        start=0,
                        end=len(text),
                        token_count=len(words),
                        search_text=text,
                        embedding=vectors[i].tobytes(),
                        embedding_model="all-MiniLM-L6-v2",
                    )
                )
            with transaction.atomic():
                Document.objects.bulk_create(docs)
                Chunk.objects.bulk_create(chunks, batch_size=1000)
        with transaction.atomic():
            services.knowledge_changed(tenant_id=tenant.pk)
        print(f"  inserted {n_chunks} chunks in {time.perf_counter() - started:.0f} s", file=sys.stderr)
    analyze()
    settings.EMBEDDER = "local"  # the model itself is never loaded: query vectors are given
    queries = [" ".join(rng.choices(vocab, weights, k=rng.randint(2, 6))) for _ in range(300)]
    qvecs = np.random.default_rng(11).standard_normal((len(queries), 384)).astype(np.float32)
    qvecs /= np.linalg.norm(qvecs, axis=1, keepdims=True)
    t = time.perf_counter()
    retrieval.search(tenant=tenant, query=queries[0], k=10, mode="hybrid", query_vector=qvecs[0])
    load_s = time.perf_counter() - t
    lat: dict[str, list[float]] = {"lexical": [], "dense": [], "hybrid": []}
    for q, v in zip(queries, qvecs, strict=True):
        for mode in lat:
            t = time.perf_counter()
            retrieval.search(tenant=tenant, query=q, k=10, mode=mode, query_vector=v)
            lat[mode].append((time.perf_counter() - t) * 1000)
    return {"lat": lat, "matrix_load_s": load_s, "chunks": n_chunks, "queries": len(queries)}


def ingestion() -> dict:
    from django.conf import settings

    from knowledge import services
    from knowledge.models import Chunk, Document
    from siganteng.ai import registry

    corpus, _, _ = load_set("beir-nfcorpus-test")
    out = {}
    for embedder, n in (("none", 600), ("local", 150)):
        settings.EMBEDDER = embedder
        registry.reset()
        tenant = ensure_tenant(f"bench-ingest-{embedder}", "en")
        Document.objects.filter(tenant=tenant).delete()
        if embedder == "local":
            registry.get_embedder().embed(["warm up"])  # model load is a one-off per process
        docs = [
            services.document_upsert(
                tenant=tenant, external_id=d["_id"], title=d["title"], body=d["text"] or d["title"]
            )
            for d in corpus[:n]
        ]
        started = time.perf_counter()
        for d in docs:
            services.document_index(document_id=d.pk)
        elapsed = time.perf_counter() - started
        chunks = Chunk.objects.filter(tenant=tenant).count()
        out[embedder] = {"docs": n, "chunks": chunks, "seconds": elapsed, "rate": chunks / elapsed}
        Document.objects.filter(tenant=tenant).delete()
    settings.EMBEDDER = "none"
    registry.reset()
    return out


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--skip-quality", action="store_true")
    parser.add_argument("--skip-scale", action="store_true")
    parser.add_argument("--skip-ingest", action="store_true")
    parser.add_argument("--scale-chunks", type=int, default=100_000)
    parser.add_argument("--sets", default=",".join(n for n, _ in SETS), help="comma-separated data set names")
    args = parser.parse_args()
    setup()
    from django.db import connection

    db = connection.vendor
    lines = [f"## {db}"]
    if not args.skip_quality:
        q = quality(args)
        lines += [
            "",
            "| set | method | nDCG@10 | Recall@100 | search p50 ms | search p95 ms |",
            "|---|---|---|---|---|---|",
        ]
        for name, r in q.items():
            for method in ("lexical", "dense"):
                nd, rc = r["rows"][method]
                lat = r["lat"][method]
                lines.append(f"| {name} | {method} | {nd:.3f} | {rc:.3f} | {pct(lat, 50):.1f} | {pct(lat, 95):.1f} |")
            best_lex = max(r["grid"], key=lambda w: (round(r["grid"][w][0], 4), r["grid"][w][1]))
            nd, rc = r["grid"][best_lex]
            lines.append(
                f"| {name} | hybrid (dense weight {best_lex}) | {nd:.3f} | {rc:.3f} | "
                f"{pct(r['lat']['hybrid'], 50):.1f} | {pct(r['lat']['hybrid'], 95):.1f} |"
            )
            lines.append(
                f"| {name} | query embedding (local) | | | {pct(r['embed_ms'], 50):.1f} | "
                f"{pct(r['embed_ms'], 95):.1f} |"
            )
        lines += [
            "",
            "Fusion grid (lexical weight 1.0, RRF k=60): nDCG@10 / Recall@100",
            "",
            "| dense weight | " + " | ".join(q) + " |",
            "|---|" + "---|" * len(q),
        ]
        for w in DENSE_WEIGHTS:
            lines.append(
                f"| {w} | " + " | ".join(f"{r['grid'][w][0]:.3f} / {r['grid'][w][1]:.3f}" for r in q.values()) + " |"
            )
        lines.append("")
        lines.append(
            "sizes: "
            + ", ".join(f"{n}: {r['docs']} docs, {r['chunks']} chunks, {r['queries']} queries" for n, r in q.items())
        )
    if not args.skip_scale:
        s = synthetic_scale(args.scale_chunks)
        lines += [
            "",
            f"Search latency, one tenant with {s['chunks']:,} chunks, k=10, {s['queries']} queries "
            f"(query embedding excluded; first query loads the vector matrix: {s['matrix_load_s']:.1f} s)",
            "",
            "| retrieval | p50 ms | p95 ms |",
            "|---|---|---|",
        ]
        for mode, lat in s["lat"].items():
            lines.append(f"| {mode} | {pct(lat, 50):.1f} | {pct(lat, 95):.1f} |")
    if not args.skip_ingest:
        ing = ingestion()
        lines += ["", "| ingestion embedder | documents | chunks | seconds | chunks/s |", "|---|---|---|---|---|"]
        for name, r in ing.items():
            lines.append(f"| {name} | {r['docs']} | {r['chunks']} | {r['seconds']:.1f} | {r['rate']:.1f} |")
    text = "\n".join(lines)
    print(text)
    (CACHE / f"retrieval-{db}.md").write_text(text + "\n")


if __name__ == "__main__":
    main()
