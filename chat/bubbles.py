"""Split a model's answer into chat bubbles.

Contract of :func:`split`:

* The model's own paragraphs (blank-line separated) each start a new bubble.
* A paragraph longer than ``limit`` characters is split at sentence ends; a sentence
  that is still too long is split between words. A period after a known abbreviation
  (English or Indonesian: "e.g.", "Mr.", "dll.", "dsb.", "Rp." …), inside a decimal
  number or inside a URL is not a sentence end, and a sentence only ends before a word
  that starts with a capital letter, a digit or an opening quote/bracket.
* Splits only ever happen at whitespace, so a URL (or any single word) is never cut; a
  single word longer than the limit becomes a bubble of its own (the only way a bubble
  exceeds the limit besides code blocks and the overflow rule below).
* A list item (``- x``, ``* x``, ``• x``, ``1. x``, ``2) x``) stays in one bubble when
  it fits the limit; consecutive items share a bubble while they fit.
* A fenced code block (```) is one bubble, whole, whatever its length.
* ``max_bubbles``: when there are more pieces than allowed, adjacent pieces are merged
  one pair at a time until exactly ``max_bubbles`` remain — the bubbles allowed are all
  used, never packed into fewer. Each step merges the pair that best keeps the shape:
  one whose result fits the limit before one that does not, pieces of one paragraph
  before pieces of two (so paragraph boundaries stay bubble boundaries while they can),
  and then the shortest result. Nothing is ever dropped — joining the bubbles always
  gives back the text's words in order — so with a tight ``max_bubbles`` a bubble may
  exceed the limit. (Truncation would lose what the customer asked for; a channel with
  a hard size cap splits again when sending.)
"""

from __future__ import annotations

import re
from dataclasses import dataclass

ABBREVIATIONS = frozenset(
    {
        # English
        "e.g.",
        "i.e.",
        "etc.",
        "vs.",
        "mr.",
        "mrs.",
        "ms.",
        "dr.",
        "prof.",
        "sr.",
        "jr.",
        "st.",
        "no.",
        "nos.",
        "approx.",
        "dept.",
        "est.",
        "inc.",
        "ltd.",
        "co.",
        "corp.",
        "fig.",
        "p.m.",
        "a.m.",
        "u.s.",
        "jan.",
        "feb.",
        "mar.",
        "apr.",
        "jun.",
        "jul.",
        "aug.",
        "sep.",
        "sept.",
        "oct.",
        "nov.",
        "dec.",
        "mon.",
        "tue.",
        "wed.",
        "thu.",
        "fri.",
        "sat.",
        "sun.",
        "min.",
        "max.",
        "tel.",
        "ext.",
        # Indonesian
        "dll.",
        "dsb.",
        "dst.",
        "dkk.",
        "rp.",
        "jl.",
        "jln.",
        "hlm.",
        "tgl.",
        "kab.",
        "kec.",
        "kel.",
        "prov.",
        "sdr.",
        "sdri.",
        "bpk.",
        "ibu.",
        "yth.",
        "a.n.",
        "u.p.",
        "s.d.",
        "telp.",
        "hp.",
        "pt.",
        "cv.",
        "tbk.",
        "gg.",
        "rt.",
        "rw.",
        "ds.",
        "drs.",
        "ir.",
        "h.",
        "hj.",
    }
)

_FENCE = re.compile(r"^\s*(```|~~~)")
_LIST_ITEM = re.compile(r"^\s*(?:[-*•+]|\d{1,3}[.)])\s+\S")
_TOKEN = re.compile(r"\S+")
_SENTENCE_END = re.compile(r"[.!?…]+[\"'”’)\]]*$")
_URLISH = re.compile(r"^\(?(?:https?://|www\.)", re.IGNORECASE)
_OPENERS = "\"'“‘([¿¡"


@dataclass
class _Piece:
    """Text of one bubble-to-be; ``first``..``paragraph`` are the blocks it spans."""

    text: str
    paragraph: int
    code: bool = False
    first: int = -1

    def __post_init__(self) -> None:
        if self.first < 0:
            self.first = self.paragraph


def _blocks(text: str) -> list[tuple[str, str]]:
    """Paragraphs and code blocks in order: ``[("code"|"para", text), ...]``."""
    blocks: list[tuple[str, str]] = []
    lines = text.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    para: list[str] = []

    def flush() -> None:
        if para and any(line.strip() for line in para):
            blocks.append(("para", "\n".join(para).strip()))
        para.clear()

    i = 0
    while i < len(lines):
        line = lines[i]
        if _FENCE.match(line):
            flush()
            fence = _FENCE.match(line).group(1)
            code = [line]
            i += 1
            while i < len(lines):
                code.append(lines[i])
                i += 1
                if lines[i - 1].strip().startswith(fence):
                    break
            blocks.append(("code", "\n".join(code).strip()))
            continue
        if not line.strip():
            flush()
        else:
            para.append(line)
        i += 1
    flush()
    return blocks


