"""One statement, one row, for the few hot paths written in SQL (the job runner's claim
and transitions).

On PostgreSQL the statement is prepared on the server the first time a connection runs
it and its plan is reused afterwards: Django's psycopg cursor binds parameters on the
client, so the server parses and plans every statement again, and for the runner's claim
(an ``UPDATE … FROM … RETURNING`` feeding an ``INSERT``) planning took 0.55 ms against
0.39 ms of execution. ``DB_SERVER_PREPARE=false`` turns this off for a connection pooler
that cannot carry prepared statements (PgBouncer before 1.21 in transaction mode).

In autocommit (the runner's claim and transitions) the statement goes to libpq's
``PQexecPrepared`` directly, with psycopg's own adapters dumping the parameters and
loading the row: a psycopg cursor's execute spent 0.18 ms of client CPU per statement
here (cursor set-up, the prepared-statement cache, its non-blocking wait loop), the direct
call 0.03 ms. Inside a transaction the statement goes through a psycopg cursor, which
also opens the transaction psycopg owes the connection.

``RELAXED_COMMIT`` lets one statement commit without waiting for its WAL record to reach
the disk, for changes whose loss the reconcilers already repair.
"""

from __future__ import annotations

import functools
import itertools
import re
import weakref
from collections.abc import Sequence
from contextlib import contextmanager
from typing import Any

from django.conf import settings
from django.db import DEFAULT_DB_ALIAS, connection, connections

RELAXED_COMMIT = "set_config('synchronous_commit', 'off', true) IS NOT NULL"
"""PostgreSQL only: a condition that is always true and makes the statement's own
transaction commit without waiting for the WAL flush (``SET LOCAL synchronous_commit``
from inside the statement, so it costs no extra round trip; the session keeps its
setting). A crash of the database server may then lose the last few hundred
milliseconds of such commits, never corrupt anything, and never lose one that a later
synchronous commit on the server already covered, since the WAL is flushed in order.
Only where :func:`commit_can_relax`, and only for changes whose loss is repaired
anyway: a runner's claim (the job is QUEUED
again, as if its runner had died, and the reconciler wakes it) or a progress report. On
this kind of machine a synchronous commit took 0.23–0.37 ms and a relaxed one 0.11–0.12."""


def commit_can_relax() -> bool:
    """Whether a statement run now may carry :data:`RELAXED_COMMIT`: only on PostgreSQL
    and only in autocommit, where the statement is its own transaction. Inside a
    transaction (an atomic block, or autocommit turned off) the setting would last until
    that transaction ends and relax its whole commit."""
    return _autocommit_on_postgresql(connections[DEFAULT_DB_ALIAS])


def _autocommit_on_postgresql(wrapper) -> bool:
    """Each statement its own transaction on PostgreSQL: where a commit may relax, and
    where a statement may skip the cursor that would open a transaction."""
    return wrapper.vendor == "postgresql" and wrapper.get_autocommit()


def fetch_one(sql: str, params: Sequence[Any]) -> tuple | None:
    """Run ``sql`` (``%s`` placeholders) on the default connection, inside whatever
    transaction is open, and return its first row as a tuple, in the statement's column
    order (None when it returns no row). Values come as the driver loads them: JSON
    columns as text, so callers turn them into Python values as the field's
    ``from_db_value`` would."""
    direct = _direct()
    if direct is not None:
        result, transformer = _exec_prepared(direct, sql, params)
        if result.ntuples == 0 or result.nfields == 0:
            return None
        transformer.set_pgresult(result)
        return transformer.load_row(0, tuple)
    with _cursor() as (cursor, prepare):
        cursor.execute(sql, params, **prepare)
        pgresult = getattr(cursor, "pgresult", None)  # psycopg's: cheaper than building a description
        if pgresult is not None:
            from psycopg.pq import ExecStatus

            returns_rows = pgresult.status == ExecStatus.TUPLES_OK
        else:
            returns_rows = cursor.description is not None
        return cursor.fetchone() if returns_rows else None


