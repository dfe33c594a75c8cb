"""The outbound guard: every form of a non-public address is refused before any socket
opens, the refusal names no address, and a request connects to the address that was
checked (no second resolution for DNS rebinding to exploit).

No test here lets a connection leave the machine: refused URLs are checked in-process
with an audit hook that records every socket connect, and the only request made goes to
a server on 127.0.0.1."""

from __future__ import annotations

import sys
import threading

import pytest

from siganteng import http

_events: list[tuple[str, tuple]] = []
_recording = threading.local()


def _hook(event: str, args: tuple) -> None:
    if getattr(_recording, "on", False) and event in ("socket.connect", "socket.getaddrinfo"):
        _events.append((event, args))


sys.addaudithook(_hook)


@pytest.fixture
def sockets():
    """What the current thread asked of the network while the test ran."""
    _events.clear()
    _recording.on = True
    yield _events
    _recording.on = False


NON_PUBLIC = [
    "127.0.0.1",
    "10.1.2.3",
    "169.254.169.254",
    "::1",
    "::ffff:127.0.0.1",  # IPv4-mapped
    "::127.0.0.1",  # IPv4-compatible (deprecated)
    "64:ff9b::7f00:1",  # NAT64 of 127.0.0.1
    "64:ff9b::a9fe:a9fe",  # NAT64 of 169.254.169.254 (cloud metadata)
    "64:ff9b:1::a00:1",  # local-use NAT64 of 10.0.0.1
    "2002:7f00:1::",  # 6to4 of 127.0.0.1
    "2002:a9fe:a9fe::1",  # 6to4 of 169.254.169.254
    "2001:0:4136:e378:8000:63bf:80ff:fffe",  # Teredo whose client is 127.0.0.1
    "fe80::1",
    "fc00::1",
]


@pytest.mark.parametrize("address", NON_PUBLIC)
def test_it_judges_embedded_and_plain_non_public_addresses_non_public(address):
    assert not http._is_public(address)


@pytest.mark.parametrize("address", ["93.184.216.34", "2606:2800:220:1:248:1893:25c8:1946", "64:ff9b::5db8:d822"])
def test_it_judges_public_addresses_public(address):
    assert http._is_public(address)


@pytest.mark.parametrize("address", NON_PUBLIC)
def test_it_refuses_a_literal_non_public_url_without_opening_a_socket_or_naming_it(address, settings, sockets):
    settings.OUTBOUND_ALLOW_PRIVATE = False
    host = f"[{address}]" if ":" in address else address
    with pytest.raises(http.OutboundError) as caught:
        http.fetch("GET", f"http://{host}:8080/hook")
    assert caught.value.kind == "private_address" and caught.value.permanent
    assert "private or reserved address" in str(caught.value)
    assert not [e for e in sockets if e[0] == "socket.connect"]


def test_the_refusal_of_a_name_does_not_echo_what_it_resolves_to(settings, sockets):
    settings.OUTBOUND_ALLOW_PRIVATE = False
    with pytest.raises(http.OutboundError) as caught:
        http.fetch("GET", "http://localhost:9/")
    assert caught.value.kind == "private_address"
    assert "127.0.0.1" not in str(caught.value) and "::1" not in str(caught.value)
    assert not [e for e in sockets if e[0] == "socket.connect"]


def test_it_resolves_once_and_connects_to_the_checked_address(local_server, settings, sockets):
    settings.OUTBOUND_ALLOW_PRIVATE = True  # the only way to reach a test server on loopback
    port = local_server.url.rsplit(":", 1)[1]
    result = http.fetch("GET", f"http://localhost:{port}/ping?x=1")
    assert result.status == 200
    # The name was resolved by the guard alone; the client connected to an address.
    lookups = [args for event, args in sockets if event == "socket.getaddrinfo" and args[0] == "localhost"]
    assert len(lookups) == 1, sockets
    # The client was handed the address itself (it "resolves" only the literal).
    literal = [args for event, args in sockets if event == "socket.getaddrinfo" and args[0] in ("127.0.0.1", "::1")]
    assert literal, sockets
    connects = [args for event, args in sockets if event == "socket.connect"]
    assert connects and all(str(args[1][0]) in ("127.0.0.1", "::1") for args in connects)
    # The server still sees the name it was called by.
    headers = {k.lower(): v for k, v in local_server.requests[-1].headers.items()}
    assert headers["host"] == f"localhost:{port}"
    assert local_server.requests[-1].path.startswith("/ping")


def test_pinning_keeps_the_name_for_tls_and_the_host_header():
    url, headers, extensions = http._pinned("https://api.example.com:8443/x?y=1", "2001:db8::1")
    assert url == "https://[2001:db8::1]:8443/x?y=1"
    assert headers == {"Host": "api.example.com:8443"}
    assert extensions == {"sni_hostname": "api.example.com"}
    url, headers, extensions = http._pinned("http://user:pw@hooks.example/x", "203.0.113.9")
    assert url == "http://203.0.113.9/x" and headers == {"Host": "hooks.example"} and extensions == {}
