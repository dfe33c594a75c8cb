"""The one outbound HTTP wrapper for tenant-facing calls.

Every request that leaves the process on a tenant's behalf (webhooks, tools, channel
transports, knowledge sources) goes through :func:`fetch`: a timeout always, a cap on
the response size, retries with backoff on transient failures (network errors, 408, 429
and 5xx, honouring ``Retry-After``), a User-Agent, redirects followed by hand so each hop
is checked, and a guard that refuses loopback, private, link-local and other non-public
addresses unless ``OUTBOUND_ALLOW_PRIVATE`` is on (development and tests), and the
current request id as ``X-Request-Id``.

The guard resolves the host name once, checks every address it resolves to, and the
request then connects to the checked address itself (the URL's host name still goes in
the ``Host`` header and as the TLS server name, so virtual hosts and certificates work
as before): a name that answers differently a moment later (DNS rebinding) cannot steer
the connection. An IPv6 address that embeds an IPv4 one (IPv4-mapped or -compatible,
NAT64, 6to4, Teredo) is public only if the embedded address is too.
"""

from __future__ import annotations

import ipaddress
import logging
import socket
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urljoin, urlsplit

import httpx
from django.conf import settings

from siganteng.middleware import current_request_id

logger = logging.getLogger(__name__)

_TRANSIENT_STATUSES = {408, 425, 429, 500, 502, 503, 504}
_MAX_REDIRECTS = 5
_MAX_RETRY_AFTER = 30.0


class OutboundError(Exception):
    """A failed outbound call. ``permanent`` says whether trying again can help."""

    def __init__(self, message: str, *, permanent: bool, status: int | None = None, kind: str = "error"):
        super().__init__(message)
        self.permanent = permanent
        self.status = status
        self.kind = kind


@dataclass
class HttpResult:
    status: int
    headers: httpx.Headers
    content: bytes
    url: str
    elapsed_ms: float = 0.0
    attempts: int = 1
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def text(self) -> str:
        return self.content.decode(_charset(self.headers), errors="replace")

    def json(self) -> Any:
        import json

        return json.loads(self.content)

    @property
    def ok(self) -> bool:
        return 200 <= self.status < 300


def _charset(headers: httpx.Headers) -> str:
    ctype = headers.get("content-type", "")
    for part in ctype.split(";")[1:]:
        key, _, value = part.strip().partition("=")
        if key.lower() == "charset" and value:
            return value.strip('"')
    return "utf-8"


_NAT64 = (ipaddress.ip_network("64:ff9b::/96"), ipaddress.ip_network("64:ff9b:1::/48"))
_IPV4_COMPATIBLE = ipaddress.ip_network("::/96")


def _embedded_ipv4(ip: ipaddress.IPv6Address) -> list[ipaddress.IPv4Address]:
    """The IPv4 addresses an IPv6 address carries, by the standard embeddings."""
    found = []
    if ip.ipv4_mapped:
        found.append(ip.ipv4_mapped)
    if ip.sixtofour:
        found.append(ip.sixtofour)
    if ip.teredo:
        found.extend(ip.teredo)
    if ip in _IPV4_COMPATIBLE or any(ip in net for net in _NAT64):
        found.append(ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF))
    return found


def _is_public(addr: str) -> bool:
    ip = ipaddress.ip_address(addr.split("%", 1)[0])
    candidates = [ip, *(_embedded_ipv4(ip) if isinstance(ip, ipaddress.IPv6Address) else [])]
    return all(c.is_global and not c.is_multicast for c in candidates)


def check_url(url: str, *, allow_private: bool | None = None) -> str | None:
    """Resolve ``url``'s host once and return the address to connect to.

    Raise a permanent :class:`OutboundError` unless ``url`` is an http(s) URL whose host
    resolves only to public addresses (or private targets are allowed). The refusal does
    not name the address: a tenant must not learn how internal names resolve."""
    parts = urlsplit(url)
    if parts.scheme not in {"http", "https"}:
        raise OutboundError(
            f"Only http and https URLs are allowed, got {parts.scheme or 'none'!r}.", permanent=True, kind="bad_url"
        )
    host = parts.hostname
    if not host:
        raise OutboundError("The URL has no host.", permanent=True, kind="bad_url")
    allow = settings.OUTBOUND_ALLOW_PRIVATE if allow_private is None else allow_private
    try:
        infos = socket.getaddrinfo(
            host, parts.port or (443 if parts.scheme == "https" else 80), type=socket.SOCK_STREAM
        )
    except socket.gaierror as exc:
        if allow:
            return None  # private targets allowed (development): let the client resolve it
        raise OutboundError(f"Cannot resolve host {host!r}: {exc}.", permanent=False, kind="dns") from None
    addresses = [info[4][0] for info in infos]
    if not allow and not all(_is_public(address) for address in addresses):
        raise OutboundError(
            f"Refusing to connect to {host}: it is a private or reserved address "
            "(loopback, private, link-local and other non-public targets are not allowed).",
            permanent=True,
            kind="private_address",
        )
    return addresses[0]


def _pinned(url: str, address: str) -> tuple[str, dict[str, str], dict[str, Any]]:
    """``url`` with its host replaced by the checked ``address``, the ``Host`` header it
    had, and the TLS server name to verify the certificate against."""
    parts = urlsplit(url)
    literal = f"[{address}]" if ":" in address else address
    netloc = literal + (f":{parts.port}" if parts.port else "")
    extensions = {"sni_hostname": parts.hostname} if parts.scheme == "https" else {}
    return parts._replace(netloc=netloc).geturl(), {"Host": parts.netloc.rpartition("@")[2]}, extensions


