"""Request and response shapes of the knowledge API."""

from __future__ import annotations

from rest_framework import serializers

from knowledge.models import Document, Source


class DocumentInputSerializer(serializers.Serializer):
    external_id = serializers.CharField(max_length=255)
    title = serializers.CharField(max_length=500, required=False, allow_blank=True, default="")
    body = serializers.CharField(trim_whitespace=False, allow_blank=True)
    tags = serializers.ListField(
        child=serializers.CharField(max_length=50), required=False, default=list, max_length=20
    )

    def validate_body(self, value: str) -> str:
        if not value.strip():
            raise serializers.ValidationError("The document has no text (empty or whitespace only).")
        return value


class DocumentBatchInputSerializer(serializers.Serializer):
    documents = DocumentInputSerializer(many=True, allow_empty=False, max_length=100)


class UpsertResultSerializer(serializers.Serializer):
    id = serializers.UUIDField()
    external_id = serializers.CharField()
    status = serializers.ChoiceField(choices=Document.Status.choices)
    action = serializers.ChoiceField(choices=["created", "updated", "unchanged"])


class UpsertBatchResultSerializer(serializers.Serializer):
    documents = UpsertResultSerializer(many=True)


class DocumentOutputSerializer(serializers.ModelSerializer):
    class Meta:
        model = Document
        fields = [
            "id",
            "external_id",
            "title",
            "tags",
            "source",
            "source_url",
            "status",
            "error",
            "chunk_count",
            "content_hash",
            "created_at",
            "updated_at",
            "indexed_at",
        ]


class DocumentDetailSerializer(DocumentOutputSerializer):
    class Meta(DocumentOutputSerializer.Meta):
        fields = [*DocumentOutputSerializer.Meta.fields, "body"]


class DocumentListQuerySerializer(serializers.Serializer):
    tag = serializers.CharField(required=False, max_length=50)
    status = serializers.ChoiceField(choices=Document.Status.choices, required=False)


class UploadInputSerializer(serializers.Serializer):
    file = serializers.FileField(allow_empty_file=False)
    external_id = serializers.CharField(max_length=255, required=False, allow_blank=True, default="")
    title = serializers.CharField(max_length=500, required=False, allow_blank=True, default="")
    tags = serializers.CharField(required=False, allow_blank=True, default="", help_text="Comma-separated.")


class UploadOutputSerializer(DocumentOutputSerializer):
    action = serializers.CharField()

    class Meta(DocumentOutputSerializer.Meta):
        fields = [*DocumentOutputSerializer.Meta.fields, "action"]


class SearchInputSerializer(serializers.Serializer):
    query = serializers.CharField(max_length=2000)
    k = serializers.IntegerField(min_value=1, max_value=50, default=5)
    tags = serializers.ListField(
        child=serializers.CharField(max_length=50), required=False, default=list, max_length=20
    )


class SearchHitSerializer(serializers.Serializer):
    chunk_id = serializers.CharField()
    document_id = serializers.CharField()
    external_id = serializers.CharField()
    title = serializers.CharField()
    text = serializers.CharField()
    score = serializers.FloatField()
    retrievers = serializers.ListField(child=serializers.ChoiceField(choices=["lexical", "dense"]))


class SearchOutputSerializer(serializers.Serializer):
    results = SearchHitSerializer(many=True)


class SourceInputSerializer(serializers.Serializer):
    url = serializers.URLField(max_length=2000)
    kind = serializers.ChoiceField(choices=Source.Kind.choices, default=Source.Kind.PAGE)
    refresh_minutes = serializers.IntegerField(min_value=5, max_value=10080, default=60)
    tags = serializers.ListField(
        child=serializers.CharField(max_length=50), required=False, default=list, max_length=20
    )


class SourceUpdateSerializer(serializers.Serializer):
    kind = serializers.ChoiceField(choices=Source.Kind.choices, required=False)
    refresh_minutes = serializers.IntegerField(min_value=5, max_value=10080, required=False)
    tags = serializers.ListField(child=serializers.CharField(max_length=50), required=False, max_length=20)
    is_active = serializers.BooleanField(required=False)


class SourceOutputSerializer(serializers.ModelSerializer):
    class Meta:
        model = Source
        fields = [
            "id",
            "url",
            "kind",
            "tags",
            "refresh_minutes",
            "is_active",
            "next_fetch_at",
            "last_fetched_at",
            "last_status",
            "last_http_status",
            "last_error",
            "documents_seen",
            "created_at",
            "updated_at",
        ]
