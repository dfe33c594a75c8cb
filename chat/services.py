"""Chat operations: answer a customer message, compose a staff-instructed message.

:func:`reply` is the orchestrator every entry point uses (the chat API, its stream, the
OpenAI-compatible endpoint, the channel webhooks): spend gate → retrieval → prompt →
LLM (with up to ``CHAT_MAX_TOOL_STEPS`` rounds of tool calls) → bubbles → one
transaction writing the user Message, the assistant Message (tokens, cost, latency,
the prompt that was sent, timings) and the daily usage roll-up.

Nothing is written when the reply fails (budget, provider error): the caller gets an
:class:`~siganteng.errors.ApiError` and may retry the same message.

:func:`reply`, :func:`reply_stream` and :func:`compose` are one pipeline: a turn built
by :func:`_build_turn`, run by :func:`_run` (a generator of deltas ending with the
result), drained by :func:`_drain` when nothing streams. Tool registration lives in
:mod:`chat.tool_services`.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from chat import bubbles as bubble_splitter
from chat import handoff, selectors, tools, usage
from chat import prompt as prompt_builder
from chat.models import CONVERSATION_CHANNELS, Channel, Conversation, Message
from chat.prompt import ChannelRules
from knowledge import services as knowledge_services
from siganteng import metrics
from siganteng.ai import llm
from siganteng.ai.base import ChatMessage, ContextPassage, LLMRequest, LLMResponse, ProviderError, Usage
from siganteng.errors import ApiError, Unavailable, UpstreamError, field_error
from tenants.models import Tenant

CHANNELS = tuple(c for c, _ in CONVERSATION_CHANNELS)


# What a model answers to compose() when it has nothing worth sending (asked to in the
# instruction): such a message is never stored or sent.
NO_MESSAGE = "NO_MESSAGE"


class NothingToSay(ApiError):
    """compose() produced no message worth sending: the model answered :data:`NO_MESSAGE`
    or only that it found nothing. Nothing was stored; the tokens spent are recorded."""

    status_code = 422
    default_code = "nothing_to_say"


@dataclass
class ReplyResult:
    """One answered turn. ``message`` is the stored assistant Message."""

    conversation: Conversation
    message: Message
    bubbles: list[str]
    sources: list[dict]
    usage: dict
    provider: str
    model: str
    user_message: Message | None = None
    timings: dict[str, float] = field(default_factory=dict)
    prompt: dict = field(default_factory=dict)
    # HANDOFF: True when no one answered yet because a person owns the conversation;
    # ``message`` is then the stored customer message and ``bubbles`` is empty.
    held: bool = False

    @property
    def text(self) -> str:
        return "" if self.held else self.message.content


@dataclass
class Delta:
    """A piece of streamed text."""

    text: str


def channel_rules(channel: str) -> ChannelRules:
    """Max characters per bubble and formatting notes for ``channel``."""
    return prompt_builder.channel_rules(channel)


# --- retrieval -----------------------------------------------------------------------


def _retrieve(tenant: Tenant, query: str) -> tuple[list[ContextPassage], dict[str, str]]:
    """Passages for ``query`` and their documents' external ids (by passage id)."""
    k = settings.CHAT_RETRIEVAL_K
    if k <= 0 or not query.strip():
        return [], {}
    hits = knowledge_services.search(tenant=tenant, query=query, k=k)
    passages = [
        ContextPassage(
            id=str(h.chunk_id), document_id=str(h.document_id), title=h.title, text=h.text, score=float(h.score)
        )
        for h in hits
    ]
    return passages, {str(h.chunk_id): h.external_id for h in hits}


def _sources(passages: list[ContextPassage], cited: list[str], external_ids: dict[str, str]) -> list[dict]:
    return [
        {
            "id": p.id,
            "document_id": p.document_id,
            "external_id": external_ids.get(p.id, ""),
            "title": p.title,
            "score": round(p.score, 6),
            "cited": p.id in cited,
            "text": p.text[:300],
        }
        for p in passages
    ]


# --- the turn ------------------------------------------------------------------------


@dataclass
class _Turn:
    tenant: Tenant
    conversation: Conversation | None
    user_id: str
    channel: str
    channel_ref: Channel | None
    locale: str
    text: str
    external_id: str
    max_chars: int | None
    history: list[ChatMessage] | None
    caller_instructions: str
    instruction: str = ""  # compose(): the staff instruction (no user message is stored)
    stored_user_message: Message | None = None  # reply(user_message=...): already stored by the caller


