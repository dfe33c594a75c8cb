"""A cluster SIGKILLed mid-job and mid-delivery: the dedicated dispatcher's reconciler
passes hand both to another cluster within a minute, with no reconciler run by hand.

Short leases keep the test short (the mechanism is the same at the default 30 s leases,
which bench/recovery.py measures): the job's is 2 s, the follow-up's 7 s (it must exceed
twice CHANNEL_TIMEOUT, system check followups.E002), reconciler passes every second."""

from __future__ import annotations

import contextlib
import subprocess
import sys

import pytest
from django.utils import timezone

from chat.channels.services import channel_create, conversation_for
from chat.channels.tests.fakes import CountingWebhook
from chat.models import Message
from followups.models import FollowUp
from followups.services import followup_schedule
from jobs.models import Job, JobEvent, JobStatus
from jobs.seed import load_catalog
from jobs.services import job_submit
from siganteng.testing import BASE_DIR, LocalServer, kill_cluster, qcluster, subprocess_env, wait_until

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.integration, pytest.mark.slow]

ENV = {
    "OUTBOUND_ALLOW_PRIVATE": "true",
    "JOBS_LEASE_SECONDS": "2",
    "FOLLOWUP_LEASE_SECONDS": "7",
    "CHANNEL_TIMEOUT": "3",
    "RECONCILE_INTERVAL": "1",
}


@contextlib.contextmanager
def dispatcher(**env: str):
    """``manage.py followups_dispatch --forever``, as ``serve`` and compose run it."""
    proc = subprocess.Popen(
        [sys.executable, "manage.py", "followups_dispatch", "--forever"],
        cwd=BASE_DIR,
        env=subprocess_env(**env),
        stdout=subprocess.DEVNULL,
    )
    try:
        yield proc
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def test_it_gives_a_dead_clusters_job_and_follow_up_to_another_cluster(tenant):
    load_catalog()
    receiver = CountingWebhook()

    def slow_first(req):
        reply = receiver(req)
        reply.delay = 2.5 if sum(receiver.counts.values()) == 1 else 0.0  # in flight when the cluster dies
        return reply

    with LocalServer(slow_first) as server, dispatcher(**ENV):
        channel, _ = channel_create(tenant=tenant, kind="webhook", name="hook", config={"url": f"{server.url}/hook"})
        with qcluster(**ENV) as first:
            job = job_submit(tenant=tenant, model_slug="echo", prompt="survivor", input_params={"delay_seconds": 6})[0]
            followup, _ = followup_schedule(
                tenant=tenant,
                conversation=conversation_for(channel=channel, user_id="cust-1"),
                text="Paketnya sudah sampai, Kak?",
                due_at=timezone.now(),
                respect_working_hours=False,
            )
            wait_until(lambda: receiver.counts, timeout=60, message="the follow-up request to be out")
            wait_until(lambda: Job.objects.get(pk=job.pk).progress_percent > 0, timeout=60, message="the job to run")
            kill_cluster(first)
        dead_runner = Job.objects.get(pk=job.pk).worker_id
        with qcluster(**ENV) as second:
            wait_until(
                lambda: Job.objects.get(pk=job.pk).status == JobStatus.SUCCEEDED,
                timeout=60,
                message="another cluster to finish the job",
            )
            wait_until(
                lambda: FollowUp.objects.get(pk=followup.pk).status == "SENT",
                timeout=60,
                message="another cluster to send the follow-up",
            )
            kill_cluster(second)
    job.refresh_from_db()
    assert job.attempts == 2 and job.worker_id != dead_runner and job.result == {"text": "survivor"}
    assert JobEvent.objects.filter(job=job, data__reason="lease_expired").count() == 1
    assert receiver.counts == {f"fu_{followup.pk}": 2}  # resent under the same webhook-id
    assert Message.objects.filter(metadata__followup_id=str(followup.pk)).count() == 1
