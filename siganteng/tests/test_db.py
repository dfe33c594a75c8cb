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