def _is_sentence_end(token: str, next_token: str | None) -> bool:
    if next_token is None or not _SENTENCE_END.search(token):
        return False
    bare = token.lstrip(_OPENERS).rstrip("\"'”’)]").lower()
    if bare in ABBREVIATIONS:
        return False
    # Initials such as "J." or "A.B." are not sentence ends.
    if re.fullmatch(r"(?:[a-z]\.)+", bare):
        return False
    first = next_token.lstrip(_OPENERS)[:1]
    if not first:
        return next_token[:1] in _OPENERS
    return first.isupper() or first.isdigit() or next_token[:1] in _OPENERS


def _pack(spans: list[tuple[int, int]], limit: int) -> list[tuple[int, int]]:
    """Greedily merge consecutive spans while the covered text fits ``limit``."""
    out: list[tuple[int, int]] = []
    cur: tuple[int, int] | None = None
    for start, end in spans:
        if cur is None:
            cur = (start, end)
        elif end - cur[0] <= limit:
            cur = (cur[0], end)
        else:
            out.append(cur)
            cur = (start, end)
    if cur is not None:
        out.append(cur)
    return out


def _split_prose(text: str, limit: int) -> list[str]:
    """Split plain text at sentence ends, then between words, into pieces ≤ ``limit``."""
    tokens = [(m.start(), m.end()) for m in _TOKEN.finditer(text)]
    if not tokens:
        return []
    if tokens[-1][1] - tokens[0][0] <= limit:
        return [text[tokens[0][0] : tokens[-1][1]]]
    sentences: list[tuple[int, int]] = []
    start_idx = 0
    for i, (s, e) in enumerate(tokens):
        nxt = text[tokens[i + 1][0] : tokens[i + 1][1]] if i + 1 < len(tokens) else None
        if nxt is None or _is_sentence_end(text[s:e], nxt):
            sentences.append((start_idx, i))
            start_idx = i + 1
    pieces: list[str] = []
    sentence_spans = [(tokens[a][0], tokens[b][1]) for a, b in sentences]
    for start, end in _pack(sentence_spans, limit):
        if end - start <= limit:
            pieces.append(text[start:end])
            continue
        # One sentence longer than the limit: split between words.
        words = [(s, e) for s, e in tokens if s >= start and e <= end]
        pieces.extend(text[s:e] for s, e in _pack(words, limit))
    return pieces


def _split_paragraph(text: str, limit: int) -> list[str]:
    lines = text.split("\n")
    if not any(_LIST_ITEM.match(line) for line in lines):
        return _split_prose(text, limit)
    # A list: items (with their continuation lines) are the units; text before the
    # first item is a unit of its own.
    units: list[str] = []
    for line in lines:
        if _LIST_ITEM.match(line) or not units:
            units.append(line)
        else:
            units[-1] += "\n" + line
    pieces: list[str] = []
    current = ""
    for unit in units:
        unit = unit.strip()
        if not unit:
            continue
        if len(unit) > limit:
            if current:
                pieces.append(current)
                current = ""
            pieces.extend(_split_prose(unit, limit))
        elif not current:
            current = unit
        elif len(current) + 1 + len(unit) <= limit:
            current += "\n" + unit
        else:
            pieces.append(current)
            current = unit
    if current:
        pieces.append(current)
    return pieces


def split(text: str, *, limit: int, max_bubbles: int | None = None) -> list[str]:
    """Split ``text`` into bubbles of at most ``limit`` characters (see module docstring)."""
    if limit < 1:
        raise ValueError("limit must be at least 1")
    pieces: list[_Piece] = []
    for index, (kind, block) in enumerate(_blocks(text)):
        if kind == "code":
            pieces.append(_Piece(block, index, code=True))
        else:
            pieces.extend(_Piece(p, index) for p in _split_paragraph(block, limit))
    if max_bubbles is not None and max_bubbles >= 1 and len(pieces) > max_bubbles:
        pieces = _merge_to_fit(pieces, limit, max_bubbles)
    return [p.text for p in pieces]


def _join(a: _Piece, b: _Piece) -> str:
    return a.text + (" " if a.paragraph == b.first and not (a.code or b.code) else "\n\n") + b.text


def _merge_to_fit(pieces: list[_Piece], limit: int, max_bubbles: int) -> list[_Piece]:
    """Merge adjacent pieces, best pair first (see the module docstring), until
    ``max_bubbles`` remain."""
    merged = list(pieces)
    while len(merged) > max_bubbles:

        def cost(i: int) -> tuple[bool, bool, int]:
            a, b = merged[i], merged[i + 1]
            length = len(_join(a, b))
            return (length > limit, a.paragraph != b.first, length)

        i = min(range(len(merged) - 1), key=cost)
        a, b = merged[i], merged[i + 1]
        merged[i : i + 2] = [_Piece(_join(a, b), b.paragraph, first=a.first)]
    return merged
