"""The job's answer is written out field by field for speed; it must say exactly what
DRF's generic ModelSerializer walk says, for every state a job can be in."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone
from rest_framework import serializers

from jobs import services
from jobs.models import Artifact, Job, JobStatus
from jobs.serializers import JobOutputSerializer

pytestmark = pytest.mark.django_db


def _generic(job: Job) -> dict:
    return serializers.ModelSerializer.to_representation(JobOutputSerializer(), job)


def _jobs(tenant) -> list[Job]:
    queued, _ = services.job_submit(tenant=tenant, model_slug="echo", prompt="fresh", input_params={})
    done, _ = services.job_submit(tenant=tenant, model_slug="echo", prompt="done", webhook_url="")
    Job.objects.filter(pk=done.pk).update(
        status=JobStatus.SUCCEEDED,
        result={"text": "ok", "n": [1, 2.5, None]},
        progress_percent=100,
        attempts=1,
        started_at=timezone.now() - dt.timedelta(seconds=3),
        completed_at=timezone.now(),
    )
    Artifact.objects.create(
        job=done, tenant=tenant, kind=Artifact.Kind.OUTPUT, key="k/out.txt", filename="out.txt", size=2, sha256="ab"
    )
    failed, _ = services.job_submit(tenant=tenant, model_slug="echo", prompt="", idempotency_key="key-1")
    Job.objects.filter(pk=failed.pk).update(status=JobStatus.FAILED, error="Provider error: boom", result=None)
    stored = list(Job.objects.filter(tenant=tenant).select_related("model").prefetch_related("artifacts"))
    return [queued, *stored]  # the submission's own object (new_artifacts) and rows read back


def test_the_written_out_answer_equals_drfs_for_every_state(tenant, catalog):
    jobs = _jobs(tenant)
    assert {job.status for job in jobs} == {JobStatus.QUEUED, JobStatus.SUCCEEDED, JobStatus.FAILED}
    assert any(job.artifact_list for job in jobs)
    for job in jobs:
        fast = JobOutputSerializer(job).data
        assert fast == _generic(job)
        assert list(fast) == JobOutputSerializer.Meta.fields


def test_times_follow_the_active_time_zone_as_drf_does(tenant, catalog):
    job = _jobs(tenant)[0]
    with timezone.override("Asia/Jakarta"):
        fast = JobOutputSerializer(job).data
        assert fast == _generic(job)
    assert fast["created_at"].endswith("+07:00")


# --- submissions: the direct check of the usual item against DRF's walk ----------------------

_ITEMS = [
    {"model": "echo", "prompt": "x"},
    {"model": "echo"},
    {"model": "text-gen_default-2", "prompt": "", "input_params": {"temperature": 0.2}},
    {"model": "echo", "prompt": "Halo, apa kabar? 你好 😀", "input_params": {}},
    {"model": "echo", "prompt": "  padded prompt stays padded  "},
    {"model": "echo", "prompt": "x", "webhook_url": "", "input_keys": [], "idempotency_key": "k-1"},
    {"model": "echo", "prompt": "x", "unknown": 1},
    {"model": "echo", "prompt": "x" * 100_000},
    # taken by DRF's walk: valid but unusual
    {"model": " echo ", "prompt": "x"},
    {"model": "echo", "prompt": 5},
    {"model": "echo", "webhook_url": "https://example.com/hook"},
    {"model": "echo", "input_keys": ["tenants/acme/uploads/a.png"]},
    {"model": "echo", "idempotency_key": "  padded  "},
    # invalid
    {"model": "echo", "prompt": "x" * 100_001},
    {"model": "e" * 81},
    {"model": "échо"},
    {"model": "echo\n"},
    {"model": ""},
    {"model": None},
    {"prompt": "no model"},
    {"model": "echo", "prompt": None},
    {"model": "echo", "prompt": "nul\x00"},
    {"model": "echo", "prompt": "lone \ud800"},
    {"model": "echo", "input_params": []},
    {"model": "echo", "input_params": None},
    {"model": "echo", "webhook_url": "not a url"},
    {"model": "echo", "webhook_url": None},
    {"model": "echo", "input_keys": None},
    {"model": "echo", "idempotency_key": "k" * 201},
    {"model": "echo", "idempotency_key": 7},
    {"model": "echo", "idempotency_key": None},
    "not an object",
    ["echo"],
]


@pytest.mark.parametrize("serializer_class", ["JobCreateInputSerializer", "JobBatchItemInputSerializer"])
def test_the_direct_check_answers_as_drfs_walk(serializer_class):
    from jobs import serializers as shapes

    direct_class = getattr(shapes, serializer_class)

    class Walk(direct_class):
        def _plain(self, data):
            return None

    taken_directly = 0
    for item in _ITEMS:
        direct, walk = direct_class(data=item), Walk(data=item)
        assert direct.is_valid() == walk.is_valid(), item
        if walk.errors:
            assert direct.errors == walk.errors, item
        else:
            assert direct.validated_data == walk.validated_data, item
        taken_directly += direct._plain(item) is not None
    # The first eight items; for a single submission (no idempotency_key field) also the
    # four whose only oddity is a key it ignores. The rest are DRF's to answer.
    assert taken_directly == (8 if serializer_class == "JobBatchItemInputSerializer" else 12)
