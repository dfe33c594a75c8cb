"""Shapes of the jobs API (input validation only; no logic)."""

from __future__ import annotations

from django.conf import settings
from rest_framework import serializers

from jobs.models import AIModel, Artifact, BackgroundStatus, Job, JobEvent, JobStatus


class AIModelOutputSerializer(serializers.ModelSerializer):
    class Meta:
        model = AIModel
        fields = ["slug", "name", "description", "kind", "runner", "provider", "default_params", "params_schema"]


class ArtifactOutputSerializer(serializers.ModelSerializer):
    class Meta:
        model = Artifact
        fields = ["id", "kind", "key", "filename", "content_type", "size", "sha256", "created_at"]


class JobOutputSerializer(serializers.ModelSerializer):
    model = serializers.SlugRelatedField(slug_field="slug", read_only=True)
    model_id = serializers.SlugRelatedField(
        source="model", slug_field="slug", read_only=True, help_text="The model's slug (the same as `model`)."
    )
    kind = serializers.CharField(source="model.kind", read_only=True)
    artifacts = ArtifactOutputSerializer(many=True, read_only=True)

    class Meta:
        model = Job
        fields = [
            "id",
            "model",
            "model_id",
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
    model = serializers.SlugField(max_length=80, required=False, help_text="The model's slug.")
    model_id = serializers.SlugField(max_length=80, required=False, help_text="The same as `model`.")
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

    def validate(self, attrs: dict) -> dict:
        """``model`` and ``model_id`` name the same thing: one is required, and both must agree."""
        model, model_id = attrs.pop("model", None), attrs.pop("model_id", None)
        if model is None and model_id is None:
            raise serializers.ValidationError({"model": ["This field is required."]})
        if model is not None and model_id is not None and model != model_id:
            raise serializers.ValidationError({"model_id": ["Names another model than `model`."]})
        attrs["model"] = model or model_id
        return attrs


class JobBatchItemInputSerializer(JobCreateInputSerializer):
    idempotency_key = serializers.CharField(
        max_length=200,
        required=False,
        allow_blank=True,
        default="",
        help_text="Same key and body → the same job; same key, other body → 409 (for the whole batch).",
    )


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
    download_url = serializers.CharField()
    expires_in = serializers.IntegerField(help_text="Seconds the URL stays valid.")
    url = serializers.CharField(help_text="The same as `download_url`.")
    expires_at = serializers.DateTimeField()
    artifact = ArtifactOutputSerializer()


class UploadTicketInputSerializer(serializers.Serializer):
    filename = serializers.CharField(max_length=255)
    content_type = serializers.RegexField(r"^[\w.+-]+/[\w.+-]+$", max_length=200)
    size_bytes = serializers.IntegerField(min_value=0, required=False)


class UploadTicketOutputSerializer(serializers.Serializer):
    key = serializers.CharField(help_text="The object's key: pass it in `input_keys` or `input_params.image_path`.")
    object_name = serializers.CharField(help_text="The same as `key`.")
    upload_url = serializers.CharField()
    method = serializers.CharField()
    headers = serializers.DictField(child=serializers.CharField())
    max_bytes = serializers.IntegerField()
    expires_in = serializers.IntegerField(help_text="Seconds the URL stays valid.")
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