def execute(sql: str, params: Sequence[Any]) -> int:
    """Run ``sql`` as :func:`fetch_one` does and return how many rows it changed (or, for
    a statement ending in ``RETURNING``, returned)."""
    direct = _direct()
    if direct is not None:
        result, _ = _exec_prepared(direct, sql, params)
        return result.command_tuples or 0
    with _cursor() as (cursor, prepare):
        cursor.execute(sql, params, **prepare)
        return cursor.rowcount


def _direct():
    """The Django connection to run a statement on directly, or None: only on
    PostgreSQL with server-side preparation on, and only in autocommit (inside a
    transaction psycopg must send its BEGIN first, which its cursors do)."""
    wrapper = connections[DEFAULT_DB_ALIAS]  # once: each use of the proxy is a thread-local lookup
    return wrapper if settings.DB_SERVER_PREPARE and _autocommit_on_postgresql(wrapper) else None


class _Session:
    """What one database connection has prepared, and the adapters it dumps and loads
    with (the connection's own: Django's loaders, JSON as text, its time zone)."""

    def __init__(self, conn):
        from psycopg.adapt import Transformer

        self.transformer = Transformer(conn)
        self.names: dict[tuple[str, tuple[int, ...]], bytes] = {}
        self.numbers = itertools.count()  # never reused: a forgotten name may not be the only one


_sessions: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


@functools.lru_cache(maxsize=128)
def _numbered(sql: str) -> bytes:
    """``%s`` placeholders as PostgreSQL's ``$1, $2, …`` (and ``%%`` as ``%``)."""
    count = 0

    def number(match: re.Match) -> str:
        nonlocal count
        if match.group(1) == "%":
            return "%"
        count += 1
        return f"${count}"

    return re.sub(r"%([%s])", number, sql).encode()


def _exec_prepared(wrapper, sql: str, params: Sequence[Any]):
    """Prepare ``sql`` on this connection the first time it runs with these parameter
    types, then execute it; returns the result and the transformer that loads it.
    Errors are Django's, and mark the connection as a failed Django query would."""
    errors, pq, PyFormat = _psycopg()
    conn = wrapper.connection
    session = _sessions.get(conn)
    if session is None:
        session = _sessions[conn] = _Session(conn)
    transformer = session.transformer
    with wrapper.wrap_database_errors:
        values = transformer.dump_sequence(params, [PyFormat.AUTO] * len(params))
        key = (sql, transformer.types)
        for _ in range(2):
            name = session.names.get(key)
            if name is None:
                name = f"siganteng_{next(session.numbers)}".encode()
                _check(conn.pgconn.prepare(name, _numbered(sql), param_types=key[1]))
                session.names[key] = name
            result = conn.pgconn.exec_prepared(name, values, param_formats=transformer.formats)
            if result.error_field(pq.DiagnosticField.SQLSTATE) == b"26000":
                # The server forgot the statement (DISCARD ALL, say): prepare it again, once.
                session.names.clear()
                continue
            return _check(result), transformer
        raise errors.error_from_result(result, encoding="utf-8")


@functools.cache
def _psycopg():
    from psycopg import errors, pq
    from psycopg.adapt import PyFormat

    return errors, pq, PyFormat


def _check(result):
    errors, pq, _ = _psycopg()
    if result.status not in (pq.ExecStatus.COMMAND_OK, pq.ExecStatus.TUPLES_OK):
        raise errors.error_from_result(result, encoding="utf-8")
    return result


@contextmanager
def _cursor():
    if connection.vendor == "postgresql" and settings.DB_SERVER_PREPARE:
        import psycopg

        connection.ensure_connection()
        # A server-side-binding cursor (Django's own bind on the client, which psycopg never
        # prepares). Errors surface as Django's (IntegrityError, …), and a failed statement
        # marks the connection as Django's own cursor would.
        with connection.wrap_database_errors, psycopg.Cursor(connection.connection) as cursor:
            yield cursor, {"prepare": True}
        return
    with connection.cursor() as cursor:
        yield cursor, {}