def _validate(*, tenant: Tenant, user_id: str, channel: str, text: str, conversation: Conversation | None) -> None:
    if channel not in CHANNELS:
        raise field_error("channel", f"Unknown channel {channel!r}; one of {', '.join(CHANNELS)}.")
    if not text.strip():
        raise field_error("messages", "The last message must have non-empty content.")
    if not user_id.strip() and conversation is None:
        raise field_error("user_id", "This field is required.")
    if conversation is not None and conversation.tenant_id != tenant.pk:
        raise ApiError("Not found.", code="not_found", status_code=404)


def _request(
    turn: _Turn, prompt: prompt_builder.Prompt, messages: list[ChatMessage], *, with_tools: bool, tool_specs: list
) -> LLMRequest:
    tenant = turn.tenant
    return LLMRequest(
        model=tenant.llm_model,
        system=prompt.system,
        messages=messages,
        tools=tool_specs if with_tools else [],
        temperature=tenant.llm_temperature,
        passages=prompt.passages,
        locale=turn.locale,
        hours=prompt.hours,
    )


def _call_llm(request: LLMRequest, tenant: Tenant, *, stream: bool) -> Iterator[Delta | LLMResponse]:
    """One LLM call through the entry point; yields deltas (stream) and then the response."""
    kwargs = {
        "provider": tenant.llm_provider,
        "fallback": tenant.llm_fallback_provider or None,
        "fallback_model": tenant.llm_fallback_model or None,
    }
    if not stream:
        yield llm.generate(request, **kwargs)
        return
    for event in llm.stream(request, **kwargs):
        if event.kind == "delta" and event.text:
            yield Delta(event.text)
        elif event.kind == "done" and event.response is not None:
            yield event.response


def _provider_failure(exc: ProviderError) -> ApiError:
    """A provider's failure as the domain error: a transient one is ``retryable``."""
    if exc.permanent:
        return UpstreamError(f"The language model failed: {exc}", code="provider_error")
    return Unavailable(f"The language model failed: {exc}", code="provider_unavailable")


@dataclass
class _Answer:
    """What the model produced for a turn, ready to be stored by :func:`_persist`."""

    conversation: Conversation | None  # None: the turn opens a new conversation
    response: LLMResponse  # the last model response (the one that answered)
    text: str
    bubbles: list[str]
    sources: list[dict]
    usage: Usage  # summed over every model call of the turn (tool rounds included)
    cost: Decimal
    prompt: prompt_builder.Prompt
    tool_log: list[dict]
    timings: dict[str, float]
    started: float  # perf_counter() at the start of the turn


