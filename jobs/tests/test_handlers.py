"""Handlers per model kind, run as the internal runner runs them (in process): LLM text,
sentiment (LLM JSON and the offline lexicon), speech, captioning, errors and cancellation."""

from __future__ import annotations

import base64
import datetime as dt
import shutil
import threading
import time

import pytest
from django.utils import timezone

from jobs import services
from jobs.handlers.base import JobCanceled
from jobs.handlers.sentiment import lexicon_score
from jobs.models import Job, JobEvent, JobStatus
from siganteng.testing import Reply, run_concurrently, wait_until

pytestmark = pytest.mark.django_db


@pytest.fixture
def openai_tenant(tenant, fake_openai):
    tenant.llm_provider = "openai"
    tenant.save()
    return tenant


def _submit(tenant, slug, prompt="", **kw) -> Job:
    return services.job_submit(tenant=tenant, model_slug=slug, prompt=prompt, **kw)[0]


def _run(job: Job) -> Job:
    services.job_run(job_id=job.pk)
    job.refresh_from_db()
    return job


def test_it_generates_text_through_the_tenants_provider(catalog, openai_tenant, fake_openai):
    fake_openai.reply_text("Roses are red.", usage=(12, 4))
    job = _run(_submit(openai_tenant, "text-gen-default", "Write a poem", input_params={"temperature": 0.1}))
    assert job.status == JobStatus.SUCCEEDED, job.error
    assert job.result["text"] == "Roses are red." and job.result["provider"] == "openai"
    assert job.result["usage"] == {"input_tokens": 12, "output_tokens": 4}
    body = fake_openai.last_body
    assert body["temperature"] == 0.1 and body["max_tokens"] == 512 or body.get("max_completion_tokens") == 512
    assert any("Write a poem" in str(m.get("content")) for m in body["messages"])


def test_it_summarises_offline_by_quoting_the_text(catalog, tenant):
    text = (
        "Toko Budi opens at nine. Delivery takes two days in Jakarta. Returns are accepted within a week. "
        "The shop is closed on Sundays."
    )
    job = _run(_submit(tenant, "summarize-default", text))
    assert job.status == JobStatus.SUCCEEDED, job.error
    assert job.result["provider"] == "extractive" and job.result["text"]


def test_it_retries_a_transient_provider_error_with_backoff_then_succeeds(
    catalog, openai_tenant, fake_openai, settings
):
    settings.LLM_MAX_RETRIES = 0
    settings.JOBS_RETRY_BACKOFF_SECONDS = 30
    fake_openai.fail(503).reply_text("second time lucky")
    job = _run(_submit(openai_tenant, "text-gen-default", "hi"))
    assert job.status == JobStatus.QUEUED and job.attempts == 1 and "503" in job.error
    assert job.available_at > timezone.now() + dt.timedelta(seconds=25)
    assert services.job_run(job_id=job.pk) is None  # still backing off: a wake-up is a no-op
    counts = services.jobs_reconcile(now=timezone.now() + dt.timedelta(seconds=31))
    assert counts["woken"] == 1
    Job.objects.filter(pk=job.pk).update(available_at=timezone.now())
    job = _run(job)
    assert job.status == JobStatus.SUCCEEDED and job.attempts == 2 and job.result["text"] == "second time lucky"


def test_it_fails_permanently_on_a_bad_provider_key_with_a_readable_error(catalog, openai_tenant, fake_openai):
    fake_openai.fail(401, message="Incorrect API key provided")
    job = _run(_submit(openai_tenant, "text-gen-default", "hi"))
    assert job.status == JobStatus.FAILED and job.attempts == 1
    assert "Provider error" in job.error and job.completed_at


def test_it_fails_after_the_last_transient_attempt(catalog, openai_tenant, fake_openai, settings):
    settings.LLM_MAX_RETRIES = 0
    fake_openai.fail(500, times=10)
    job = _submit(openai_tenant, "text-gen-default", "hi")
    for _ in range(job.max_attempts):
        Job.objects.filter(pk=job.pk).update(available_at=None)
        job = _run(job)
    assert job.status == JobStatus.FAILED and job.attempts == job.max_attempts


def test_it_classifies_sentiment_through_the_llm_as_json(catalog, openai_tenant, fake_openai):
    fake_openai.reply_json({"label": "negative", "score": -0.8})
    job = _run(_submit(openai_tenant, "sentiment-v1", "The parcel arrived broken."))
    assert job.result["label"] == "negative" and job.result["score"] == -0.8 and job.result["method"] == "llm"
    assert fake_openai.last_body["response_format"]["type"] in ("json_object", "json_schema")


