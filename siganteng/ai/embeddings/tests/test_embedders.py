"""The embedders for real: the local model on the CPU, and the OpenAI and Gemini SDKs
against a local server speaking their embedding wire formats."""

import hashlib

import numpy as np
import pytest

from siganteng.ai.base import ProviderError
from siganteng.ai.registry import get_embedder
from siganteng.testing import Reply


def fake_vector(text: str, dims: int = 8) -> list[float]:
    digest = hashlib.sha256(text.encode()).digest()
    return [b - 128.0 for b in digest[:dims]]


@pytest.fixture
def openai_settings(settings, local_server):
    settings.EMBEDDER = "openai"
    settings.OPENAI_API_KEY = "sk-test"
    settings.OPENAI_BASE_URL = local_server.url + "/v1"
    settings.OPENAI_EMBEDDING_MODEL = "text-embedding-3-small"
    settings.LLM_MAX_RETRIES = 0
    return settings


@pytest.fixture
def gemini_settings(settings, local_server):
    settings.EMBEDDER = "gemini"
    settings.GEMINI_API_KEY = "g-test"
    settings.GEMINI_BASE_URL = local_server.url
    settings.GEMINI_EMBEDDING_MODEL = "text-embedding-004"
    settings.LLM_MAX_RETRIES = 0
    return settings


def openai_handler(req):
    body = req.json()
    inputs = body["input"] if isinstance(body["input"], list) else [body["input"]]
    # Answer out of order: the SDK's index field is what ties a vector to its text.
    data = [{"object": "embedding", "index": i, "embedding": fake_vector(t)} for i, t in enumerate(inputs)][::-1]
    return Reply(
        200, {"object": "list", "data": data, "model": body["model"], "usage": {"prompt_tokens": 3, "total_tokens": 3}}
    )


def gemini_handler(req):
    body = req.json()
    return Reply(
        200, {"embeddings": [{"values": fake_vector(r["content"]["parts"][0]["text"])} for r in body["requests"]]}
    )


def test_it_embeds_with_the_openai_sdk(openai_settings, local_server):
    local_server.handler = openai_handler
    matrix = get_embedder().embed(["satu", "dua"])
    req = local_server.requests[-1]
    assert req.method == "POST" and req.path == "/v1/embeddings"
    assert req.headers["authorization"] == "Bearer sk-test"
    assert req.json()["model"] == "text-embedding-3-small" and req.json()["input"] == ["satu", "dua"]
    assert matrix.dtype == np.float32 and matrix.shape == (2, 8)
    expected = np.asarray(fake_vector("satu"), dtype=np.float32)
    np.testing.assert_allclose(matrix[0], expected / np.linalg.norm(expected), rtol=1e-5)
    np.testing.assert_allclose(np.linalg.norm(matrix, axis=1), 1.0, rtol=1e-5)


def test_it_maps_openai_errors(openai_settings, local_server):
    local_server.handler = lambda req: Reply(401, {"error": {"message": "bad key", "type": "invalid_request_error"}})
    with pytest.raises(ProviderError) as err:
        get_embedder().embed(["x"])
    assert err.value.permanent and err.value.status == 401
    local_server.handler = lambda req: Reply(503, {"error": {"message": "busy"}})
    with pytest.raises(ProviderError) as err:
        get_embedder().embed(["x"])
    assert not err.value.permanent


def test_it_embeds_with_the_gemini_sdk(gemini_settings, local_server):
    local_server.handler = gemini_handler
    matrix = get_embedder().embed(["satu", "dua", "tiga"])
    req = local_server.requests[-1]
    assert req.method == "POST" and req.path.endswith("/models/text-embedding-004:batchEmbedContents")
    assert req.headers["x-goog-api-key"] == "g-test"
    sent = req.json()["requests"]
    assert [r["content"]["parts"][0]["text"] for r in sent] == ["satu", "dua", "tiga"]
    assert sent[0]["model"] == "models/text-embedding-004"
    assert matrix.shape == (3, 8) and matrix.dtype == np.float32
    expected = np.asarray(fake_vector("tiga"), dtype=np.float32)
    np.testing.assert_allclose(matrix[2], expected / np.linalg.norm(expected), rtol=1e-5)


def test_it_maps_gemini_errors(gemini_settings, local_server):
    local_server.handler = lambda req: Reply(
        400, {"error": {"code": 400, "message": "bad", "status": "INVALID_ARGUMENT"}}
    )
    with pytest.raises(ProviderError) as err:
        get_embedder().embed(["x"])
    assert err.value.permanent and err.value.status == 400


def test_it_runs_the_local_model(settings):
    settings.EMBEDDER = "local"
    embedder = get_embedder()
    matrix = embedder.embed(["The parcel was delivered yesterday.", "Package delivery time", "I like green apples."])
    assert matrix.shape == (3, 384) and matrix.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(matrix, axis=1), 1.0, rtol=1e-4)
    assert matrix[0] @ matrix[1] > matrix[2] @ matrix[1]


def test_it_answers_none_for_lexical_only(settings):
    settings.EMBEDDER = "none"
    assert get_embedder() is None
