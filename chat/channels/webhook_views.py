"""Inbound webhooks the providers call: ``/channels/<kind>/<inbound_token>/``.

Not part of the API-key API: each request is authenticated by the provider's own
mechanism (Telegram secret token, WhatsApp HMAC signature, Standard Webhooks). A
request that fails it is answered 401/403 before anything is stored. A verified message
is stored and acknowledged at once; the reply is produced by a task.
"""

from __future__ import annotations

import json
import logging

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods

from chat.channels import registry
from chat.channels.base import InboundRejected
from chat.channels.services import inbound_accept, inbound_rate
from chat.models import Channel
from siganteng.errors import error_body
from siganteng.parsers import has_unstorable_text

logger = logging.getLogger(__name__)


@csrf_exempt
@require_http_methods(["GET", "POST"])
def inbound(request: HttpRequest, kind: str, token: str) -> HttpResponse:
    channel = Channel.objects.select_related("tenant").filter(kind=kind, inbound_token=token).first()
    if channel is None or kind not in registry.TRANSPORTS:
        return JsonResponse(error_body("not_found", "Unknown channel."), status=404)
    transport = registry.transport_for(channel)
    if request.method == "GET":
        return transport.handshake(request)
    body = request.body
    try:
        transport.verify(request, body)
    except InboundRejected as exc:
        logger.warning("rejected inbound request on channel %s: %s", channel.pk, exc)
        code = "authentication_failed" if exc.status == 401 else "permission_denied"
        return JsonResponse(error_body(code, str(exc)), status=exc.status)
    try:
        payload = json.loads(body)
    except (ValueError, UnicodeDecodeError, RecursionError):
        return JsonResponse(error_body("parse_error", "The body is not JSON."), status=400)
    if has_unstorable_text(payload):  # NUL or unencodable text would fail later, in the database driver
        return JsonResponse(error_body("parse_error", "The body contains invalid Unicode."), status=400)
    if not (channel.enabled and channel.tenant.is_active):
        # Acknowledge so the provider stops retrying; a disabled channel answers nobody.
        return JsonResponse({"ok": True, "accepted": 0, "duplicates": 0, "ignored": "channel disabled"})
    accepted = duplicates = 0
    for message in transport.parse(request, payload):
        result = inbound_accept(channel=channel, message=message)
        duplicates += result.duplicate
        accepted += not result.duplicate
    body = {"ok": True, "accepted": accepted, "duplicates": duplicates}
    ratings = transport.parse_ratings(request, payload)
    if ratings:  # taps on 👍/👎 buttons under answers
        body["rated"] = sum(inbound_rate(channel=channel, rating=r) is not None for r in ratings)
        for rating in ratings:
            transport.acknowledge_rating(rating)
    return JsonResponse(body)