@pytest.mark.parametrize(
    "text,label",
    [
        ("The service was great and the staff very friendly!", "positive"),
        ("Terrible experience, the order was late and broken.", "negative"),
        ("The store is on Jalan Sudirman.", "neutral"),
        ("Pelayanannya bagus banget, terima kasih!", "positive"),
        ("Barangnya rusak dan pengirimannya lambat, kecewa.", "negative"),
        ("Produknya tidak bagus.", "negative"),
        ("Not bad at all.", "positive"),
    ],
)
def test_it_scores_sentiment_offline_with_the_lexicon(text, label):
    result = lexicon_score(text)
    assert result["label"] == label, result
    assert -1 <= result["score"] <= 1


def test_it_runs_sentiment_offline_for_an_extractive_tenant(catalog, tenant):
    job = _run(_submit(tenant, "sentiment-v1", "Sangat puas, pengiriman cepat."))
    assert job.result["label"] == "positive" and job.result["method"] == "lexicon"


@pytest.mark.skipif(shutil.which("espeak-ng") is None, reason="espeak-ng is not installed")
def test_it_speaks_text_into_a_wav_artifact_with_espeak(catalog, tenant, local_files, settings):
    from siganteng import storage
    from siganteng.ai import speech

    settings.TTS_PROVIDER = "espeak"
    speech.reset()
    job = _run(_submit(tenant, "tts-v1", "Selamat pagi, pesanan Anda sudah dikirim.", input_params={"language": "id"}))
    assert job.status == JobStatus.SUCCEEDED, job.error
    art = job.artifacts.get(kind="output")
    data = storage.open_bytes(art.key)
    assert data[:4] == b"RIFF" and data[8:12] == b"WAVE" and len(data) > 10_000
    assert art.content_type == "audio/wav" and art.size == len(data)
    assert job.result["provider"] == "espeak" and job.result["voice"] == "id"


def test_it_speaks_through_the_openai_speech_endpoint_when_configured(
    catalog, tenant, local_files, settings, local_server
):
    from siganteng import storage
    from siganteng.ai import speech

    wav = b"RIFF\x24\x00\x00\x00WAVEfmt " + b"\x00" * 24
    local_server.handler = lambda req: Reply(200, wav, {"Content-Type": "audio/wav"})
    settings.OPENAI_BASE_URL = f"{local_server.url}/v1"
    settings.OPENAI_API_KEY = "sk-test"
    settings.TTS_PROVIDER = "openai"
    speech.reset()
    try:
        job = _run(_submit(tenant, "tts-v1", "Hello there", input_params={"voice": "nova"}))
    finally:
        speech.reset()
    assert job.status == JobStatus.SUCCEEDED, job.error
    req = local_server.requests[-1]
    assert req.path == "/v1/audio/speech"
    assert req.json()["input"] == "Hello there" and req.json()["voice"] == "nova"
    assert req.headers["authorization"] == "Bearer sk-test"
    assert storage.open_bytes(job.artifacts.get(kind="output").key) == wav


def _upload_image(tenant, data=b"\x89PNG\r\n\x1a\nfake") -> str:
    from siganteng import storage

    key = f"tenants/{tenant.pk}/uploads/abc/cat.png"
    storage.save(key, data, content_type="image/png")
    return key


def test_it_refuses_captioning_offline_with_a_clear_permanent_error(catalog, tenant, local_files):
    job = _run(_submit(tenant, "caption-v1", input_keys=[_upload_image(tenant)]))
    assert job.status == JobStatus.FAILED and job.attempts == 1
    assert "vision-capable provider" in job.error


def test_it_captions_an_image_through_a_vision_provider(catalog, openai_tenant, fake_openai, local_files):
    fake_openai.reply_text("A grey cat sleeping on a sofa.")
    data = b"\x89PNG\r\n\x1a\nfake image"
    job = _run(_submit(openai_tenant, "caption-v1", "Describe it", input_keys=[_upload_image(openai_tenant, data)]))
    assert job.status == JobStatus.SUCCEEDED, job.error
    assert job.result["caption"] == "A grey cat sleeping on a sofa."
    sent = str(fake_openai.last_body["messages"])
    assert base64.b64encode(data).decode() in sent and "image/png" in sent


@pytest.mark.django_db(transaction=True)
def test_it_stops_a_running_job_canceled_between_steps(catalog, tenant, client_a):
    job = _submit(tenant, "echo", "slow", input_params={"delay_seconds": 3, "steps": 30})
    outcome = {}

    def run() -> None:
        from django.db import connection

        try:
            outcome["status"] = services.job_run(job_id=job.pk)
        finally:
            connection.close()  # the thread's own connection: left open, it blocks dropping the test database

    worker = threading.Thread(target=run)
    worker.start()
    wait_until(lambda: JobEvent.objects.filter(job=job, kind="progress").exists(), timeout=10)
    resp = client_a.post(f"/api/v1/jobs/{job.pk}/cancel")
    assert resp.status_code == 200 and resp.json()["status"] == "CANCELED"
    started = time.monotonic()
    worker.join(timeout=10)
    assert time.monotonic() - started < 1.0  # noticed at the next step, not at the end
    assert outcome["status"] == "CANCELED"
    job.refresh_from_db()
    assert job.status == JobStatus.CANCELED and job.result is None
    assert not JobEvent.objects.filter(job=job, status=JobStatus.SUCCEEDED).exists()