def _run(turn: _Turn, *, stream: bool) -> Iterator[Delta | ReplyResult]:
    """The orchestration; yields text deltas (when streaming) and finally the ReplyResult."""
    started = time.perf_counter()
    tenant = turn.tenant
    timings = {"retrieval_ms": 0.0, "provider_ms": 0.0, "tools_ms": 0.0}

    usage.check_budget(tenant)

    conversation = turn.conversation
    if conversation is None:
        conversation = selectors.conversation_find(
            tenant=tenant, user_id=turn.user_id, channel=turn.channel, channel_ref=turn.channel_ref
        )
    if turn.history is not None:
        history = selectors.trim_history(turn.history, token_budget=settings.CHAT_HISTORY_TOKENS)
    elif conversation is not None:
        history = selectors.history(
            conversation=conversation,
            token_budget=settings.CHAT_HISTORY_TOKENS,
            exclude_id=turn.stored_user_message.pk if turn.stored_user_message else None,
        )
    else:
        history = []

    # HANDOFF hook (chat/handoff.py): a person owns the conversation, or is asked for.
    early = handoff.before_bot_turn(turn, conversation)
    if early is not None:
        yield _early_result(early)
        return

    t = time.perf_counter()
    query = turn.instruction or turn.text
    passages, external_ids = _retrieve(tenant, query)
    timings["retrieval_ms"] = (time.perf_counter() - t) * 1000

    prompt = prompt_builder.build(
        tenant=tenant,
        channel=turn.channel,
        locale=turn.locale,
        passages=passages,
        history=history,
        user_text=turn.text,
        caller_instructions=turn.caller_instructions,
        max_chars=turn.max_chars,
    )
    tool_rows = {t.name: t for t in selectors.enabled_tools(tenant=tenant)}
    tool_specs = [tools.spec(t) for t in tool_rows.values()]
    tool_specs += handoff.tool_specs(tenant) if not turn.instruction else []  # HANDOFF: built-in tool

    messages = list(prompt.messages)
    total = Usage()
    tool_log: list[dict] = []
    response: LLMResponse | None = None
    max_steps = settings.CHAT_MAX_TOOL_STEPS
    step = 0
    while True:
        with_tools = bool(tool_specs) and step < max_steps
        request = _request(turn, prompt, messages, with_tools=with_tools, tool_specs=tool_specs)
        if step > 0:
            usage.check_budget(tenant)
        t = time.perf_counter()
        try:
            calls = _call_llm(request, tenant, stream=stream)
            while True:
                try:
                    item = next(calls)
                except StopIteration:
                    break
                if isinstance(item, Delta):
                    timings["provider_ms"] += (time.perf_counter() - t) * 1000
                    yield item
                    t = time.perf_counter()
                else:
                    response = item
        except ProviderError as exc:
            metrics.chat_reply(provider=tenant.llm_provider, outcome="provider_error", tenant_id=tenant.pk)
            raise _provider_failure(exc) from exc
        timings["provider_ms"] += (time.perf_counter() - t) * 1000
        if response is None:
            raise UpstreamError("The language model returned no response.")
        total = Usage(
            total.input_tokens + response.usage.input_tokens, total.output_tokens + response.usage.output_tokens
        )
        if not (with_tools and response.tool_calls):
            break
        # HANDOFF hook: the model called handoff_to_human.
        handoff_call = handoff.handoff_tool_call(response.tool_calls)
        if handoff_call is not None:
            usage.usage_record(
                tenant=tenant,
                provider=response.provider,
                model=response.model,
                usage=total,
                cost=usage.cost_for(response.model, total),
            )
            yield _early_result(handoff.model_handoff(turn, conversation, handoff_call))
            return
        step += 1
        messages.append(ChatMessage(role="assistant", content=response.text, tool_calls=response.tool_calls))
        t = time.perf_counter()
        for tool_call in response.tool_calls:
            outcome = tools.call(
                tool_rows.get(tool_call.name),
                tool_call,
                tenant_id=tenant.pk,
                conversation_id=str(conversation.pk) if conversation else "",
            )
            tool_log.append(outcome.as_dict())
            messages.append(
                ChatMessage(role="tool", content=outcome.result, tool_call_id=tool_call.id, name=tool_call.name)
            )
        timings["tools_ms"] += (time.perf_counter() - t) * 1000

    rules = channel_rules(turn.channel)
    text = response.text.strip()
    if turn.instruction and (response.no_answer or text.strip(" .`\"'") == NO_MESSAGE):
        cost = usage.cost_for(response.model, total)
        usage.usage_record(tenant=tenant, provider=response.provider, model=response.model, usage=total, cost=cost)
        raise NothingToSay(
            f"The model had nothing to say for this instruction ({response.provider}: "
            f"{'nothing found' if response.no_answer else NO_MESSAGE}).",
        )
    try:
        result = _persist(
            turn,
            _Answer(
                conversation=conversation,
                response=response,
                text=text,
                bubbles=bubble_splitter.split(
                    text, limit=turn.max_chars or rules.max_chars, max_bubbles=tenant.max_bubbles
                ),
                sources=_sources(passages, response.citations, external_ids),
                usage=total,
                cost=usage.cost_for(response.model, total),
                prompt=prompt,
                tool_log=tool_log,
                timings=timings,
                started=started,
            ),
        )
    except handoff.BotSilenced:  # HANDOFF hook: a person took over while the model wrote
        yield _early_result(handoff.hold(turn, conversation))
        return
    metrics.chat_reply(
        provider=response.provider, outcome="fallback" if response.fallback_from else "answered", tenant_id=tenant.pk
    )
    if not turn.instruction:  # HANDOFF hook: N answers in a row without the knowledge base
        fresh = result.user_message if turn.stored_user_message is None else None
        extra = handoff.after_bot_turn(conversation=result.conversation, answer=result.message, customer=fresh)
        if extra:
            result.bubbles.append(extra)
            Message.objects.filter(pk=result.message.pk).update(bubbles=result.bubbles)
    yield result


def _early_result(early: handoff.Early) -> ReplyResult:
    """HANDOFF: the turn's result when the handoff module answered instead of the model."""
    answer = early.answer
    return ReplyResult(
        conversation=early.conversation,
        message=answer or early.user_message,
        bubbles=list(answer.bubbles) if answer else [],
        sources=[],
        usage={"input_tokens": 0, "output_tokens": 0, "total_tokens": 0, "cost": "0", "latency_ms": 0},
        provider=answer.provider if answer else "",
        model="",
        user_message=early.user_message,
        held=answer is None,
    )


