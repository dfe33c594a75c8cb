"""Split a document into passages for retrieval.

Sections start at Markdown-style headings; inside a section paragraphs are packed into
chunks of about ``target_tokens`` tokens. A paragraph longer than the target is split at
sentence ends, and a sentence longer than the target at word boundaries, so a chunk never
cuts a word. Consecutive chunks of one section share about ``overlap_tokens`` tokens so
an answer straddling a boundary is still found whole in one of them. Each chunk records
its character span in the body; the span's text is exactly ``body[start:end]``.

"Tokens" here are words and punctuation marks (``\\w+|[^\\w\\s]``): close enough to model
tokens to size passages, and the same on every machine.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

TOKEN_RE = re.compile(r"\w+|[^\w\s]", re.UNICODE)
HEADING_RE = re.compile(r"^(#{1,6}\s+\S.*|.+\n(=+|-+))$", re.MULTILINE)
PARAGRAPH_RE = re.compile(r"\n\s*\n")
SENTENCE_END_RE = re.compile(r"(?<=[.!?。！？])\s+")
WORD_RE = re.compile(r"\S+")

DEFAULT_TARGET_TOKENS = 200
DEFAULT_OVERLAP_TOKENS = 30


@dataclass(frozen=True)
class ChunkSpan:
    ordinal: int
    start: int
    end: int
    text: str
    token_count: int
    heading: str = ""


def count_tokens(text: str) -> int:
    return len(TOKEN_RE.findall(text))


def _spans(text: str, pattern: re.Pattern, offset: int) -> list[tuple[int, int]]:
    """Non-blank pieces of ``text`` between matches of ``pattern``, as absolute spans."""
    out, pos = [], 0
    for m in pattern.finditer(text):
        out.append((pos, m.start()))
        pos = m.end()
    out.append((pos, len(text)))
    spans = []
    for s, e in out:
        piece = text[s:e]
        if not piece.strip():
            continue
        lead = len(piece) - len(piece.lstrip())
        trail = len(piece) - len(piece.rstrip())
        spans.append((offset + s + lead, offset + e - trail))
    return spans


def _sections(body: str) -> list[tuple[str, int, int]]:
    """(heading, start, end) for each section; the heading line belongs to its section."""
    starts = [m.start() for m in HEADING_RE.finditer(body)]
    if not starts or starts[0] != 0:
        starts.insert(0, 0)
    bounds = starts + [len(body)]
    sections = []
    for s, e in zip(bounds, bounds[1:], strict=False):
        if not body[s:e].strip():
            continue
        first = body[s:e].strip().splitlines()[0]
        heading = first.lstrip("#").strip() if HEADING_RE.match(body[s:e].lstrip()) else ""
        sections.append((heading, s, e))
    return sections


def _units(body: str, start: int, end: int, target: int) -> list[tuple[int, int, int]]:
    """Paragraphs, or sentences / word runs of paragraphs too long for one chunk:
    (start, end, tokens), each no longer than ``target`` tokens unless one word is."""
    units = []
    for ps, pe in _spans(body[start:end], PARAGRAPH_RE, start):
        n = count_tokens(body[ps:pe])
        if n <= target:
            units.append((ps, pe, n))
            continue
        for ss, se in _spans(body[ps:pe], SENTENCE_END_RE, ps):
            n = count_tokens(body[ss:se])
            if n <= target:
                units.append((ss, se, n))
                continue
            words = [(ss + m.start(), ss + m.end()) for m in WORD_RE.finditer(body[ss:se])]
            run_start, run_tokens, last_end = words[0][0], 0, words[0][0]
            for ws, we in words:
                wt = count_tokens(body[ws:we])
                if run_tokens and run_tokens + wt > target:
                    units.append((run_start, last_end, run_tokens))
                    run_start, run_tokens = ws, 0
                run_tokens += wt
                last_end = we
            units.append((run_start, last_end, run_tokens))
    return units


def _overlap_start(body: str, start: int, end: int, overlap: int) -> int:
    """The start of the last ``overlap`` tokens' worth of whole words in ``body[start:end]``."""
    if overlap <= 0:
        return end
    words = list(WORD_RE.finditer(body, start, end))
    taken = 0
    pos = end
    for m in reversed(words):
        taken += count_tokens(m.group())
        if taken > overlap:
            break
        pos = m.start()
    return pos


def chunk_text(
    body: str, *, target_tokens: int = DEFAULT_TARGET_TOKENS, overlap_tokens: int = DEFAULT_OVERLAP_TOKENS
) -> list[ChunkSpan]:
    """Split ``body`` into chunks (see the module docstring). Empty bodies give no chunks."""
    chunks: list[ChunkSpan] = []
    for heading, s, e in _sections(body):
        # Pieces leave room for the overlap so consecutive chunks can share it.
        units = _units(body, s, e, max(target_tokens - overlap_tokens, 1))
        i = 0
        carry_start: int | None = None
        while i < len(units):
            start = carry_start if carry_start is not None else units[i][0]
            tokens = count_tokens(body[start : units[i][0]]) if carry_start is not None else 0
            end = units[i][1]
            tokens += units[i][2]
            i += 1
            while i < len(units) and tokens + units[i][2] <= target_tokens:
                end = units[i][1]
                tokens += units[i][2]
                i += 1
            text = body[start:end]
            chunks.append(ChunkSpan(len(chunks), start, end, text, count_tokens(text), heading))
            carry_start = None
            if i < len(units):
                ov = _overlap_start(body, start, end, overlap_tokens)
                # Only carry overlap that still leaves room for the next unit.
                if ov < end and count_tokens(body[ov:end]) + units[i][2] <= target_tokens:
                    carry_start = ov
    return chunks
