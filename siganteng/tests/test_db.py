"""siganteng.db.fetch_one and execute: one statement, its first row as a tuple or its
row count; prepared once per connection on PostgreSQL, and failing with Django's own
exceptions."""

from __future__ import annotations

import pytest
from django.db import IntegrityError, connection, transaction

from siganteng import db

pytestmark = pytest.mark.django_db

postgres_only = pytest.mark.skipif(connection.vendor != "postgresql", reason="PostgreSQL prepares statements")


def _prepared(fragment: str) -> int:
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM pg_prepared_statements WHERE statement LIKE %s", [f"%{fragment}%"])
        return cursor.fetchone()[0]


def test_it_returns_the_first_row_in_column_order_or_none(tenant):
    from tenants.models import Tenant

    table = Tenant._meta.db_table
    row = db.fetch_one(f'SELECT "id", "name" FROM "{table}" WHERE "id" = %s', [tenant.pk])
    assert row == (tenant.pk, tenant.name)
    assert db.fetch_one(f'SELECT "id" FROM "{table}" WHERE "id" = %s', ["nobody"]) is None
    assert db.fetch_one(f'UPDATE "{table}" SET "name" = %s WHERE "id" = %s', ["Renamed", tenant.pk]) is None
    tenant.refresh_from_db()
    assert tenant.name == "Renamed"


def test_it_raises_djangos_integrity_error_and_leaves_the_transaction_usable(tenant):
    from tenants.models import Tenant

    table = Tenant._meta.db_table
    with pytest.raises(IntegrityError), transaction.atomic():
        db.fetch_one(f'INSERT INTO "{table}" ("id") SELECT "id" FROM "{table}" WHERE "id" = %s', [tenant.pk])
    assert Tenant.objects.filter(pk=tenant.pk).exists()


@postgres_only
def test_it_prepares_the_statement_once_per_connection(tenant, settings):
    sql = 'SELECT "id" /* fetch_one prepared */ FROM "tenants_tenant" WHERE "id" = %s'
    for _ in range(3):
        assert db.fetch_one(sql, [tenant.pk]) == (tenant.pk,)
    assert _prepared("fetch_one prepared") == 1

    settings.DB_SERVER_PREPARE = False
    unprepared = 'SELECT "id" /* fetch_one unprepared */ FROM "tenants_tenant" WHERE "id" = %s'
    assert db.fetch_one(unprepared, [tenant.pk]) == (tenant.pk,)
    assert _prepared("fetch_one unprepared") == 0


def test_execute_returns_how_many_rows_it_changed(tenant, other_tenant):
    from tenants.models import Tenant

    table = Tenant._meta.db_table
    both = [tenant.pk, other_tenant.pk]
    assert db.execute(f'UPDATE "{table}" SET "name" = %s WHERE "id" IN (%s, %s)', ["Both", *both]) == 2
    assert db.execute(f'UPDATE "{table}" SET "name" = %s WHERE "id" = %s', ["None", "nobody"]) == 0
    assert set(Tenant.objects.filter(pk__in=both).values_list("name", flat=True)) == {"Both"}


@pytest.mark.django_db(transaction=True)
def test_a_commit_relaxes_only_in_autocommit_on_postgresql():
    assert db.commit_can_relax() is (connection.vendor == "postgresql")
    with transaction.atomic():
        assert db.commit_can_relax() is False
    transaction.set_autocommit(False)
    try:
        assert db.commit_can_relax() is False
    finally:
        transaction.set_autocommit(True)


# --- in autocommit on PostgreSQL: straight to libpq's PQexecPrepared ------------------------

_TYPES_SQL = (
    "SELECT \"id\", %s::uuid, %s::timestamptz, '{\"a\": [1, null]}'::jsonb, %s::int, NULL::text, %s || '%%' "
    '/* direct types */ FROM "tenants_tenant" WHERE "id" = %s'
)


def _direct_statements(fragment: str) -> int:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM pg_prepared_statements WHERE name LIKE 'siganteng%%' AND statement LIKE %s",
            [f"%{fragment}%"],
        )
        return cursor.fetchone()[0]


@postgres_only
@pytest.mark.django_db(transaction=True)
def test_in_autocommit_it_runs_the_prepared_statement_directly_and_loads_values_as_a_cursor_would(tenant):
    import datetime as dt
    import uuid

    params = [uuid.uuid4(), dt.datetime(2026, 1, 2, 3, 4, 5, tzinfo=dt.UTC), 7, "x", tenant.pk]
    direct = db.fetch_one(_TYPES_SQL, params)
    assert _direct_statements("direct types") == 1
    with transaction.atomic():  # inside a transaction: a psycopg cursor
        through_cursor = db.fetch_one(_TYPES_SQL, params)
    assert direct == through_cursor == (tenant.pk, params[0], params[1], '{"a": [1, null]}', 7, None, "x%")
    assert db.fetch_one(_TYPES_SQL, params) == direct
    assert _direct_statements("direct types") == 1  # prepared once


@postgres_only
@pytest.mark.django_db(transaction=True)
def test_parameters_of_other_types_get_their_own_prepared_statement(tenant):
    sql = 'SELECT %s + 1 /* direct int sizes */ FROM "tenants_tenant" WHERE "id" = %s'
    assert db.fetch_one(sql, [1, tenant.pk]) == (2,)
    assert db.fetch_one(sql, [10**12, tenant.pk]) == (10**12 + 1,)  # int2 then int8: two statements
    assert _direct_statements("direct int sizes") == 2


@postgres_only
@pytest.mark.django_db(transaction=True)
def test_a_statement_the_server_forgot_is_prepared_again(tenant):
    sql = 'SELECT "name" /* direct forgotten */ FROM "tenants_tenant" WHERE "id" = %s'
    assert db.fetch_one(sql, [tenant.pk]) == (tenant.name,)
    with connection.cursor() as cursor:
        cursor.execute("DEALLOCATE ALL")
    assert db.fetch_one(sql, [tenant.pk]) == (tenant.name,)
    assert _direct_statements("direct forgotten") == 1


@postgres_only
@pytest.mark.django_db(transaction=True)
def test_direct_errors_are_djangos_and_the_connection_goes_on(tenant):
    from django.db import ProgrammingError

    from tenants.models import Tenant

    table = Tenant._meta.db_table
    with pytest.raises(IntegrityError):
        db.execute(f'INSERT INTO "{table}" ("id") SELECT "id" FROM "{table}" WHERE "id" = %s', [tenant.pk])
    assert connection.errors_occurred is False  # as after Django's own IntegrityError
    with pytest.raises(ProgrammingError):
        db.fetch_one('SELECT "no_such_column" FROM "tenants_tenant" WHERE "id" = %s', [tenant.pk])
    assert connection.errors_occurred is True  # the worker's next task checks the connection first
    assert db.execute(f'UPDATE "{table}" SET "name" = %s WHERE "id" = %s', ["After", tenant.pk]) == 1
    assert Tenant.objects.get(pk=tenant.pk).name == "After"


@pytest.mark.django_db(transaction=True)
def test_inside_a_transaction_the_statement_is_part_of_it(tenant):
    from tenants.models import Tenant

    table = Tenant._meta.db_table
    with pytest.raises(RuntimeError), transaction.atomic():
        assert db.execute(f'UPDATE "{table}" SET "name" = %s WHERE "id" = %s', ["Rolled back", tenant.pk]) == 1
        raise RuntimeError
    assert Tenant.objects.get(pk=tenant.pk).name == tenant.name