def _persist(turn: _Turn, answer: _Answer) -> ReplyResult:
    """Store the turn in one transaction: the conversation (opened when new), the user
    Message (unless compose() or already stored), the assistant Message with its tokens,
    cost, latency, prompt and timings, and the daily usage roll-up."""
    tenant = turn.tenant
    conversation = answer.conversation
    response, total = answer.response, answer.usage
    now = timezone.now()
    with transaction.atomic():
        created = conversation is None
        if not (created or turn.instruction) and not handoff.claim_bot_turn(conversation):
            raise handoff.BotSilenced  # HANDOFF hook: rolls this answer back
        if conversation is None:
            conversation = Conversation.objects.create(
                tenant=tenant,
                user_id=turn.user_id,
                channel=turn.channel,
                channel_ref=turn.channel_ref,
                locale=turn.locale,
                last_customer_message_at=None if turn.instruction else now,
            )
        user_message = turn.stored_user_message
        if user_message is None and not turn.instruction:
            user_message = Message.objects.create(
                tenant=tenant,
                conversation=conversation,
                role="user",
                content=turn.text,
                external_id=turn.external_id,
            )
        elapsed_ms = (time.perf_counter() - answer.started) * 1000
        timings = {k: round(v, 2) for k, v in answer.timings.items()}
        timings["other_ms"] = round(max(0.0, elapsed_ms - sum(timings.values())), 2)
        metadata: dict[str, Any] = {"prompt": answer.prompt.as_dict(with_system=False), "timings": timings}
        if answer.tool_log:
            metadata["tool_calls"] = answer.tool_log
        if response.label:
            metadata["label"] = response.label
        if response.fallback_from:
            metadata["fallback_from"] = response.fallback_from
        if turn.instruction:
            metadata["instruction"] = turn.instruction
        message = Message.objects.create(
            tenant=tenant,
            conversation=conversation,
            role="assistant",
            content=answer.text,
            bubbles=answer.bubbles,
            sources=answer.sources,
            provider=response.provider,
            model=response.model,
            tokens_in=total.input_tokens,
            tokens_out=total.output_tokens,
            cost=answer.cost,
            latency_ms=int(elapsed_ms),
            metadata=metadata,
        )
        updates: dict[str, Any] = {"updated_at": now}
        if user_message is not None and turn.stored_user_message is None:
            # A channel webhook recorded the arrival of a stored message already.
            updates["last_customer_message_at"] = now
        if turn.locale and conversation.locale != turn.locale:
            updates["locale"] = turn.locale
        if not created:
            Conversation.objects.filter(pk=conversation.pk).update(**updates)
            for key, value in updates.items():
                setattr(conversation, key, value)
        usage.usage_record(
            tenant=tenant, provider=response.provider, model=response.model, usage=total, cost=answer.cost
        )
    usage_dict = {
        "input_tokens": total.input_tokens,
        "output_tokens": total.output_tokens,
        "total_tokens": total.total_tokens,
        "cost": str(answer.cost),
        "latency_ms": message.latency_ms,
    }
    if response.label:
        usage_dict["label"] = response.label
    # The stored timings stop before the writes; the returned ones include them.
    timings = {
        **timings,
        "other_ms": round(
            (time.perf_counter() - answer.started) * 1000
            - timings["retrieval_ms"]
            - timings["provider_ms"]
            - timings["tools_ms"],
            2,
        ),
    }
    return ReplyResult(
        conversation=conversation,
        message=message,
        bubbles=answer.bubbles,
        sources=answer.sources,
        usage=usage_dict,
        provider=response.provider,
        model=response.model,
        user_message=user_message,
        timings=timings,
        prompt={**metadata["prompt"], "system": answer.prompt.system},
    )


def _build_turn(
    *,
    tenant: Tenant,
    text: str,
    user_id: str = "",
    channel: str = "",
    conversation: Conversation | None = None,
    channel_ref: Channel | None = None,
    locale: str | None = None,
    external_id: str = "",
    max_chars: int | None = None,
    history: list[ChatMessage] | None = None,
    caller_instructions: str = "",
    user_message: Message | None = None,
    instruction: str = "",
) -> _Turn:
    """The one turn builder behind reply(), reply_stream() and compose(): fills what the
    conversation already knows (user, channel, locale) and validates; raises ApiError 400
    naming the field, 404 for another tenant's conversation."""
    if user_message is not None and conversation is None:
        conversation = user_message.conversation
    if conversation is not None:
        user_id = user_id or conversation.user_id
        channel = conversation.channel
        channel_ref = channel_ref or conversation.channel_ref
    _validate(tenant=tenant, user_id=user_id, channel=channel, text=text, conversation=conversation)
    if max_chars is not None and max_chars < 1:
        raise field_error("max_chars", "Must be at least 1.")
    if user_message is not None and (
        user_message.tenant_id != tenant.pk or user_message.conversation_id != conversation.pk
    ):
        raise field_error("user_message", "Must be a message of this conversation.")
    return _Turn(
        tenant=tenant,
        conversation=conversation,
        user_id=user_id,
        channel=channel,
        channel_ref=channel_ref,
        locale=locale or (conversation.locale if conversation else "") or tenant.locale,
        text=text.strip(),
        external_id=external_id,
        max_chars=max_chars,
        history=history,
        caller_instructions=caller_instructions,
        instruction=instruction,
        stored_user_message=user_message,
    )


