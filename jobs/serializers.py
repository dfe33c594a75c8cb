"""Shapes of the jobs API (input validation only; no logic)."""

from __future__ import annotations

import re

from django.conf import settings
from rest_framework import serializers

from jobs.models import AIModel, Artifact, BackgroundStatus, Job, JobEvent, JobStatus
from siganteng.parsers import has_unstorable_text


class AIModelOutputSerializer(serializers.ModelSerializer):
    class Meta:
        model = AIModel
        fields = ["slug", "name", "description", "kind", "runner", "provider", "default_params", "params_schema"]


class ArtifactOutputSerializer(serializers.ModelSerializer):
    class Meta:
        model = Artifact
        fields = ["id", "kind", "key", "filename", "content_type", "size", "sha256", "created_at"]


_DATETIME = serializers.DateTimeField()  # its to_representation gives None for None
_ARTIFACT = ArtifactOutputSerializer()


class JobOutputSerializer(serializers.ModelSerializer):
    model = serializers.SlugRelatedField(slug_field="slug", read_only=True)
    kind = serializers.CharField(source="model.kind", read_only=True)
    artifacts = ArtifactOutputSerializer(many=True, read_only=True, source="artifact_list")

    def to_representation(self, job: Job) -> dict:
        """What DRF's generic field-by-field walk produces (a test holds the two equal),
        written out: a batch answer shows up to 100 jobs, and the walk cost 0.16 ms each."""
        model, when = job.model, _DATETIME.to_representation
        return {
            "id": str(job.id),
            "model": model.slug,
            "kind": model.kind,
            "prompt": job.prompt,
            "input_params": job.input_params,
            "status": job.status,
            "progress_percent": job.progress_percent,
            "result": job.result,
            "error": job.error,
            "attempts": job.attempts,
            "max_attempts": job.max_attempts,
            "idempotency_key": job.idempotency_key,
            "webhook_url": job.webhook_url,
            "artifacts": [_ARTIFACT.to_representation(a) for a in job.artifact_list],
            "created_at": when(job.created_at),
            "started_at": when(job.started_at),
            "completed_at": when(job.completed_at),
            "updated_at": when(job.updated_at),
        }

    class Meta:
        model = Job
        fields = [
            "id",
            "model",
            "kind",
            "prompt",
            "input_params",
            "status",
            "progress_percent",
            "result",
            "error",
            "attempts",
            "max_attempts",
            "idempotency_key",
            "webhook_url",
            "artifacts",
            "created_at",
            "started_at",
            "completed_at",
            "updated_at",
        ]


class JobEventOutputSerializer(serializers.ModelSerializer):
    class Meta:
        model = JobEvent
        fields = ["id", "kind", "status", "progress_percent", "message", "data", "created_at"]


class JobCreateInputSerializer(serializers.Serializer):
    model = serializers.SlugField(max_length=80)
    prompt = serializers.CharField(
        allow_blank=True, required=False, default="", max_length=100_000, trim_whitespace=False
    )
    input_params = serializers.JSONField(required=False, default=dict)
    webhook_url = serializers.URLField(required=False, allow_blank=True, default="", max_length=1000)
    input_keys = serializers.ListField(
        child=serializers.CharField(max_length=500), required=False, default=list, max_length=20
    )

    def validate_input_params(self, value):
        if not isinstance(value, dict):
            raise serializers.ValidationError("Must be an object.")
        return value

    def to_internal_value(self, data):
        """The usual submission (a slug, a prompt, parameters; no webhook, inputs or
        blank-padded key) checked directly, because DRF's field-by-field walk cost 0.1 ms
        per item of a batch. Anything else, every invalid item included, takes the walk:
        a test holds both to the same answers."""
        plain = self._plain(data)
        return plain if plain is not None else super().to_internal_value(data)

    def _plain(self, data) -> dict | None:
        if type(data) is not dict:
            return None
        model, prompt, params = data.get("model"), data.get("prompt", ""), data.get("input_params", _MISSING)
        if (
            type(model) is not str
            or len(model) > 80
            or not _SLUG.match(model)
            or not _storable(prompt, 100_000)
            or (params is not _MISSING and type(params) is not dict)
            or data.get("webhook_url", "") != ""
            or data.get("input_keys", _EMPTY) != _EMPTY
        ):
            return None
        return {
            "model": model,
            "prompt": prompt,
            "input_params": {} if params is _MISSING else params,
            "webhook_url": "",
            "input_keys": [],
        }


_MISSING = object()
_EMPTY: list = []
_SLUG = re.compile(r"[-a-zA-Z0-9_]+\Z")  # DRF's SlugField pattern


def _storable(value, max_length: int) -> bool:
    """A string DRF's CharField would take unchanged: within its length, and text the
    database can store (no NUL, no unpaired surrogate: the JSON parser's own rule)."""
    return type(value) is str and len(value) <= max_length and not has_unstorable_text(value)


