"""The offline extractive provider: deterministic quotes, locale framing, honest misses."""

from __future__ import annotations

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from siganteng.ai import llm
from siganteng.ai.base import ChatMessage, ContextPassage, LLMRequest
from siganteng.ai.providers.extractive import LABELS, MODEL, ExtractiveProvider

PASSAGES = [
    ContextPassage(
        id="c1",
        document_id="d1",
        title="Pengiriman",
        text="Kami mengirim pesanan setiap hari kerja. Ongkos kirim ke Bandung adalah Rp. 15.000 "
        "dengan JNE. Pesanan di atas Rp. 200.000 gratis ongkir.",
    ),
    ContextPassage(
        id="c2",
        document_id="d2",
        title="Refunds",
        text="Refunds are processed within 7 days. Contact support to start a return. Our office is in Jakarta.",
    ),
    ContextPassage(id="c3", document_id="d3", title="Hours", text="We are open Monday to Friday, 9am to 5pm."),
]


def _request(question: str, locale: str = "en", passages=None, **kw) -> LLMRequest:
    return LLMRequest(
        model="",
        system="You are Sari.",
        messages=[ChatMessage(role="user", content=question)],
        passages=PASSAGES if passages is None else passages,
        locale=locale,
        **kw,
    )


def test_it_quotes_the_relevant_sentences_and_cites_their_passage():
    response = ExtractiveProvider().generate(_request("How long do refunds take?"))
    assert response.provider == "extractive"
    assert response.model == MODEL
    assert "Refunds are processed within 7 days." in response.text
    assert "[c2]" in response.text
    assert "Bandung" not in response.text
    assert response.citations == ["c2"]
    assert response.label == LABELS["en"]
    assert response.usage.input_tokens > 0 and response.usage.output_tokens > 0


def test_it_answers_in_indonesian_with_stemming_and_keeps_abbreviations_whole():
    response = ExtractiveProvider().generate(_request("Berapa ongkos pengiriman ke Bandung?", locale="id-ID"))
    assert response.text.startswith("Berikut informasi yang saya temukan:")
    # "Rp." is not a sentence end, so the quoted sentence keeps the price.
    assert "Ongkos kirim ke Bandung adalah Rp. 15.000 dengan JNE." in response.text
    assert response.citations == ["c1"]
    assert response.label == LABELS["id"]


def test_it_is_deterministic():
    provider = ExtractiveProvider()
    request = _request("When are you open and where is the office?")
    texts = {provider.generate(request).text for _ in range(5)}
    assert len(texts) == 1
    assert "[c3]" in texts.pop()


def test_it_says_plainly_when_nothing_was_found():
    en = ExtractiveProvider().generate(_request("Do you sell bicycles?"))
    assert en.text.startswith("Sorry, I couldn't find anything about that")
    assert en.citations == []
    id_ = ExtractiveProvider().generate(_request("Apakah ada sepeda?", locale="id", passages=[]))
    assert id_.text.startswith("Maaf, saya belum menemukan informasi tentang itu")


def test_it_greets_back_instead_of_searching():
    assert ExtractiveProvider().generate(_request("Halo kak", locale="id")).text == "Halo! Ada yang bisa saya bantu?"


def test_it_answers_the_last_user_message():
    request = _request("How long do refunds take?")
    request.messages = [
        ChatMessage(role="user", content="How long do refunds take?"),
        ChatMessage(role="assistant", content="Within 7 days."),
        ChatMessage(role="user", content="What are your opening hours on Monday?"),
    ]
    response = ExtractiveProvider().generate(request)
    assert response.citations == ["c3"]


def test_it_streams_the_same_text_as_it_generates():
    provider = ExtractiveProvider()
    request = _request("How long do refunds take?")
    events = list(provider.stream(request))
    assert [e.kind for e in events[:-1]] == ["delta"] * (len(events) - 1)
    assert events[-1].kind == "done"
    assert "".join(e.text for e in events[:-1]) == provider.generate(request).text == events[-1].response.text


def test_it_returns_json_in_json_mode():
    response = ExtractiveProvider().generate(_request("How long do refunds take?", response_format="json"))
    body = json.loads(response.text)
    assert body["sources"] == ["c2"]
    assert "7 days" in body["answer"]


def test_it_fills_in_the_default_model_through_the_llm_entry_point():
    response = llm.generate(_request("How long do refunds take?"), provider="extractive")
    assert response.model == llm.default_model("extractive") == MODEL
    assert response.fallback_from is None


@settings(max_examples=60, deadline=None)
@given(
    question=st.text(max_size=80),
    texts=st.lists(st.text(max_size=200), max_size=4),
    locale=st.sampled_from(["en", "id", "id-ID", "", "fr"]),
)
def test_it_always_answers_deterministically_and_cites_only_given_passages(question, texts, locale):
    passages = [ContextPassage(id=f"p{i}", document_id="d", title="t", text=t) for i, t in enumerate(texts)]
    request = _request(question, locale=locale, passages=passages)
    first = ExtractiveProvider().generate(request)
    assert first.text and first.text == ExtractiveProvider().generate(request).text
    assert set(first.citations) <= {p.id for p in passages}
    assert all(f"[{pid}]" in first.text for pid in first.citations)


