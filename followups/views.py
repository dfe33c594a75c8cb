"""Follow-up API: schedule, list (filtered / pending), read, cancel."""

from __future__ import annotations

import datetime as dt

from django.utils import timezone
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import status
from rest_framework.response import Response
from rest_framework.views import APIView

from chat.models import Channel, Conversation
from followups import selectors, services
from followups.models import FollowUp
from followups.serializers import FollowUpOutputSerializer, ListFilterSerializer, ScheduleInputSerializer
from siganteng.api import IDEMPOTENCY_KEY_PARAMETER, get_owned_or_404, idempotency_key
from siganteng.errors import error_responses, field_error
from siganteng.pagination import paginated_response
from tenants.auth import request_tenant

SCOPE = "followups"


def _owned_field(model, tenant, pk, field: str):
    """A referenced row of the tenant, or a 400 naming the field (same answer for another
    tenant's id as for an unknown one)."""
    row = model.objects.filter(tenant=tenant, pk=pk).first()
    if row is None:
        raise field_error(field, f"Unknown {field.removesuffix('_id')}.", code="does_not_exist")
    return row


class ScheduleView(APIView):
    required_scope = SCOPE

    @extend_schema(
        request=ScheduleInputSerializer,
        parameters=[IDEMPOTENCY_KEY_PARAMETER],
        responses={201: FollowUpOutputSerializer, 200: FollowUpOutputSerializer},
        operation_id="followup_schedule",
        description="201 when scheduled; 200 with the existing follow-up for a repeated idempotency key.",
    )
    def post(self, request):
        tenant = request_tenant(request)
        data = ScheduleInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        v = data.validated_data
        header_key = idempotency_key(request)
        conversation = channel = None
        if "conversation_id" in v:
            conversation = _owned_field(Conversation, tenant, v["conversation_id"], "conversation_id")
        if "channel_id" in v:
            channel = _owned_field(Channel, tenant, v["channel_id"], "channel_id")
        due_at = v["due_at"] if "due_at" in v else timezone.now() + dt.timedelta(seconds=v["delay_seconds"])
        followup, created = services.followup_schedule(
            tenant=tenant,
            due_at=due_at,
            text=v["text"],
            prompt=v["prompt"],
            conversation=conversation,
            user_id=v.get("user_id", ""),
            channel=channel,
            respect_working_hours=v["respect_working_hours"],
            cancel_on_reply=v["cancel_on_reply"],
            metadata=v["metadata"],
            idempotency_key=v["idempotency_key"] or header_key,
        )
        return Response(
            FollowUpOutputSerializer(followup).data, status=status.HTTP_201_CREATED if created else status.HTTP_200_OK
        )


class PendingView(APIView):
    required_scope = SCOPE

    @extend_schema(responses=FollowUpOutputSerializer(many=True), operation_id="followup_pending")
    def get(self, request):
        qs = selectors.followups_pending(tenant=request_tenant(request))
        return paginated_response(view=self, request=request, queryset=qs, serializer_class=FollowUpOutputSerializer)


class ListView(APIView):
    required_scope = SCOPE

    @extend_schema(
        parameters=[
            OpenApiParameter("status", str, description="Comma-separated statuses."),
            OpenApiParameter("due_after", dt.datetime),
            OpenApiParameter("due_before", dt.datetime),
            OpenApiParameter("conversation_id", str),
        ],
        responses=FollowUpOutputSerializer(many=True),
        operation_id="followups_list",
    )
    def get(self, request):
        filters = ListFilterSerializer(data=request.query_params)
        filters.is_valid(raise_exception=True)
        qs = selectors.followups_list(tenant=request_tenant(request), **filters.validated_data)
        return paginated_response(view=self, request=request, queryset=qs, serializer_class=FollowUpOutputSerializer)


class DetailView(APIView):
    required_scope = SCOPE

    @extend_schema(responses=FollowUpOutputSerializer, operation_id="followups_retrieve")
    def get(self, request, followup_id):
        followup = get_owned_or_404(FollowUp, request_tenant(request), pk=followup_id)
        return Response(FollowUpOutputSerializer(followup).data)


class CancelView(APIView):
    required_scope = SCOPE

    @extend_schema(
        request=None,
        responses={
            200: FollowUpOutputSerializer,
            **error_responses({409: "not_cancelable: the follow-up was already sent, failed or canceled."}),
        },
        operation_id="followups_cancel",
    )
    def post(self, request, followup_id):
        followup = get_owned_or_404(FollowUp, request_tenant(request), pk=followup_id)
        return Response(FollowUpOutputSerializer(services.followup_cancel(followup=followup)).data)