# One client (connection pool) per host name. Requests connect to checked addresses, so
# pools are keyed by address; a pool per name keeps a TLS connection made for one name
# (its server name and certificate) from being reused for another name on the same
# address. Past a bound the least recently used pool is dropped (not closed: a request
# on another thread may still be reading from it; its sockets close when it is freed).
_MAX_CLIENTS = 64
_clients: OrderedDict[str, httpx.Client] = OrderedDict()
_clients_lock = threading.Lock()


def _http_client(host: str = "") -> httpx.Client:
    with _clients_lock:
        client = _clients.get(host)
        if client is not None:
            _clients.move_to_end(host)
            return client
        client = httpx.Client(follow_redirects=False, limits=httpx.Limits(max_connections=100))
        _clients[host] = client
        while len(_clients) > _MAX_CLIENTS:
            _clients.popitem(last=False)
        return client


def _retry_after(headers: httpx.Headers) -> float | None:
    raw = headers.get("retry-after")
    if not raw:
        return None
    try:
        return min(_MAX_RETRY_AFTER, max(0.0, float(raw)))
    except ValueError:
        return None


def _one_request(
    method: str,
    url: str,
    *,
    headers: dict[str, str],
    content: bytes | None,
    timeout: float,
    max_bytes: int,
    allow_private: bool | None,
) -> HttpResult:
    started = time.perf_counter()
    current = url
    for _ in range(_MAX_REDIRECTS + 1):
        address = check_url(current, allow_private=allow_private)
        target, host_header, extensions = _pinned(current, address) if address else (current, {}, {})
        try:
            with _http_client(urlsplit(current).hostname or "").stream(
                method,
                target,
                headers={**headers, **host_header},
                content=content,
                timeout=timeout,
                extensions=extensions,
            ) as resp:
                if resp.is_redirect and "location" in resp.headers:
                    current = urljoin(current, resp.headers["location"])
                    if resp.status_code in (301, 302, 303) and method not in ("GET", "HEAD"):
                        method, content = "GET", None
                    continue
                declared = resp.headers.get("content-length")
                if declared and declared.isdigit() and int(declared) > max_bytes:
                    raise OutboundError(
                        f"Response of {declared} bytes exceeds the {max_bytes}-byte limit.",
                        permanent=True,
                        status=resp.status_code,
                        kind="too_large",
                    )
                body = bytearray()
                for chunk in resp.iter_bytes():
                    body.extend(chunk)
                    if len(body) > max_bytes:
                        raise OutboundError(
                            f"Response exceeds the {max_bytes}-byte limit.",
                            permanent=True,
                            status=resp.status_code,
                            kind="too_large",
                        )
                return HttpResult(
                    status=resp.status_code,
                    headers=resp.headers,
                    content=bytes(body),
                    url=current,
                    elapsed_ms=(time.perf_counter() - started) * 1000,
                )
        except httpx.TimeoutException:
            raise OutboundError(
                f"Timed out after {timeout:g} s calling {urlsplit(current).netloc}.", permanent=False, kind="timeout"
            ) from None
        except httpx.HTTPError as exc:
            raise OutboundError(
                f"Network error calling {urlsplit(current).netloc}: {exc}.", permanent=False, kind="network"
            ) from None
    raise OutboundError(f"More than {_MAX_REDIRECTS} redirects.", permanent=True, kind="redirects")


def fetch(
    method: str,
    url: str,
    *,
    json: Any = None,
    content: bytes | None = None,
    headers: dict[str, str] | None = None,
    timeout: float | None = None,
    max_bytes: int | None = None,
    retries: int = 0,
    backoff: float = 0.5,
    raise_for_status: bool = True,
    allow_private: bool | None = None,
) -> HttpResult:
    """Make one outbound request, retrying transient failures up to ``retries`` times.

    With ``raise_for_status`` any status >= 400 raises :class:`OutboundError`
    (``permanent`` unless the status is transient); 304 is returned, not raised.
    """
    import json as _json

    send_headers = {"User-Agent": settings.OUTBOUND_USER_AGENT}
    request_id = current_request_id()
    if request_id != "-":
        # The receiver (a tenant's webhook, a tool) can match its logs to ours.
        send_headers["X-Request-Id"] = request_id
    if json is not None:
        content = _json.dumps(json, separators=(",", ":"), ensure_ascii=False).encode()
        send_headers["Content-Type"] = "application/json"
    send_headers.update(headers or {})
    timeout = settings.OUTBOUND_TIMEOUT if timeout is None else timeout
    max_bytes = settings.OUTBOUND_MAX_BYTES if max_bytes is None else max_bytes

    attempt = 0
    while True:
        attempt += 1
        try:
            result = _one_request(
                method.upper(),
                url,
                headers=send_headers,
                content=content,
                timeout=timeout,
                max_bytes=max_bytes,
                allow_private=allow_private,
            )
        except OutboundError as exc:
            if exc.permanent or attempt > retries:
                raise
            time.sleep(backoff * (2 ** (attempt - 1)))
            continue
        result.attempts = attempt
        if result.status >= 400:
            transient = result.status in _TRANSIENT_STATUSES
            if transient and attempt <= retries:
                wait = _retry_after(result.headers)
                time.sleep(wait if wait is not None else backoff * (2 ** (attempt - 1)))
                continue
            if raise_for_status:
                snippet = result.content[:200].decode("utf-8", errors="replace")
                raise OutboundError(
                    f"HTTP {result.status} from {urlsplit(result.url).netloc}: {snippet}",
                    permanent=not transient,
                    status=result.status,
                    kind="http_status",
                )
        return result