def test_it_reads_a_short_follow_up_in_the_light_of_the_previous_question():
    passages = [
        ContextPassage(id="b", document_id="d", title="", text="Ongkir ke Bandung Rp 15.000."),
        ContextPassage(id="s", document_id="d", title="", text="Ongkir ke Surabaya Rp 25.000. Kota di Jawa Timur."),
    ]
    request = _request("", locale="id", passages=passages)
    request.messages = [
        ChatMessage(role="user", content="Berapa ongkir ke Bandung?"),
        ChatMessage(role="assistant", content="Rp 15.000."),
        ChatMessage(role="user", content="Kalau ke Surabaya?"),
    ]
    response = ExtractiveProvider().generate(request)
    assert response.citations == ["s"]
    assert "Ongkir ke Surabaya Rp 25.000." in response.text


def test_it_never_quotes_a_markdown_heading():
    from siganteng.ai.base import ChatMessage, ContextPassage, LLMRequest
    from siganteng.ai.providers.extractive import ExtractiveProvider

    passage = ContextPassage(
        id="c1",
        document_id="d1",
        title="Pengiriman",
        text=(
            "## Lama pengiriman\nPengiriman ke Jawa memakan waktu 2-3 hari kerja.\n\n"
            "## Ongkos kirim\nGratis ongkir di atas Rp 200.000."
        ),
    )
    request = LLMRequest(
        model="",
        system="",
        messages=[ChatMessage(role="user", content="Berapa lama pengiriman ke Jawa?")],
        passages=[passage],
        locale="id",
    )
    text = ExtractiveProvider().generate(request).text
    assert "2-3 hari kerja" in text
    assert "##" not in text and "Lama pengiriman" not in text


# --- opening hours, from the prompt's hours part ---------------------------------------

WEEK = {d: [["09:00", "17:00"]] for d in ("mon", "tue", "wed", "thu", "fri")} | {"sat": [["10:00", "14:00"]]}


def _hours(is_open: bool, **kw):
    import datetime as dt
    from zoneinfo import ZoneInfo

    from siganteng.ai.base import BusinessHours

    return BusinessHours(
        weekly=WEEK,
        timezone="Asia/Jakarta",
        is_open=is_open,
        next_opening=None if is_open else dt.datetime(2026, 11, 24, 9, 0, tzinfo=ZoneInfo("Asia/Jakarta")),
        **kw,
    )


def test_it_answers_jam_buka_while_closed_with_the_hours_and_the_after_hours_message():
    hours = _hours(False, after_hours_message="Tim kami akan membalas besok pagi.")
    text = ExtractiveProvider().generate(_request("Jam buka?", locale="id", hours=hours)).text
    assert "Senin–Jumat 09:00–17:00" in text and "Sabtu 10:00–14:00" in text
    assert "tutup" in text and "Selasa pukul 09:00" in text
    assert "Tim kami akan membalas besok pagi." in text
    assert "Ongkos kirim" not in text and "[c1]" not in text  # no unrelated passage


@pytest.mark.parametrize(
    "question",
    ["what are your opening hours", "Are you open now?", "When do you close?", "What time does the shop open?"],
)
def test_it_answers_english_hours_questions_from_the_hours(question):
    text = ExtractiveProvider().generate(_request(question, hours=_hours(True))).text
    assert text.startswith("Our opening hours (Asia/Jakarta):")
    assert "Mon–Fri 09:00–17:00" in text and "We are open now." in text


@pytest.mark.parametrize(
    "question", ["Jam operasional toko?", "Besok buka jam berapa?", "Hari ini buka?", "kapan buka kak", "jam buka"]
)
def test_it_recognises_indonesian_hours_questions(question):
    text = ExtractiveProvider().generate(_request(question, locale="id", hours=_hours(True))).text
    assert text.startswith("Jam buka kami") and "Saat ini kami sedang buka." in text


@pytest.mark.parametrize("question", ["Bagaimana cara buka rekening?", "How do I open the box?", "Refunds?"])
def test_it_leaves_other_questions_to_the_passages(question):
    text = ExtractiveProvider().generate(_request(question, hours=_hours(True))).text
    assert "opening hours" not in text.lower() and "jam buka" not in text.lower()


def test_without_hours_in_the_prompt_an_hours_question_is_answered_from_the_passages():
    response = ExtractiveProvider().generate(_request("what are your opening hours"))
    assert "[c3]" in response.text


def test_numbers_are_matched_as_they_are_and_kept_out_of_the_stem_cache():
    from siganteng.ai.providers.extractive import _stem, _terms

    words = [_stem("pesanan", "id"), _stem("dikirimkan", "id")]
    before = _stem.cache_info().currsize
    assert _terms("Pesanan 081234567890 dan 12345 dikirimkan", "id") == [words[0], "081234567890", "12345", words[1]]
    assert _stem.cache_info().currsize == before  # the words were cached already; the numbers never are
