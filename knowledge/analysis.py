"""Text analysis for lexical retrieval, done in Python so SQLite and PostgreSQL index
and query exactly the same terms.

PostgreSQL ships Snowball ``indonesian`` and ``english`` configurations, SQLite FTS5 has
no Indonesian stemmer at all, and PostgreSQL's Indonesian stemmer differs from Python's
on some words (docs/adr/0007-text-analysis-in-python.md). So the tenant's locale picks a Snowball
stemmer here (the same algorithms PostgreSQL uses: ``indonesian``, ``english``, else no
stemming — ``simple``), and both databases index the resulting terms verbatim
(PostgreSQL with the ``simple`` configuration, FTS5 with ``unicode61``).

Terms: Unicode letters and digits, lower-cased, accents stripped; CJK, Thai and other
scripts written without spaces become one term per character so a word inside a run
can be found; emoji and punctuation are dropped; stop words are removed.
"""

from __future__ import annotations

import functools
import re
import unicodedata

import snowballstemmer

WORD_RE = re.compile(r"[^\W_]+", re.UNICODE)
# Scripts written without spaces between words: index character by character.
UNSPACED_RE = re.compile(
    r"([\u0e00-\u0e7f\u0e80-\u0eff\u1000-\u109f\u1780-\u17ff\u3040-\u30ff\u3400-\u4dbf"
    r"\u4e00-\u9fff\uac00-\ud7af\uf900-\ufaff])"
)

STOPWORDS = {
    "indonesian": frozenset(
        [
            "ada",
            "adalah",
            "agar",
            "akan",
            "aku",
            "anda",
            "apa",
            "apakah",
            "atau",
            "bagaimana",
            "bahwa",
            "banyak",
            "bila",
            "bisa",
            "dalam",
            "dan",
            "dapat",
            "dari",
            "dengan",
            "di",
            "dia",
            "ini",
            "itu",
            "ia",
            "juga",
            "kami",
            "kamu",
            "karena",
            "ke",
            "kenapa",
            "ketika",
            "kita",
            "lah",
            "mana",
            "masih",
            "mereka",
            "nya",
            "oleh",
            "pada",
            "para",
            "saat",
            "saja",
            "sampai",
            "sangat",
            "saya",
            "se",
            "sebagai",
            "sedang",
            "sejak",
            "seperti",
            "siapa",
            "siapakah",
            "sudah",
            "supaya",
            "telah",
            "tentang",
            "tersebut",
            "tidak",
            "untuk",
            "yaitu",
            "yakni",
            "yang",
            "dimana",
            "dimanakah",
            "kapan",
            "kapankah",
            "berapa",
            "berapakah",
            "mengapa",
        ]
    ),
    "english": frozenset(
        [
            "a",
            "an",
            "and",
            "are",
            "as",
            "at",
            "be",
            "been",
            "but",
            "by",
            "can",
            "could",
            "did",
            "do",
            "does",
            "for",
            "from",
            "had",
            "has",
            "have",
            "how",
            "i",
            "if",
            "in",
            "into",
            "is",
            "it",
            "its",
            "me",
            "my",
            "of",
            "on",
            "or",
            "our",
            "so",
            "than",
            "that",
            "the",
            "their",
            "them",
            "then",
            "there",
            "these",
            "they",
            "this",
            "those",
            "to",
            "too",
            "was",
            "we",
            "were",
            "what",
            "when",
            "where",
            "which",
            "who",
            "whom",
            "why",
            "will",
            "with",
            "would",
            "you",
            "your",
        ]
    ),
}


def language_for_locale(locale: str | None) -> str:
    """``indonesian``, ``english`` or ``simple`` (no stemming) for a BCP 47 locale."""
    primary = (locale or "").replace("_", "-").split("-")[0].lower()
    return {"id": "indonesian", "in": "indonesian", "ms": "indonesian", "en": "english"}.get(primary, "simple")


@functools.lru_cache(maxsize=8)
def _stemmer(language: str):
    return snowballstemmer.stemmer(language) if language != "simple" else None


def _fold(text: str) -> str:
    text = unicodedata.normalize("NFKD", text.casefold())
    return "".join(ch for ch in text if not unicodedata.combining(ch))


def terms(text: str, language: str) -> list[str]:
    """The index terms of ``text`` in order (stemmed, stop words removed)."""
    text = UNSPACED_RE.sub(r" \1 ", _fold(text))
    words = WORD_RE.findall(text)
    stop = STOPWORDS.get(language, frozenset())
    stemmer = _stemmer(language)
    words = [w for w in words if w not in stop]
    if stemmer is None:
        return words
    return stemmer.stemWords(words)


def index_text(text: str, language: str) -> str:
    """What the full-text index stores for ``text``: its terms joined by spaces."""
    return " ".join(terms(text, language))


def query_terms(query: str, language: str) -> list[str]:
    """Distinct terms of a search query, in order of first appearance."""
    return list(dict.fromkeys(terms(query, language)))
