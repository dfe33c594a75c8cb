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
