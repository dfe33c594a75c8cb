"""Fake OpenAI and Gemini servers for every app's tests, plus pytest fixtures.

Each fake is a :class:`siganteng.testing.LocalServer` handler that speaks the provider's
real wire format (OpenAI ``POST /v1/chat/completions`` with SSE streaming and
``data: [DONE]``; Gemini ``POST /v1beta/models/{model}:generateContent`` and
``:streamGenerateContent?alt=sse``), so the real SDKs run against it unchanged.

Replies are scripted as a queue; when the queue is empty the fake answers
``default_text``. ``calls`` counts model requests (what spend-gate tests assert)::

    def test_it_answers(fake_openai):
        fake_openai.reply_text("Halo!")            # next call answers "Halo!"
        fake_openai.fail(429).reply_text("ok")     # then 429, then "ok"
        fake_openai.reply_tool_call("quote", {"city": "Bandung"})
        ...
        assert fake_openai.calls == 1
        assert fake_openai.last_body["model"] == "gpt-4o-mini"

The ``fake_openai`` / ``fake_gemini`` fixtures start a server, point the settings
(base URL, key, a tiny retry backoff) at it and reset the provider registry.
"""

from __future__ import annotations

import contextlib
import itertools
import json
import threading
import time
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest

from siganteng.testing import LocalServer, Recorded, Reply


@dataclass
class Scripted:
    """One canned reply. ``kind``: ``text`` (with optional ``tool_calls``), ``error``
    (HTTP ``status`` with the provider's error body), ``malformed`` (a 200 whose body is
    ``body``, not the provider's format)."""

    kind: str = "text"
    text: str = ""
    tool_calls: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    status: int = 200
    delay: float = 0.0
    usage: tuple[int, int] | None = None
    headers: dict[str, str] = field(default_factory=dict)
    body: str = ""
    message: str = ""


def _words(text: str) -> int:
    return max(1, len(text.split()))


def _pieces(text: str, size: int = 3) -> list[str]:
    """Split ``text`` into deltas of a few words each (whitespace kept, so they join back)."""
    import re

    tokens = re.findall(r"\S+\s*|\s+", text)
    return ["".join(tokens[i : i + size]) for i in range(0, len(tokens), size)] or [""]


def _sse(payload: Any) -> bytes:
    data = payload if isinstance(payload, str) else json.dumps(payload)
    return f"data: {data}\n\n".encode()


class _FakeProvider:
    """The script queue and call records shared by both fakes."""

    default_text = "Hello from the fake model."

    def __init__(self, default_text: str | None = None):
        if default_text is not None:
            self.default_text = default_text
        self._queue: deque[Scripted] = deque()
        self._lock = threading.Lock()
        self._ids = itertools.count(1)
        #: every model request received (other paths are not counted)
        self.requests: list[Recorded] = []
        self.server: LocalServer | None = None

    # --- scripting -------------------------------------------------------------------
    def script(self, *items: Scripted) -> _FakeProvider:
        with self._lock:
            self._queue.extend(items)
        return self

    def reply_text(
        self, text: str, *, usage: tuple[int, int] | None = None, delay: float = 0.0, times: int = 1
    ) -> _FakeProvider:
        return self.script(*[Scripted(text=text, usage=usage, delay=delay) for _ in range(times)])

    def reply_json(self, value: Any, *, times: int = 1) -> _FakeProvider:
        return self.reply_text(json.dumps(value), times=times)

    def reply_tool_call(self, name: str, args: dict[str, Any], *, text: str = "", times: int = 1) -> _FakeProvider:
        return self.reply_tool_calls([(name, args)], text=text, times=times)

    def reply_tool_calls(
        self, calls: list[tuple[str, dict[str, Any]]], *, text: str = "", times: int = 1
    ) -> _FakeProvider:
        return self.script(*[Scripted(text=text, tool_calls=list(calls)) for _ in range(times)])

    def fail(
        self, status: int, *, times: int = 1, message: str = "", retry_after: float | None = None, delay: float = 0.0
    ) -> _FakeProvider:
        headers = {"retry-after": str(retry_after)} if retry_after is not None else {}
        item = Scripted(kind="error", status=status, message=message, headers=headers, delay=delay)
        return self.script(*[item for _ in range(times)])

    def delay(self, seconds: float, text: str | None = None, *, times: int = 1) -> _FakeProvider:
        """Answer after ``seconds`` (longer than ``LLM_TIMEOUT`` makes the client time out)."""
        return self.reply_text(self.default_text if text is None else text, delay=seconds, times=times)

    def malformed(self, body: str = "<html>this is not the API you are looking for</html>", *, times: int = 1):
        return self.script(*[Scripted(kind="malformed", body=body) for _ in range(times)])

    def fail_mid_stream(self, text: str = "Partial answer", *, message: str = "", times: int = 1) -> _FakeProvider:
        """A streamed reply that sends ``text`` and then an error event (OpenAI only; a
        non-streamed request gets a 500)."""
        return self.script(*[Scripted(kind="stream_error", text=text, message=message) for _ in range(times)])

    def reset(self) -> None:
        with self._lock:
            self._queue.clear()
            self.requests.clear()

    # --- inspection ------------------------------------------------------------------
    @property
    def calls(self) -> int:
        return len(self.requests)

    @property
    def last_body(self) -> dict[str, Any]:
        return self.requests[-1].json()

    @property
    def pending(self) -> int:
        with self._lock:
            return len(self._queue)

    # --- serving ---------------------------------------------------------------------
    def _next(self, rec: Recorded) -> Scripted:
        with self._lock:
            self.requests.append(rec)
            return self._queue.popleft() if self._queue else Scripted(text=self.default_text)

    def _call_id(self) -> str:
        return f"call_{next(self._ids):04d}"

    @staticmethod
    def _prompt_words(body: Any) -> int:
        return _words(json.dumps(body))


