"""One statement, one row, for the few hot paths written in SQL (the job runner's claim
and transitions).

On PostgreSQL the statement is prepared on the server the first time a connection runs
it and its plan is reused afterwards: Django's psycopg cursor binds parameters on the
client, so the server parses and plans every statement again, and for the runner's claim
(an ``UPDATE … FROM … RETURNING`` feeding an ``INSERT``) planning took 0.55 ms against
0.39 ms of execution. ``DB_SERVER_PREPARE=false`` turns this off for a connection pooler
that cannot carry prepared statements (PgBouncer before 1.21 in transaction mode).

``RELAXED_COMMIT`` lets one statement commit without waiting for its WAL record to reach
the disk, for changes whose loss the reconcilers already repair.
"""

from __future__ import annotations

from collections.abc import Sequence
from contextlib import contextmanager
from typing import Any

from django.conf import settings
from django.db import connection

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
    return connection.vendor == "postgresql" and connection.get_autocommit()


def fetch_one(sql: str, params: Sequence[Any]) -> tuple | None:
    """Run ``sql`` (``%s`` placeholders) on the default connection, inside whatever
    transaction is open, and return its first row as a tuple, in the statement's column
    order (None when it returns no row). Values come as the driver loads them: JSON
    columns as text, so callers turn them into Python values as the field's
    ``from_db_value`` would."""
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
    with _cursor() as (cursor, prepare):
        cursor.execute(sql, params, **prepare)
        return cursor.rowcount


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
