"""How fast and how often on target the offline extractive provider is.

For each TyDi QA (Indonesian) question it is given the gold passage among ``--k``
passages (the gold one plus the next passages of the corpus, in a rotating position,
as a retriever would hand them over) and we record the per-call latency and whether it
quoted the gold passage, quoted something else, or said it found nothing.

    .venv/bin/python bench/extractive.py [--k 5] [--data /work/shared/data/tydiqa-id-goldp-dev]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from pathlib import Path

from cryptography.fernet import Fernet

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "siganteng.settings")
os.environ.setdefault("SECRET_KEY", "bench-only-secret-key-0123456789abcdef0123456789")
os.environ.setdefault("SECRETS_ENCRYPTION_KEYS", Fernet.generate_key().decode())

from siganteng.ai.base import ChatMessage, ContextPassage, LLMRequest  # noqa: E402
from siganteng.ai.providers.extractive import ExtractiveProvider  # noqa: E402


def _load(data: Path):
    corpus = [json.loads(line) for line in (data / "corpus.jsonl").open()]
    queries = {q["_id"]: q["text"] for q in map(json.loads, (data / "queries.jsonl").open())}
    qrels = {}
    for line in (data / "qrels.tsv").open().readlines()[1:]:
        qid, pid, _ = line.rstrip("\n").split("\t")
        qrels.setdefault(qid, pid)
    return corpus, queries, qrels


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--k", type=int, default=5)
    shared = Path(os.environ.get("SHARED_DATA", Path(__file__).resolve().parents[2] / "shared" / "data"))
    parser.add_argument("--data", type=Path, default=shared / "tydiqa-id-goldp-dev")
    args = parser.parse_args()
    corpus, queries, qrels = _load(args.data)
    index = {doc["_id"]: i for i, doc in enumerate(corpus)}
    provider = ExtractiveProvider()
    latencies, gold, other, nothing = [], 0, 0, 0
    for n, (qid, pid) in enumerate(qrels.items()):
        start = index[pid]
        picked = [corpus[(start + j) % len(corpus)] for j in range(args.k)]
        picked.insert(n % args.k, picked.pop(0))  # the gold passage is not always first
        passages = [ContextPassage(id=d["_id"], document_id=d["_id"], title=d["title"], text=d["text"]) for d in picked]
        question = [ChatMessage(role="user", content=queries[qid])]
        request = LLMRequest(model="", system="", messages=question, passages=passages, locale="id")
        t0 = time.perf_counter()
        response = provider.generate(request)
        latencies.append((time.perf_counter() - t0) * 1000)
        if pid in response.citations:
            gold += 1
        elif response.citations:
            other += 1
        else:
            nothing += 1
    total = len(latencies)
    latencies.sort()
    chars = statistics.mean(len(d["text"]) for d in corpus)
    print(f"TyDi QA id dev: {total} questions, {args.k} passages each (mean passage {chars:.0f} chars)\n")
    print("| metric | value |\n|---|---|")
    print(f"| quotes the gold passage | {gold / total:.1%} |")
    print(f"| quotes only other passages | {other / total:.1%} |")
    print(f"| says nothing found | {nothing / total:.1%} |")
    print(f"| latency p50 | {latencies[total // 2]:.2f} ms |")
    print(f"| latency p99 | {latencies[int(total * 0.99)]:.2f} ms |")


if __name__ == "__main__":
    main()
