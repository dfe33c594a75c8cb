"""One statement, one row, for the few hot paths written in SQL (the job runner's claim
and transitions).

On PostgreSQL the statement is prepared on the server the first time a connection runs
it and its plan is reused afterwards: Django's psycopg cursor binds parameters on the
client, so the server parses and plans every statement again, and for the runner's claim
(an ``UPDATE … FROM … RETURNING`` feeding an ``INSERT``) planning took 0.55 ms against
0.39 ms of execution. ``DB_SERVER_PREPARE=false`` turns this off for a connection pooler
that cannot carry prepared statements (PgBouncer before 1.21 in transaction mode).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from django.conf import settings
from django.db import connection


def query_one(sql: str, params: Sequence[Any]) -> dict[str, Any] | None:
    """Run ``sql`` (``%s`` placeholders) on the default connection, inside whatever
    transaction is open, and return its first row as ``{column: value}`` (None when it
    returns no row). Values come as the driver loads them: JSON columns as text, so
    callers turn them into Python values as the field's ``from_db_value`` would."""
    if connection.vendor == "postgresql" and settings.DB_SERVER_PREPARE:
        import psycopg

        connection.ensure_connection()
        # A server-side-binding cursor (Django's own bind on the client, which psycopg never
        # prepares). Errors surface as Django's (IntegrityError, …), and a failed statement
        # marks the connection as Django's own cursor would.
        with connection.wrap_database_errors, psycopg.Cursor(connection.connection) as cursor:
            cursor.execute(sql, params, prepare=True)
            return _first(cursor)
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return _first(cursor)


def _first(cursor) -> dict[str, Any] | None:
    description = cursor.description  # built anew on each access
    if description is None:
        return None
    row = cursor.fetchone()
    if row is None:
        return None
    return dict(zip([col[0] for col in description], row, strict=True))