class JobBatchItemInputSerializer(JobCreateInputSerializer):
    idempotency_key = serializers.CharField(
        max_length=200,
        required=False,
        allow_blank=True,
        default="",
        help_text="Same key and body → the same job; same key, other body → 409 (for the whole batch).",
    )

    def _plain(self, data) -> dict | None:
        plain = super()._plain(data)
        if plain is None:
            return None
        key = data.get("idempotency_key", "")
        if not _storable(key, 200) or key != key.strip():  # DRF would trim it
            return None
        plain["idempotency_key"] = key
        return plain


class JobBatchInputSerializer(serializers.Serializer):
    jobs = JobBatchItemInputSerializer(many=True, min_length=1, max_length=settings.JOBS_BATCH_MAX)


class JobBatchOutputSerializer(serializers.Serializer):
    jobs = JobOutputSerializer(many=True)
    replayed = serializers.ListField(
        child=serializers.IntegerField(), help_text="Positions of the jobs an idempotency key returned again."
    )


class JobListFilterSerializer(serializers.Serializer):
    status = serializers.ChoiceField(choices=JobStatus.choices, required=False)
    model = serializers.SlugField(required=False)
    idempotency_key = serializers.CharField(required=False, max_length=200)


class DownloadOutputSerializer(serializers.Serializer):
    url = serializers.CharField()
    expires_at = serializers.DateTimeField()
    artifact = ArtifactOutputSerializer()


class UploadTicketInputSerializer(serializers.Serializer):
    filename = serializers.CharField(max_length=255)
    content_type = serializers.RegexField(r"^[\w.+-]+/[\w.+-]+$", max_length=200)
    size_bytes = serializers.IntegerField(min_value=0, required=False)


class UploadTicketOutputSerializer(serializers.Serializer):
    key = serializers.CharField()
    upload_url = serializers.CharField()
    method = serializers.CharField()
    headers = serializers.DictField(child=serializers.CharField())
    max_bytes = serializers.IntegerField()
    expires_at = serializers.DateTimeField()


class BackgroundGenerateInputSerializer(serializers.Serializer):
    prompt = serializers.CharField(max_length=100_000)
    max_tokens = serializers.IntegerField(min_value=1, max_value=8192, required=False)
    temperature = serializers.FloatField(min_value=0, max_value=2, required=False)


class BackgroundTaskOutputSerializer(serializers.Serializer):
    task_id = serializers.CharField()
    status = serializers.ChoiceField(choices=BackgroundStatus.choices)
    result = serializers.JSONField(allow_null=True)
    error = serializers.CharField(allow_blank=True)


# --- workers ------------------------------------------------------------------------------


class WorkerClaimInputSerializer(serializers.Serializer):
    kinds = serializers.ListField(child=serializers.CharField(max_length=40), min_length=1, max_length=50)
    worker_id = serializers.CharField(max_length=200)
    lease_seconds = serializers.IntegerField(min_value=5, max_value=3600, required=False)


class WorkerInputSerializer(serializers.Serializer):
    key = serializers.CharField()
    url = serializers.CharField()
    content_type = serializers.CharField()
    size = serializers.IntegerField()


class WorkerJobSerializer(serializers.Serializer):
    id = serializers.UUIDField()
    tenant = serializers.CharField()
    model = serializers.CharField()
    kind = serializers.CharField()
    prompt = serializers.CharField(allow_blank=True)
    input_params = serializers.JSONField()
    attempt = serializers.IntegerField()
    inputs = WorkerInputSerializer(many=True)


class WorkerClaimOutputSerializer(serializers.Serializer):
    job = WorkerJobSerializer()
    lease_token = serializers.CharField()
    lease_expires_at = serializers.DateTimeField()


class WorkerLeaseInputSerializer(serializers.Serializer):
    lease_token = serializers.CharField(max_length=64)
    lease_seconds = serializers.IntegerField(min_value=5, max_value=3600, required=False)


class WorkerLeaseOutputSerializer(serializers.Serializer):
    lease_expires_at = serializers.DateTimeField()
    status = serializers.CharField()


class WorkerProgressInputSerializer(WorkerLeaseInputSerializer):
    progress_percent = serializers.IntegerField(min_value=0, max_value=100)
    message = serializers.CharField(required=False, allow_blank=True, default="", max_length=2000)


class WorkerOutputSerializer(serializers.Serializer):
    key = serializers.CharField(max_length=500)
    content_type = serializers.CharField(required=False, allow_blank=True, max_length=200)
    kind = serializers.ChoiceField(
        choices=[Artifact.Kind.OUTPUT, Artifact.Kind.PREVIEW, Artifact.Kind.LOG],
        required=False,
        default=Artifact.Kind.OUTPUT,
    )


class WorkerCompleteInputSerializer(serializers.Serializer):
    lease_token = serializers.CharField(max_length=64)
    outputs = WorkerOutputSerializer(many=True, required=False, default=list)
    result = serializers.JSONField(required=False, default=dict)


class WorkerFailInputSerializer(serializers.Serializer):
    lease_token = serializers.CharField(max_length=64)
    error = serializers.CharField(max_length=4000)
    retryable = serializers.BooleanField(required=False, default=False)


class WorkerUploadTicketInputSerializer(UploadTicketInputSerializer):
    lease_token = serializers.CharField(max_length=64)