def _drain(turn: _Turn) -> ReplyResult:
    """Run a turn without streaming and return its result."""
    result = None
    for item in _run(turn, stream=False):
        if isinstance(item, ReplyResult):
            result = item
    if result is None:  # _run always ends with its result or raises
        raise RuntimeError("The turn ended without a result.")
    return result


def reply(
    *,
    tenant: Tenant,
    user_id: str,
    channel: str,
    text: str,
    conversation: Conversation | None = None,
    channel_ref: Channel | None = None,
    locale: str | None = None,
    external_id: str = "",
    max_chars: int | None = None,
    history: list[ChatMessage] | None = None,
    caller_instructions: str = "",
    user_message: Message | None = None,
) -> ReplyResult:
    """Answer one customer message and store both sides of the turn.

    ``user_message``: the customer's message was already stored by the caller (a channel
    webhook stores it on arrival); it is then answered as is, not stored again, and left
    out of the history. It must belong to ``conversation`` (default: its conversation).

    The conversation is ``conversation`` or the latest of (tenant, user_id, channel
    [, channel_ref]), opened when there is none. ``history`` replaces the stored history
    for stateless callers that send the whole exchange (OpenAI-style). ``max_chars``
    overrides the channel's bubble limit. Raises ApiError: 402 ``budget_exceeded``,
    502/503 on provider failures, 400 naming the field on bad input."""
    turn = _build_turn(
        tenant=tenant,
        user_id=user_id,
        channel=channel,
        text=text,
        conversation=conversation,
        channel_ref=channel_ref,
        locale=locale,
        external_id=external_id,
        max_chars=max_chars,
        history=history,
        caller_instructions=caller_instructions,
        user_message=user_message,
    )
    return _drain(turn)


def reply_stream(
    *,
    tenant: Tenant,
    user_id: str,
    channel: str,
    text: str,
    conversation: Conversation | None = None,
    channel_ref: Channel | None = None,
    locale: str | None = None,
    external_id: str = "",
    max_chars: int | None = None,
    history: list[ChatMessage] | None = None,
    caller_instructions: str = "",
) -> Iterator[Delta | ReplyResult]:
    """Like :func:`reply` but yields :class:`Delta` pieces as the model writes and finally
    the :class:`ReplyResult` (messages are stored once the stream ends).

    Validation and the spend gate run before this returns, so a refusal is an ordinary
    error response rather than a broken stream."""
    turn = _build_turn(
        tenant=tenant,
        user_id=user_id,
        channel=channel,
        text=text,
        conversation=conversation,
        channel_ref=channel_ref,
        locale=locale,
        external_id=external_id,
        max_chars=max_chars,
        history=history,
        caller_instructions=caller_instructions,
    )
    usage.check_budget(turn.tenant)
    return _run(turn, stream=True)


def compose(*, tenant: Tenant, conversation: Conversation, instruction: str) -> ReplyResult:
    """Turn a staff instruction ("remind them about the unpaid order") into a message to the
    customer, written by the model from the conversation's history; stored as an assistant
    Message (no user message). Same errors as :func:`reply`, and :class:`NothingToSay`
    when the model has nothing worth sending: a customer never receives "I found nothing"
    in a message they did not ask for."""
    if not instruction.strip():
        raise field_error("instruction", "This field is required.")
    text = (
        "[Instruction from staff, not a message from the customer] Write the next message to send to the "
        f"customer now, following this instruction: {instruction.strip()} "
        f"If you have nothing useful to tell the customer, answer only {NO_MESSAGE}."
    )
    turn = _build_turn(tenant=tenant, conversation=conversation, text=text, instruction=instruction.strip())
    return _drain(turn)


__all__ = [
    "ChannelRules",
    "Delta",
    "ReplyResult",
    "channel_rules",
    "compose",
    "reply",
    "reply_stream",
]
