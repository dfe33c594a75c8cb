"""``manage.py serve`` runs gunicorn and qcluster together and stops both cleanly."""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys

import httpx
import pytest

from siganteng.testing import BASE_DIR, kill_cluster, subprocess_env, wait_until

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A zombie (exited, not yet reaped by its parent) counts as gone.
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().split(")")[-1].split()[0] != "Z"
    except FileNotFoundError:
        return False


def _start(tmp_path, grace: float = 40, **env: str):
    port = _free_port()
    log = tmp_path / "serve.log"
    with open(log, "wb") as out:  # the child keeps its own copy of the descriptor
        proc = subprocess.Popen(
            [sys.executable, "manage.py", "serve", "--port", str(port), "--workers", "1", "--grace", str(grace)],
            cwd=BASE_DIR,
            env=subprocess_env(DEBUG="true", **env),
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    def pids():
        m = re.search(r"web pid (\d+), cluster pid (\d+)", log.read_text(errors="replace"))
        return (int(m.group(1)), int(m.group(2))) if m else None

    def healthy():
        try:
            return httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code == 200
        except httpx.HTTPError:
            return False

    try:
        web, cluster = wait_until(pids, timeout=30, message="serve to start its children")
        wait_until(healthy, timeout=30, message="/healthz")
    except AssertionError:
        proc.kill()
        raise AssertionError(log.read_text(errors="replace")[-3000:]) from None
    return proc, web, cluster, log


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM, signal.SIGHUP])
def test_it_serves_and_stops_both_processes_on_a_signal(tmp_path, sig):
    proc, web, cluster, log = _start(tmp_path)
    assert _alive(web) and _alive(cluster)
    proc.send_signal(sig)
    assert proc.wait(timeout=60) == 0, log.read_text(errors="replace")[-3000:]
    # Stopped by the signal, not by the SIGKILL fallback (which says so in the log). The
    # grace is generous so a slow stop on a loaded machine is not mistaken for a hang.
    assert "did not stop within" not in log.read_text(), log.read_text(errors="replace")[-3000:]
    wait_until(lambda: not _alive(web) and not _alive(cluster), timeout=10, message="children to exit")
    assert "Stopped web server and task cluster." in log.read_text()


def test_it_keeps_the_whatsapp_verify_token_out_of_the_access_log(tmp_path, make_tenant):
    from chat.channels.services import channel_create

    channel, generated = channel_create(
        tenant=make_tenant("acme"),
        kind="whatsapp",
        name="wa",
        config={"phone_number_id": "106540352242922"},
        secrets={"access_token": "EAAG-x", "app_secret": "app-secret-x"},
    )
    token = generated["verify_token"]
    proc, _web, _cluster, log = _start(tmp_path)
    try:
        path = f"/channels/whatsapp/{channel.inbound_token}/"
        query = {"hub.mode": "subscribe", "hub.verify_token": token, "hub.challenge": "4242"}
        response = httpx.get(f"http://127.0.0.1:{_port(log)}{path}", params=query, timeout=10)
        assert response.status_code == 200 and response.text == "4242"
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=60)
    text = log.read_text(errors="replace")
    assert token not in text and "hub.verify_token" not in text


def _port(log) -> int:
    return int(re.search(r"Serving on http://127.0.0.1:(\d+)", log.read_text(errors="replace")).group(1))


@pytest.mark.parametrize("dies", ["web", "cluster"])
def test_it_stops_the_other_child_and_fails_when_one_dies(tmp_path, dies):
    proc, web, cluster, log = _start(tmp_path)
    victim, other = (web, cluster) if dies == "web" else (cluster, web)
    os.kill(victim, signal.SIGKILL)
    assert proc.wait(timeout=60) != 0
    wait_until(lambda: not _alive(other), timeout=30, message="the other child to exit")
    assert f"{dies} process exited" in log.read_text()


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="PR_SET_PDEATHSIG is Linux's")
def test_no_child_outlives_serve_killed_without_a_chance_to_clean_up(tmp_path):
    proc, web, cluster, log = _start(tmp_path)
    proc.kill()  # SIGKILL: serve's own handlers never run
    proc.wait(timeout=10)
    wait_until(lambda: not _alive(web) and not _alive(cluster), timeout=60, message="orphaned children to exit")


# A process that, like qcluster forking its sentinel, lets its first SIGTERM go by.
_DEAF_ONCE = """
import signal, sys, time
seen = []
def on_term(signum, frame):
    seen.append(signum)
    if len(seen) > 1:
        sys.exit(0)
signal.signal(signal.SIGTERM, on_term)
print("ready", flush=True)
while True:
    time.sleep(0.05)
"""


