"""Schema-driven fuzzing of the whole API: bad input is a 4xx in the error shape, never a
500, and every answer is what the OpenAPI schema declares.

The OpenAPI schema is generated in-process by drf-spectacular and fed to schemathesis;
every operation gets schema-conforming (positive) and schema-violating (negative) requests,
sent through the project's WSGI application with one tenant key holding every scope. The
tenant has real objects (a document, a source, a tool, a conversation, a channel, a
follow-up, a job, a key), and half the examples of an operation with path ids address
those objects, so the handlers behind the 404 are exercised too.

Invariants checked on every response:
- no 5xx;
- every 4xx has ``{"error": {"code", "message", "fields"}}``, except the OpenAI-compatible
  ``/v1/`` routes, which answer in OpenAI's own error shape (``{"error": {"message",
  "type", "code", ...}}``, checked separately);
- server-sent event streams are not parsed (their status is still checked);
- the schema holds: the status code is declared for the operation, the content type is
  declared for that status, and the body validates against the declared schema.

Bounded on purpose (``MAX_EXAMPLES`` per operation and mode, no deadline): the suite runs
twice in CI.
"""

from __future__ import annotations

import os

import pytest
import schemathesis
from django.core.signals import request_finished, request_started
from django.db import close_old_connections
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis import GenerationMode
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from siganteng.tests.seeding import seed_tenant

MAX_EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "10"))
SCHEMA_CHECKS = [status_code_conformance, content_type_conformance, response_schema_conformance]
ALL_SCOPES = ["chat", "knowledge", "jobs", "followups", "worker", "admin"]
# Routes that answer in a documented foreign error shape (OpenAI's), not ours.
FOREIGN_ERROR_SHAPE = ("/v1/",)


def _schema_dict() -> dict:
    from drf_spectacular.generators import SchemaGenerator

    return SchemaGenerator().get_schema(request=None, public=True)


def _load():
    from django.core.wsgi import get_wsgi_application

    raw = _schema_dict()
    # A tenant key is sent explicitly; drop the cookie/basic alternatives so the generator
    # does not try to satisfy them.
    return schemathesis.openapi.from_dict(raw), get_wsgi_application()


SCHEMA, APP = _load()
OPERATIONS = [result.ok() for result in SCHEMA.get_all_operations()]
LABELS = [f"{op.method.upper()} {op.path}" for op in OPERATIONS]


@pytest.fixture
def wsgi_requests():
    """The WSGI handler closes connections when a request starts and ends; inside the test's
    transaction that would drop it (Django's own test client disconnects them the same way)."""
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    yield APP
    request_started.connect(close_old_connections)
    request_finished.connect(close_old_connections)


@pytest.fixture
def seeded(make_tenant, make_client, make_key):
    tenant = make_tenant("acme", rate_limit_per_minute=1_000_000)
    key = make_key(tenant, ALL_SCOPES)
    client = make_client(key=key)
    return seed_tenant(client, tenant), key


def _check(case, response) -> None:
    label = f"{case.method} {case.formatted_path}"
    status = response.status_code
    assert status < 500, f"{label} → {status}: {response.content[:800]!r}\n{case.as_curl_command()}"
    content_type = response.headers.get("content-type", [""])
    content_type = content_type[0] if isinstance(content_type, list) else content_type
    if "text/event-stream" in content_type or not 400 <= status < 500:
        return
    try:
        body = response.json()
    except Exception:
        raise AssertionError(f"{label} → {status} is not JSON: {response.content[:300]!r}") from None
    error = body.get("error") if isinstance(body, dict) else None
    assert isinstance(error, dict), f"{label} → {status} without an error object: {body!r}"
    if case.operation.path.startswith(FOREIGN_ERROR_SHAPE):
        assert isinstance(error.get("message"), str), f"{label} → {status}: {body!r}"
        return
    assert isinstance(error.get("code"), str) and isinstance(error.get("message"), str), f"{label}: {body!r}"
    assert isinstance(error.get("fields"), dict), f"{label} → {status}: {body!r}"


@pytest.mark.slow
@pytest.mark.django_db
@pytest.mark.parametrize("label", LABELS)
def test_it_never_answers_5xx_and_errors_keep_their_shape(label, seeded, wsgi_requests):
    seeds, key = seeded
    operation = OPERATIONS[LABELS.index(label)]
    headers = {"X-API-Key": key}
    path_names = [p.name for p in operation.path_parameters]
    strategies = [
        operation.as_strategy(generation_mode=GenerationMode.POSITIVE),
        operation.as_strategy(generation_mode=GenerationMode.NEGATIVE),
    ]
    if path_names and all(name in seeds.ids for name in path_names):
        real = {name: seeds.ids[name] for name in path_names}
        strategies += [
            operation.as_strategy(generation_mode=GenerationMode.POSITIVE, path_parameters=real),
            operation.as_strategy(generation_mode=GenerationMode.NEGATIVE, path_parameters=real),
        ]

    @given(case=st.one_of(strategies))
    @settings(
        max_examples=MAX_EXAMPLES * len(strategies) // 2,
        deadline=None,
        database=None,
        suppress_health_check=list(HealthCheck),
        derandomize=True,
    )
    def run(case):
        case.headers = {**(case.headers or {}), **headers}
        response = case.call(app=wsgi_requests)
        _check(case, response)
        case.validate_response(response, checks=SCHEMA_CHECKS, headers=case.headers)
        if os.environ.get("FUZZ_STATS"):
            print("STAT", label, response.status_code)

    run()