def test_a_run_writes_exactly_the_running_and_succeeded_transitions(catalog, tenant):
    job = _run(_submit(tenant, "echo", "hi"))
    assert job.status == JobStatus.SUCCEEDED and job.result == {"text": "hi"} and job.progress_percent == 100
    assert job.attempts == 1 and job.lease_token == "" and job.started_at <= job.completed_at
    events = list(job.events.order_by("id").values_list("status", "message", "data"))
    assert [e[0] for e in events] == ["QUEUED", "RUNNING", "SUCCEEDED"]
    assert events[1][1] == "Attempt 1 started." and events[1][2]["attempt"] == 1 and events[1][2]["worker"]
    assert services.job_run(job_id=job.pk) is None  # a duplicate wake-up changes nothing
    assert job.events.count() == 3


def test_a_claim_loses_when_the_row_changed_after_it_was_read(catalog, tenant, monkeypatch):
    """Two runners woken for the same job: both read it QUEUED, only the first conditional
    update matches; the loser writes no event and runs nothing."""
    from jobs.services import lifecycle

    job = _submit(tenant, "echo", "hi")
    real_transition = lifecycle.transition
    raced = {}

    def race_then_transition(job_id, **kw):
        if not raced:  # the other runner claims between this runner's read and its update
            raced["claim"] = None
            monkeypatch.setattr(lifecycle, "transition", real_transition)
            raced["claim"] = services.job_claim(job_id=job.pk, worker_id="other")
        return real_transition(job_id, **kw)

    monkeypatch.setattr(lifecycle, "transition", race_then_transition)
    assert services.job_claim(job_id=job.pk, worker_id="me") is None
    job.refresh_from_db()
    assert raced["claim"] is not None and job.worker_id == "other" and job.attempts == 1
    assert job.events.filter(status=JobStatus.RUNNING).count() == 1


@pytest.mark.django_db(transaction=True)
def test_runners_claiming_one_job_at_once_never_both_win(catalog, tenant):
    job = _submit(tenant, "echo", "hi")
    claims = run_concurrently(lambda n: services.job_claim(job_id=job.pk, worker_id=f"runner-{n}"), 4)
    won = [n for n, claim in enumerate(claims) if claim is not None]
    assert len(won) == 1
    job.refresh_from_db()
    assert job.status == JobStatus.RUNNING and job.attempts == 1 and job.worker_id == f"runner-{won[0]}"
    assert job.events.filter(status=JobStatus.RUNNING).count() == 1


def test_progress_from_a_runner_that_lost_its_lease_is_refused(catalog, tenant):
    job = _submit(tenant, "echo", "hi")
    claimed, token = services.job_claim(job_id=job.pk)
    services.job_progress(job_id=job.pk, token=token, percent=40, message="half")
    services.job_cancel(job=claimed)
    with pytest.raises(JobCanceled):
        services.job_progress(job_id=job.pk, token=token, percent=60)
    assert not services.job_succeed(job_id=job.pk, token=token, result={"text": "late"})
    job.refresh_from_db()
    assert job.status == JobStatus.CANCELED and job.progress_percent == 40 and job.result is None
    assert list(job.events.order_by("id").values_list("kind", flat=True)) == ["status", "status", "progress", "status"]


@pytest.mark.django_db(transaction=True)
def test_it_runs_a_job_in_autocommit_as_a_cluster_worker_does(tenant, catalog):
    """No transaction open around the runner: the claim, the progress reports and the
    completion each commit on their own; the job ends SUCCEEDED with every event."""
    from django.db import connection

    job, _ = services.job_submit(
        tenant=tenant, model_slug="echo", prompt="steps", input_params={"delay_seconds": 0.01, "steps": 2}
    )
    assert connection.get_autocommit()
    assert services.job_run(job_id=str(job.pk)) == JobStatus.SUCCEEDED
    job.refresh_from_db()
    assert (job.status, job.attempts, job.progress_percent, job.result) == ("SUCCEEDED", 1, 100, {"text": "steps"})
    events = list(JobEvent.objects.filter(job=job).order_by("id").values_list("kind", "status", "progress_percent"))
    assert events == [
        ("status", "QUEUED", None),
        ("status", "RUNNING", None),
        ("progress", "", 50),
        ("progress", "", 99),
        ("status", "SUCCEEDED", None),
    ]
    assert services.job_run(job_id=str(job.pk)) is None  # a duplicate wake-up changes nothing