@pytest.mark.parametrize("repeat", [True, False])
def test_the_cluster_gets_its_sigterm_again_until_it_stops(repeat):
    import time

    from siganteng.management.commands.serve import _wait

    proc = subprocess.Popen([sys.executable, "-c", _DEAF_ONCE], stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout.readline().strip() == "ready"
        proc.send_signal(signal.SIGTERM)  # let go by
        stopped = _wait(proc, time.monotonic() + 4, repeat=signal.SIGTERM if repeat else None)
        assert stopped is repeat
        assert (proc.returncode == 0) if repeat else (proc.poll() is None)
    finally:
        proc.kill()
        proc.wait()


def test_a_stopped_serve_hands_running_and_fetched_work_back_within_its_grace(tmp_path, tenant, settings):
    """SIGTERM while a slow job and a follow-up delivery run and another job's wake-up
    waits in the cluster: serve stops within its grace (no SIGKILL), every piece of work
    is claimable at once with no attempt spent, and another cluster finishes each once."""
    import datetime as dt

    from django.utils import timezone

    from chat.channels.services import channel_create, conversation_for
    from chat.channels.tests.fakes import CountingWebhook
    from followups.models import FollowUp
    from followups.services import followup_schedule, followups_claim_due
    from jobs.models import Job, JobStatus
    from jobs.seed import load_catalog
    from jobs.services import job_submit
    from siganteng.queue import broker
    from siganteng.testing import LocalServer, qcluster

    load_catalog()
    receiver = CountingWebhook()

    def slow_first(req):
        reply = receiver(req)
        reply.delay = 6.0 if sum(receiver.counts.values()) == 1 else 0.0  # answers the first request late
        return reply

    # Two jobs of one tenant in flight at once: one running, one fetched behind it.
    settings.JOBS_TENANT_CONCURRENCY = 2
    env = {
        "OUTBOUND_ALLOW_PRIVATE": "true",
        "Q_WORKERS": "2",
        "Q_STOP_GRACE_SECONDS": "2",
        "JOBS_TENANT_CONCURRENCY": "2",
    }
    with LocalServer(slow_first) as server:
        channel, _ = channel_create(tenant=tenant, kind="webhook", name="hook", config={"url": f"{server.url}/hook"})
        conversation = conversation_for(channel=channel, user_id="cust-1")
        proc, _web, _cluster, log = _start(tmp_path, grace=15, **env)
        try:
            slow = job_submit(tenant=tenant, model_slug="echo", prompt="slow", input_params={"delay_seconds": 20})[0]
            followup, _ = followup_schedule(
                tenant=tenant,
                conversation=conversation,
                text="Paketnya sudah sampai, Kak?",
                due_at=timezone.now() - dt.timedelta(seconds=1),
                respect_working_hours=False,
            )
            wait_until(lambda: Job.objects.get(pk=slow.pk).progress_percent > 0, timeout=60, message="the job to run")
            wait_until(lambda: receiver.counts, timeout=60, message="the follow-up request to be out")
            fetched = job_submit(tenant=tenant, model_slug="echo", prompt="fetched")[0]
            wait_until(lambda: broker().queue_size() == 0, timeout=30, message="the cluster to fetch the wake-up")
            proc.send_signal(signal.SIGTERM)
            assert proc.wait(timeout=15) == 0, log.read_text(errors="replace")[-3000:]
        finally:
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGKILL)
        assert "did not stop within" not in log.read_text(), log.read_text(errors="replace")[-3000:]

        for job in (slow, fetched):
            job.refresh_from_db()
            assert (job.status, job.attempts, job.lease_token) == (JobStatus.QUEUED, 0, ""), job.prompt
        assert broker().queue_size() == 2  # the released job's wake-up and the fetched one, for any cluster
        followup.refresh_from_db()
        assert followup.status == "SCHEDULED" and followup.claim_token == "" and followup.run_at <= timezone.now()

        with qcluster(**env) as cluster:
            assert followups_claim_due() == [str(followup.pk)]
            wait_until(
                lambda: Job.objects.filter(pk__in=[slow.pk, fetched.pk], status=JobStatus.SUCCEEDED).count() == 2,
                timeout=90,
                message="another cluster to finish both jobs",
            )
            wait_until(lambda: FollowUp.objects.get(pk=followup.pk).status == "SENT", timeout=30, message="the send")
            kill_cluster(cluster)
    assert list(Job.objects.filter(pk__in=[slow.pk, fetched.pk]).values_list("attempts", flat=True)) == [1, 1]
    assert receiver.counts == {f"fu_{followup.pk}": 2}  # the same webhook-id: the receiver keeps one