class FakeOpenAI(_FakeProvider):
    """OpenAI Chat Completions (``POST {base}/chat/completions``) and ``GET {base}/models``."""

    model = "gpt-4o-mini"

    def handler(self, rec: Recorded) -> Reply:
        if rec.method == "GET" and rec.path.endswith("/models"):
            return Reply(200, {"object": "list", "data": [{"id": self.model, "object": "model", "owned_by": "fake"}]})
        if rec.method != "POST" or not rec.path.endswith("/chat/completions"):
            return self._error(404, "Unknown path", 0.0, {})
        item = self._next(rec)
        if item.kind == "error":
            return self._error(item.status, item.message, item.delay, item.headers)
        if item.kind == "malformed":
            return Reply(200, item.body, {"Content-Type": "application/json"}, delay=item.delay)
        body = rec.json()
        model = body.get("model") or self.model
        if item.kind == "stream_error" and not body.get("stream"):
            return self._error(500, item.message, item.delay, {})
        if body.get("stream"):
            return self._stream(item, body, model)
        return Reply(200, self._completion(item, body, model), delay=item.delay)

    def _error(self, status: int, message: str, delay: float, headers: dict[str, str]) -> Reply:
        types = {400: "invalid_request_error", 401: "invalid_request_error", 404: "invalid_request_error"}
        codes = {401: "invalid_api_key", 404: "model_not_found", 429: "rate_limit_exceeded"}
        error = {
            "message": message or f"Fake error {status}",
            "type": types.get(status, "server_error" if status >= 500 else "requests"),
            "param": None,
            "code": codes.get(status),
        }
        return Reply(status, {"error": error}, headers, delay=delay)

    def _usage(self, item: Scripted, body: Any) -> dict[str, int]:
        prompt, completion = item.usage or (self._prompt_words(body.get("messages")), _words(item.text))
        return {"prompt_tokens": prompt, "completion_tokens": completion, "total_tokens": prompt + completion}

    def _tool_calls(self, item: Scripted) -> list[dict[str, Any]]:
        return [
            {"id": self._call_id(), "type": "function", "function": {"name": name, "arguments": json.dumps(args)}}
            for name, args in item.tool_calls
        ]

    def _completion(self, item: Scripted, body: Any, model: str) -> dict[str, Any]:
        message: dict[str, Any] = {"role": "assistant", "content": item.text or None, "refusal": None}
        if item.tool_calls:
            message["tool_calls"] = self._tool_calls(item)
        return {
            "id": f"chatcmpl-fake{next(self._ids)}",
            "object": "chat.completion",
            "created": int(time.time()),
            "model": model,
            "choices": [
                {
                    "index": 0,
                    "message": message,
                    "logprobs": None,
                    "finish_reason": "tool_calls" if item.tool_calls else "stop",
                }
            ],
            "usage": self._usage(item, body),
            "system_fingerprint": "fp_fake",
        }

    def _stream(self, item: Scripted, body: Any, model: str) -> Reply:
        base = {"id": f"chatcmpl-fake{next(self._ids)}", "object": "chat.completion.chunk",
                "created": int(time.time()), "model": model, "system_fingerprint": "fp_fake"}  # fmt: skip

        def chunk(delta: dict[str, Any], finish: str | None = None) -> bytes:
            return _sse(base | {"choices": [{"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}]})

        chunks = [chunk({"role": "assistant", "content": ""})]
        if item.text:
            chunks += [chunk({"content": piece}) for piece in _pieces(item.text)]
        for index, call in enumerate(self._tool_calls(item)):
            fn = call["function"]
            head = {"index": index, "id": call["id"], "type": "function",
                    "function": {"name": fn["name"], "arguments": ""}}  # fmt: skip
            chunks.append(chunk({"tool_calls": [head]}))
            args = fn["arguments"]
            half = len(args) // 2  # arguments arrive in fragments, as from the real API
            for part in (args[:half], args[half:]):
                chunks.append(chunk({"tool_calls": [{"index": index, "function": {"arguments": part}}]}))
        if item.kind == "stream_error":
            error = {"message": item.message or "The server had an error while processing your request.",
                     "type": "server_error", "param": None, "code": None}  # fmt: skip
            return Reply(200, headers={"Content-Type": "text/event-stream"}, chunks=[*chunks, _sse({"error": error})])
        chunks.append(chunk({}, "tool_calls" if item.tool_calls else "stop"))
        if (body.get("stream_options") or {}).get("include_usage"):
            chunks.append(_sse(base | {"choices": [], "usage": self._usage(item, body)}))
        chunks.append(_sse("[DONE]"))
        headers = {"Content-Type": "text/event-stream", "Cache-Control": "no-cache"}
        return Reply(200, headers=headers, chunks=chunks, delay=item.delay)


class FakeGemini(_FakeProvider):
    """Gemini API ``models/{model}:generateContent`` and ``:streamGenerateContent?alt=sse``."""

    SIGNATURE = "c2lnbmVkLWJ5LWZha2U="  # base64 of b"signed-by-fake"

    _STATUS = {
        400: "INVALID_ARGUMENT",
        401: "UNAUTHENTICATED",
        403: "PERMISSION_DENIED",
        404: "NOT_FOUND",
        429: "RESOURCE_EXHAUSTED",
        500: "INTERNAL",
        503: "UNAVAILABLE",
        504: "DEADLINE_EXCEEDED",
    }

    def handler(self, rec: Recorded) -> Reply:
        path = rec.path
        if rec.method != "POST" or not (path.endswith(":generateContent") or path.endswith(":streamGenerateContent")):
            return self._error(404, "Unknown path", 0.0, {})
        item = self._next(rec)
        if item.kind == "error":
            return self._error(item.status, item.message, item.delay, item.headers)
        if item.kind == "malformed":
            return Reply(200, item.body, {"Content-Type": "application/json"}, delay=item.delay)
        body = rec.json()
        model = path.rsplit("/", 1)[-1].split(":", 1)[0]
        if path.endswith(":streamGenerateContent"):
            return self._stream(item, body, model)
        return Reply(200, self._response(item, body, model, self._parts(item), final=True), delay=item.delay)

    @staticmethod
    def model_of(rec: Recorded) -> str:
        return rec.path.rsplit("/", 1)[-1].split(":", 1)[0]

    def _error(self, status: int, message: str, delay: float, headers: dict[str, str]) -> Reply:
        error = {
            "code": status,
            "message": message or f"Fake error {status}",
            "status": self._STATUS.get(status, "UNKNOWN"),
        }
        return Reply(status, {"error": error}, headers, delay=delay)

    def _parts(self, item: Scripted) -> list[dict[str, Any]]:
        parts: list[dict[str, Any]] = [{"text": item.text}] if item.text else []
        parts += [
            # Thinking models sign their calls; the signature must come back with the call.
            {"functionCall": {"id": self._call_id(), "name": name, "args": args}, "thoughtSignature": self.SIGNATURE}
            for name, args in item.tool_calls
        ]
        return parts

    def _response(
        self, item: Scripted, body: Any, model: str, parts: list[dict[str, Any]], *, final: bool
    ) -> dict[str, Any]:
        candidate: dict[str, Any] = {"content": {"parts": parts, "role": "model"}, "index": 0}
        out: dict[str, Any] = {"candidates": [candidate], "modelVersion": model, "responseId": f"fake-{id(item)}"}
        prompt, completion = item.usage or (self._prompt_words(body.get("contents")), _words(item.text))
        if final:
            candidate["finishReason"] = "STOP"
            out["usageMetadata"] = {
                "promptTokenCount": prompt,
                "candidatesTokenCount": completion,
                "totalTokenCount": prompt + completion,
            }
        else:
            out["usageMetadata"] = {"promptTokenCount": prompt, "totalTokenCount": prompt}
        return out

    def _stream(self, item: Scripted, body: Any, model: str) -> Reply:
        pieces = _pieces(item.text) if item.text else []
        calls = [p for p in self._parts(item) if "functionCall" in p]
        frames: list[list[dict[str, Any]]] = [[{"text": p}] for p in pieces]
        if calls:
            frames.append(calls)  # function calls arrive whole, in one frame
        frames = frames or [[{"text": ""}]]
        chunks = [
            _sse(self._response(item, body, model, parts, final=i == len(frames) - 1)) for i, parts in enumerate(frames)
        ]
        headers = {"Content-Type": "text/event-stream"}
        return Reply(200, headers=headers, chunks=[c.replace(b"\n\n", b"\r\n\r\n") for c in chunks], delay=item.delay)


# --- pytest fixtures (registered by ``pytest_plugins`` in the root conftest.py) -----------


class _Router:
    """Routes each request to the fake for its wire format, so one test can use both."""

    def __init__(self) -> None:
        self.fakes: dict[str, _FakeProvider] = {}

    def __call__(self, rec: Recorded) -> Reply:
        kind = "gemini" if "generateContent" in rec.path or "GenerateContent" in rec.path else "openai"
        fake = self.fakes.get(kind)
        if fake is None:
            return Reply(404, {"error": {"message": f"no fake {kind} server in this test"}})
        return fake.handler(rec)


@pytest.fixture(scope="session")
def _provider_server() -> Iterator[LocalServer]:
    """One server for the whole session (stopping a server costs ~0.5 s); each test's
    fakes are routed to through :class:`_Router`."""
    router = _Router()
    with LocalServer(router) as server:
        yield server


@contextlib.contextmanager
def _serve(kind: str, fake: _FakeProvider, server: LocalServer) -> Iterator[LocalServer]:
    from siganteng.ai import registry

    router: _Router = server.handler  # type: ignore[assignment]
    fake.server = server
    router.fakes[kind] = fake
    registry.reset()
    try:
        yield server
    finally:
        router.fakes.pop(kind, None)
        registry.reset()


@pytest.fixture
def fake_openai(settings, _provider_server) -> Iterator[FakeOpenAI]:
    """A :class:`FakeOpenAI` on a local server; the ``openai`` provider talks to it."""
    fake = FakeOpenAI()
    with _serve("openai", fake, _provider_server) as server:
        settings.OPENAI_BASE_URL = f"{server.url}/v1"
        settings.OPENAI_API_KEY = "sk-test-fake"
        settings.LLM_RETRY_BACKOFF = 0.01
        yield fake


@pytest.fixture
def fake_gemini(settings, _provider_server) -> Iterator[FakeGemini]:
    """A :class:`FakeGemini` on a local server; the ``gemini`` provider talks to it.
    Both fakes can be used in one test."""
    fake = FakeGemini()
    with _serve("gemini", fake, _provider_server) as server:
        settings.GEMINI_BASE_URL = server.url
        settings.GEMINI_API_KEY = "gemini-test-fake"
        settings.LLM_RETRY_BACKOFF = 0.01
        yield fake
