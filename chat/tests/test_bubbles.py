"""The bubble splitter: examples for each rule, and properties over generated text."""

from __future__ import annotations

import re

from hypothesis import given, settings
from hypothesis import strategies as st

from chat.bubbles import split


def words(text: str) -> list[str]:
    return text.split()


def test_it_keeps_the_models_paragraphs():
    text = "Halo kak!\n\nKami buka jam 9.\n\nAda lagi?"
    assert split(text, limit=200) == ["Halo kak!", "Kami buka jam 9.", "Ada lagi?"]


def test_it_splits_long_paragraphs_at_sentence_ends():
    text = "First sentence is here. Second one follows! Third asks why? Fourth ends."
    assert split(text, limit=45) == ["First sentence is here. Second one follows!", "Third asks why? Fourth ends."]


def test_it_does_not_split_after_abbreviations_decimals_or_lowercase():
    text = "Kami jual baju, celana, dll. dan juga sepatu. Harga Rp. 150.000 saja. Mr. Budi bilang 3.5 kg e.g. Beras."
    bubbles = split(text, limit=50)
    assert bubbles == [
        "Kami jual baju, celana, dll. dan juga sepatu.",
        "Harga Rp. 150.000 saja.",
        "Mr. Budi bilang 3.5 kg e.g. Beras.",
    ]


def test_it_never_cuts_a_url():
    url = "https://example.com/a/very/long/path?with=query&and=more.stuff"
    text = f"See {url}. Then call us."
    bubbles = split(text, limit=20)
    assert any(url in b for b in bubbles)
    assert words(" ".join(bubbles)) == words(text)


def test_it_keeps_list_items_whole_and_code_blocks_whole():
    text = (
        "Pilihan:\n- Paket A dengan ongkir murah sekali\n- Paket B ekspres\n1. Satu dua tiga empat lima"
        "\n\n```\nline one\n\nline two\n```\n\nSelesai."
    )
    bubbles = split(text, limit=40)
    assert "- Paket A dengan ongkir murah sekali" in bubbles
    assert "```\nline one\n\nline two\n```" in bubbles
    assert bubbles[-1] == "Selesai."
    for b in bubbles:
        for line in b.split("\n"):
            if line.startswith("- "):
                assert line in text.split("\n")


def test_it_merges_overflow_into_the_last_bubble_when_over_max_bubbles():
    text = "\n\n".join(f"Paragraph number {i} is here." for i in range(8))
    bubbles = split(text, limit=30, max_bubbles=3)
    assert len(bubbles) == 3
    assert words(" ".join(bubbles)) == words(text)


def test_it_uses_the_bubbles_allowed_and_keeps_paragraphs_apart_when_over_max_bubbles():
    text = "A.\n\nB.\n\nC.\n\nD."
    assert split(text, limit=100, max_bubbles=2) == ["A.\n\nB.", "C.\n\nD."]


def test_a_four_paragraph_answer_fills_three_bubbles_not_one():
    paragraphs = [
        "Halo! Terima kasih sudah menghubungi Toko Budi.",
        "Pengiriman ke Bali memakan waktu 3-4 hari kerja.",
        "Ongkos kirim ekspres tambah Rp 25.000.",
        "Ada lagi yang bisa kami bantu?",
    ]
    bubbles = split("\n\n".join(paragraphs), limit=300, max_bubbles=3)
    assert len(bubbles) == 3
    # Every paragraph boundary but one stays a bubble boundary; the shortest pair merged.
    assert bubbles == [paragraphs[0], paragraphs[1], paragraphs[2] + "\n\n" + paragraphs[3]]


def test_it_merges_sentences_of_one_paragraph_before_crossing_paragraphs():
    text = "One. Two. Three.\n\nFour."
    # limit 6 splits the first paragraph into sentences: four pieces for three bubbles.
    bubbles = split(text, limit=6, max_bubbles=3)
    assert len(bubbles) == 3 and bubbles[-1] == "Four."


# --- properties ----------------------------------------------------------------------

_word = st.text(
    alphabet="abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789,.!?:;'\"()-", min_size=1, max_size=12
)
_url = st.builds(
    lambda host, path: f"https://{host}.com/{path}",
    st.text(alphabet="abcdefghij", min_size=1, max_size=8),
    st.text(alphabet="abcdefghij/._-?=&", min_size=0, max_size=20),
)
_abbr = st.sampled_from(["dll.", "dsb.", "Rp.", "e.g.", "Mr.", "3.5", "Rp.150.000", "i.e.", "No."])
_token = st.one_of(_word, _word, _word, _url, _abbr)
_sep = st.sampled_from([" ", " ", " ", "  ", "\n", "\n\n", "\n- ", "\n1. "])


@st.composite
def _texts(draw) -> str:
    tokens = draw(st.lists(_token, min_size=0, max_size=80))
    out = []
    for token in tokens:
        out.append(token)
        out.append(draw(_sep))
    return "".join(out)


@settings(max_examples=300, deadline=None)
@given(
    text=_texts(),
    limit=st.integers(min_value=50, max_value=400),
    max_bubbles=st.one_of(st.none(), st.integers(min_value=1, max_value=6)),
)
def test_it_gives_back_the_words_in_order(text, limit, max_bubbles):
    bubbles = split(text, limit=limit, max_bubbles=max_bubbles)
    assert words(" ".join(bubbles)) == words(text)
    assert all(b.strip() for b in bubbles)
    if max_bubbles is not None:
        assert len(bubbles) <= max_bubbles


@settings(max_examples=300, deadline=None)
@given(text=_texts(), limit=st.integers(min_value=50, max_value=400))
def test_it_never_exceeds_the_limit_when_every_word_fits(text, limit):
    for bubble in split(text, limit=limit):
        assert len(bubble) <= limit


@settings(max_examples=200, deadline=None)
@given(
    text=_texts(),
    limit=st.integers(min_value=10, max_value=120),
    max_bubbles=st.one_of(st.none(), st.integers(min_value=1, max_value=6)),
)
def test_it_keeps_every_url_whole(text, limit, max_bubbles):
    urls = re.findall(r"https://\S+", text)
    bubble_tokens = [t for b in split(text, limit=limit, max_bubbles=max_bubbles) for t in b.split()]
    for url in urls:
        assert url in bubble_tokens
