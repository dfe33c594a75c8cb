"""Enqueueing django-q2 tasks: one reused broker connection, only after commit.

django-q2's ``async_task`` opens a new broker connection per call unless given one, so
the broker is created once per process (bench/jobs.py compares the two). Tasks take
primary keys, never model instances. The queue only carries wake-ups: the database row
is the truth, and reconcilers re-enqueue work whose wake-up was lost.

Every task carries the id of the request that enqueued it (``request_id`` in django-q2's
task package, stamped by :func:`stamp_request_id`), and the worker makes it current while
the task runs (:func:`adopt_request_id`), so its log lines and outbound calls name the
same id as the request's; a task enqueued outside a request (a schedule) runs under
``task-<its id>``. Both are connected to django-q2's enqueue/execute signals in
``SigantengConfig.ready``: ``async_task`` builds the package, so that is the one place a
field can be added to it.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Any

from django.db import DatabaseError, transaction
from django_q.brokers import Broker, get_broker
from django_q.brokers.redis_broker import Redis as RedisBroker
from django_q.tasks import async_task
from redis.exceptions import RedisError

from siganteng.middleware import bind_request_id, current_request_id, unbind_request_id

logger = logging.getLogger(__name__)

_local = threading.local()


def broker() -> Broker:
    """The process's broker connection (one per thread; redis-py clients are thread-safe,
    but the ORM broker's connection is per thread like Django's)."""
    b = getattr(_local, "broker", None)
    if b is None:
        b = get_broker()
        _local.broker = b
    return b


def enqueue_now(func: str, *args: Any, **kwargs: Any) -> str:
    """Enqueue immediately. ``func`` is a dotted path; returns the task id."""
    kwargs.setdefault("broker", broker())
    return async_task(func, *args, **kwargs)


def _wake(send: Callable[[], Any], func: str) -> None:
    """Send a wake-up whose work is already committed. A broker that is down must not
    turn a done request into an error: the row is the truth, and the reconciler of
    ``func``'s app queues it again once the broker answers, so the failure is logged."""
    try:
        send()
    except (RedisError, DatabaseError, OSError) as exc:
        # The broker is down or dropped the connection: forget the connection so the next
        # wake-up opens a new one.
        _local.broker = None
        logger.warning(
            "Wake-up for %s not sent (%s: %s); its reconciler will send it again", func, type(exc).__name__, exc
        )


def enqueue(func: str, *args: Any, **kwargs: Any) -> None:
    """Enqueue once the current transaction commits (at once outside a transaction),
    so a worker never picks up a wake-up for a row it cannot see yet. A broker outage
    is logged, not raised (see ``_wake``)."""
    transaction.on_commit(lambda: _wake(lambda: enqueue_now(func, *args, **kwargs), func))


class _Collector:
    """Stands in for the broker while ``async_task`` builds and signs packages, keeping
    them so they can be pushed together."""

    def __init__(self, list_key: str):
        self.list_key = list_key
        self.packs: list[Any] = []

    def enqueue(self, pack: Any) -> None:
        self.packs.append(pack)


def enqueue_many_now(func: str, arg_lists: list[tuple], **kwargs: Any) -> int:
    """Enqueue ``func`` once per tuple of arguments, at once. On Redis the tasks go out in
    one ``RPUSH`` (one round trip for a whole batch of job submissions); other brokers
    take them one by one. Returns how many were enqueued."""
    real = broker()
    collector = _Collector(real.list_key)
    for args in arg_lists:
        async_task(func, *args, broker=collector, **kwargs)
    if not collector.packs:
        return 0
    if isinstance(real, RedisBroker):
        real.connection.rpush(real.list_key, *collector.packs)
    else:
        for pack in collector.packs:
            real.enqueue(pack)
    return len(collector.packs)


def enqueue_many(func: str, arg_lists: list[tuple], **kwargs: Any) -> None:
    """``enqueue_many_now`` once the current transaction commits, as ``enqueue`` does for one."""
    transaction.on_commit(lambda: _wake(lambda: enqueue_many_now(func, arg_lists, **kwargs), func))


# --- the request id across the queue ---------------------------------------------------


def stamp_request_id(sender: Any, task: dict, **kwargs: Any) -> None:
    """django-q2 ``pre_enqueue``: put the current request id into the task package."""
    request_id = current_request_id()
    if request_id != "-":
        task["request_id"] = request_id


def adopt_request_id(sender: Any, task: dict, **kwargs: Any) -> None:
    """django-q2 ``pre_execute`` (in the worker): run the task under its request's id."""
    tokens = getattr(_local, "request_id_tokens", None)
    if tokens is None:
        tokens = _local.request_id_tokens = []
    tokens.append(bind_request_id(task.get("request_id") or f"task-{task.get('id', '')}"))


def release_request_id(sender: Any, task: dict, **kwargs: Any) -> None:
    """django-q2 ``post_execute_in_worker``: back to the id that was current before (a
    synchronous task runs inside the request that enqueued it)."""
    tokens = getattr(_local, "request_id_tokens", None)
    if tokens:
        unbind_request_id(tokens.pop())
