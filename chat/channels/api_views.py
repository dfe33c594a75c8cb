"""``/api/v1/channels``: create, list, read, update, delete a tenant's channels."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework import status
from rest_framework.response import Response
from rest_framework.views import APIView

from chat.channels import services
from chat.channels.serializers import (
    ChannelCreatedSerializer,
    ChannelCreateInputSerializer,
    ChannelOutputSerializer,
    ChannelUpdateInputSerializer,
)
from chat.models import Channel
from siganteng.api import get_owned_or_404
from siganteng.pagination import paginated_response
from tenants.auth import request_tenant

# Channels hold provider credentials: managing them is an administrative act.
SCOPE = "admin"


class ChannelListCreateView(APIView):
    required_scope = SCOPE

    @extend_schema(responses=ChannelOutputSerializer(many=True), operation_id="channels_list")
    def get(self, request):
        tenant = request_tenant(request)
        return paginated_response(
            view=self,
            request=request,
            queryset=Channel.objects.filter(tenant=tenant),
            serializer_class=ChannelOutputSerializer,
        )

    @extend_schema(
        request=ChannelCreateInputSerializer, responses={201: ChannelCreatedSerializer}, operation_id="channels_create"
    )
    def post(self, request):
        tenant = request_tenant(request)
        data = ChannelCreateInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        channel, generated = services.channel_create(tenant=tenant, **data.validated_data)
        channel.generated_secrets = generated
        return Response(ChannelCreatedSerializer(channel).data, status=status.HTTP_201_CREATED)


class ChannelDetailView(APIView):
    required_scope = SCOPE

    @extend_schema(responses=ChannelOutputSerializer, operation_id="channels_retrieve")
    def get(self, request, channel_id):
        channel = get_owned_or_404(Channel, request_tenant(request), pk=channel_id)
        return Response(ChannelOutputSerializer(channel).data)

    @extend_schema(
        request=ChannelUpdateInputSerializer, responses=ChannelOutputSerializer, operation_id="channels_update"
    )
    def patch(self, request, channel_id):
        channel = get_owned_or_404(Channel, request_tenant(request), pk=channel_id)
        data = ChannelUpdateInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        channel = services.channel_update(channel=channel, **data.validated_data)
        return Response(ChannelOutputSerializer(channel).data)

    @extend_schema(responses={204: None}, operation_id="channels_delete")
    def delete(self, request, channel_id):
        channel = get_owned_or_404(Channel, request_tenant(request), pk=channel_id)
        services.channel_delete(channel=channel)
        return Response(status=status.HTTP_204_NO_CONTENT)
