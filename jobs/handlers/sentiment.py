"""Sentiment: positive / negative / neutral with a score in [-1, 1].

Through the LLM in JSON mode when the provider generates; with a small English and
Indonesian lexicon (negations and intensifiers handled) when the provider is offline.
"""

from __future__ import annotations

import json
import re

from jobs.handlers import _llm
from jobs.handlers.base import JobContext, PermanentJobError, TransientJobError
from siganteng.ai.base import ChatMessage, LLMRequest

LABELS = ("positive", "negative", "neutral")
NEUTRAL_BAND = 0.15


def _words(text: str) -> frozenset[str]:
    return frozenset(text.split())


POSITIVE = _words(
    # English
    "good great excellent amazing awesome love loved lovely like liked happy glad satisfied fast quick "
    "friendly helpful perfect nice best recommend recommended thanks thank wonderful fantastic easy "
    "delicious clean polite fine cool impressive reliable smooth affordable cheap works working "
    # Indonesian
    "bagus baik mantap hebat keren suka senang puas cepat ramah membantu sempurna terbaik rekomen "
    "rekomendasi terima kasih makasih enak bersih sopan murah mudah lancar memuaskan oke mantul top "
    "cantik nyaman aman berfungsi tepat"
)
NEGATIVE = _words(
    # English
    "bad terrible awful horrible hate hated poor slow rude broken worst disappointed disappointing "
    "angry annoying useless expensive late never problem problems issue issues fail failed failure "
    "refund wrong dirty damaged defective scam cancel canceled cancelled error bug buggy crash "
    # Indonesian
    "buruk jelek parah benci lambat lelet kasar rusak terburuk kecewa mengecewakan marah kesal "
    "menyebalkan mahal telat terlambat masalah gagal salah kotor cacat penipu tipu batal error lemot "
    "lama ribet susah sulit bohong hilang"
)
NEGATIONS = _words(
    "not no never don't doesn't didn't isn't wasn't aren't can't cannot won't "
    "tidak tak bukan belum jangan gak ga nggak enggak kurang"
)
INTENSIFIERS = {
    "very": 1.5,
    "really": 1.5,
    "so": 1.3,
    "extremely": 2.0,
    "super": 1.7,
    "sangat": 1.5,
    "banget": 1.5,
    "sekali": 1.3,
    "amat": 1.5,
    "paling": 1.7,
    "terlalu": 1.3,
}
_WORD = re.compile(r"[a-zA-Z\u00C0-\u024F']+")


def lexicon_score(text: str) -> dict:
    """Deterministic lexicon sentiment for English and Indonesian text."""
    words = [w.lower() for w in _WORD.findall(text)]
    total, hits = 0.0, 0
    for i, word in enumerate(words):
        polarity = 1.0 if word in POSITIVE else -1.0 if word in NEGATIVE else 0.0
        if not polarity:
            continue
        window = words[max(0, i - 3) : i]
        weight = 1.0
        for w in window:
            weight *= INTENSIFIERS.get(w, 1.0)
        # Indonesian puts some intensifiers after the word ("bagus banget", "bagus sekali").
        for w in words[i + 1 : i + 3]:
            if w in ("banget", "sekali"):
                weight *= INTENSIFIERS[w]
        if any(w in NEGATIONS for w in window):
            polarity = -polarity * 0.8
        total += polarity * weight
        hits += 1
    score = 0.0 if hits == 0 else max(-1.0, min(1.0, total / (hits + 1) * 1.2))
    label = "neutral" if abs(score) < NEUTRAL_BAND else ("positive" if score > 0 else "negative")
    return {"label": label, "score": round(score, 3), "method": "lexicon", "matched_terms": hits}


SYSTEM = (
    "Classify the sentiment of the user's text (any language). Answer only with JSON: "
    '{"label": "positive" | "negative" | "neutral", "score": number from -1 (very negative) to 1 '
    "(very positive)}."
)


def analyze(ctx: JobContext) -> dict:
    text = ctx.prompt.strip()
    if not text:
        raise PermanentJobError("There is no text to analyse (the prompt is empty).")
    ctx.progress(10, "Analysing sentiment.")
    if _llm.is_offline(ctx):
        return lexicon_score(text)
    resp = _llm.call(
        ctx,
        LLMRequest(
            model=_llm.model_name(ctx),
            system=SYSTEM,
            messages=[ChatMessage(role="user", content=text)],
            temperature=0.0,
            response_format="json",
        ),
    )
    try:
        data = json.loads(_strip_fence(resp.text))
        label = str(data["label"]).lower()
        score = max(-1.0, min(1.0, float(data["score"])))
    except (ValueError, KeyError, TypeError):
        # A model that ignored JSON mode once may comply on the next attempt.
        raise TransientJobError(f"The model did not answer with the sentiment JSON: {resp.text[:200]!r}") from None
    if label not in LABELS:
        raise TransientJobError(f"The model answered an unknown label {label!r}.")
    return {
        "label": label,
        "score": round(score, 3),
        "method": "llm",
        "provider": resp.provider,
        "model": resp.model,
        "usage": _llm.usage(resp),
    }


def _strip_fence(text: str) -> str:
    text = text.strip()
    if text.startswith("```"):
        text = text.strip("`")
        text = text[4:] if text.lower().startswith("json") else text
    return text.strip()
