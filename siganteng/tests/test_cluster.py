"""The task cluster: real ``qcluster`` subprocesses on the ORM broker and on Redis, the
SQLite settings that keep them from losing results, and the schedule/timeout rules."""

from __future__ import annotations

import datetime as dt
import sqlite3

import pytest
from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone
from django_q.brokers.orm import ORM
from django_q.models import Failure, OrmQ, Schedule, Success
from django_q.tasks import async_task

from siganteng.models import ClusterHeartbeat
from siganteng.testing import qcluster, wait_until

sqlite_only = pytest.mark.skipif(
    settings.DATABASES["default"]["ENGINE"] != "django.db.backends.sqlite3", reason="SQLite settings"
)


@pytest.mark.integration
@pytest.mark.django_db(transaction=True)
def test_it_runs_tasks_end_to_end_on_the_orm_broker():
    """Thirty tasks through a real cluster on the ORM broker: every result is saved (with
    Django's default SQLite settings some were lost to "database is locked")."""
    broker = ORM(list_key=settings.Q_CLUSTER["name"])
    ids = [async_task("siganteng.tasks.heartbeat", broker=broker) for _ in range(30)]
    assert OrmQ.objects.count() == 30
    with qcluster(REDIS_URL=""):
        wait_until(lambda: Success.objects.filter(id__in=ids).count() == 30, timeout=60, message="30 results")
    assert not Failure.objects.exists()
    assert ClusterHeartbeat.objects.filter(name=settings.Q_CLUSTER["name"]).exists()
    assert OrmQ.objects.count() == 0


@pytest.mark.integration
@pytest.mark.skipif(not settings.REDIS_URL, reason="REDIS_URL not set")
@pytest.mark.django_db(transaction=True)
def test_it_runs_a_task_end_to_end_on_redis():
    from siganteng.queue import broker, enqueue_now

    broker().purge_queue()
    task_id = enqueue_now("siganteng.tasks.heartbeat")
    with qcluster():
        result = wait_until(lambda: Success.objects.filter(id=task_id).first(), timeout=60, message="result")
    assert result.success
    assert ClusterHeartbeat.objects.filter(name=settings.Q_CLUSTER["name"]).exists()


@pytest.mark.django_db(transaction=True)
def test_it_enqueues_only_after_commit_through_one_broker():
    from siganteng import queue

    assert queue.broker() is queue.broker()
    b = queue.broker()
    b.purge_queue()
    with transaction.atomic():
        queue.enqueue("siganteng.tasks.heartbeat")
        assert b.queue_size() == 0  # a worker must never see a wake-up for uncommitted rows
    assert b.queue_size() == 1
    b.purge_queue()


@sqlite_only
@pytest.mark.django_db(transaction=True)
def test_it_applies_wal_busy_timeout_and_immediate_transactions_on_sqlite():
    with connection.cursor() as cursor:
        cursor.execute("PRAGMA journal_mode")
        assert cursor.fetchone()[0] == "wal"
        cursor.execute("PRAGMA busy_timeout")
        assert cursor.fetchone()[0] == 20000
    # IMMEDIATE: an atomic block takes the write lock when it begins, even before it
    # writes, so a second writer waits (busy timeout) instead of deadlocking later.
    other = sqlite3.connect(str(connection.settings_dict["NAME"]), timeout=0, isolation_level=None)
    try:
        with transaction.atomic():
            list(ClusterHeartbeat.objects.all())  # a read only
            with pytest.raises(sqlite3.OperationalError, match="locked"):
                other.execute("BEGIN IMMEDIATE")
        other.execute("BEGIN IMMEDIATE")  # free again after commit
        other.execute("ROLLBACK")
    finally:
        other.close()


def test_it_configures_the_cluster_with_bounded_retries_and_no_catch_up():
    q = settings.Q_CLUSTER
    assert q["timeout"] < q["retry"]
    assert 1 <= q["max_attempts"] <= 10
    assert q["catch_up"] is False
    assert ("redis" in q) == bool(settings.REDIS_URL) and ("orm" in q) != bool(settings.REDIS_URL)


@pytest.mark.django_db(transaction=True)  # django-q2's scheduler closes old connections
def test_it_does_not_replay_missed_schedule_runs():
    """A schedule whose cluster was down for ten intervals runs once, then next in the future."""
    from django_q.scheduler import scheduler

    from siganteng.schedules import ensure_schedules

    ensure_schedules()
    Schedule.objects.exclude(name="cluster-heartbeat").delete()
    Schedule.objects.filter(name="cluster-heartbeat").update(next_run=timezone.now() - dt.timedelta(minutes=10))
    broker = ORM(list_key=settings.Q_CLUSTER["name"])
    scheduler(broker=broker)
    assert OrmQ.objects.filter(key=settings.Q_CLUSTER["name"]).count() == 1
    schedule = Schedule.objects.get(name="cluster-heartbeat")
    assert schedule.next_run > timezone.now()
    scheduler(broker=broker)
    assert OrmQ.objects.filter(key=settings.Q_CLUSTER["name"]).count() == 1


@pytest.mark.django_db
def test_it_ensures_schedules_idempotently():
    from siganteng.schedules import declared_schedules, ensure_schedules

    names = ensure_schedules()
    assert {"cluster-heartbeat", "prune-task-results"} <= set(names)
    first = dict(Schedule.objects.values_list("name", "next_run"))
    assert ensure_schedules() == names
    assert dict(Schedule.objects.values_list("name", "next_run")) == first
    assert Schedule.objects.count() == len(declared_schedules())


@pytest.mark.django_db
def test_it_prunes_old_task_results():
    from siganteng.tasks import prune_task_results

    now = timezone.now()
    for i, age in enumerate([1, 48]):
        Success.objects.create(
            id=f"t{i}",
            name=f"t{i}",
            func="x",
            started=now - dt.timedelta(hours=age),
            stopped=now - dt.timedelta(hours=age),
            success=True,
        )
    assert prune_task_results(keep_hours=24) == 1
    assert list(Success.objects.values_list("id", flat=True)) == ["t0"]


@pytest.mark.django_db
def test_a_task_starts_a_fresh_debug_query_log_as_a_request_does(settings):
    """With DEBUG on, Django keeps a connection's last 9,000 queries until a request
    starts; a task (and the monitor's saving of its result) counts as one, or every
    cluster process would keep that many."""
    settings.DEBUG = True
    ClusterHeartbeat.objects.filter(name="before-the-task").exists()
    assert any("before-the-task" in q["sql"] for q in connection.queries)
    async_task("siganteng.tasks.heartbeat", sync=True)
    assert not any("before-the-task" in q["sql"] for q in connection.queries)
