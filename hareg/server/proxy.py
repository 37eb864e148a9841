# SPDX-FileCopyrightText: 2026 The hareg authors
# SPDX-License-Identifier: EUPL-1.2
"""Believe ``X-Forwarded-Proto/Host/For`` only from ``[server] trusted_proxies``.

Behind nginx the WSGI environment describes the hop from nginx, not the client: the scheme is
``http`` even when the client used TLS, and ``REMOTE_ADDR`` is nginx. :class:`TrustedProxies`
rewrites ``wsgi.url_scheme``, ``HTTP_HOST`` (with ``SERVER_NAME``/``SERVER_PORT``) and
``REMOTE_ADDR`` from the forwarding headers, like werkzeug's ``ProxyFix``, but only when the
direct peer is a trusted proxy. From anyone else the headers are removed, so no code behind
this middleware can be fooled by a client that sends them itself. ``request.url_root`` and
``request.host_url`` (the token realm, absolute ``Location`` URLs) are then right behind nginx.

The client address is found the way nginx's ``real_ip_recursive on`` finds it: walk
``X-Forwarded-For`` from the right and take the first address that is not a trusted proxy.
A peer on a unix socket is a local process and counts as trusted (as gunicorn treats it).
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable
from typing import Any

Network = ipaddress.IPv4Network | ipaddress.IPv6Network

#: Where the untouched values are kept, for logs and debugging.
ORIGINAL_KEY = "hareg.server.proxy.original"

_FORWARDED = ("HTTP_X_FORWARDED_FOR", "HTTP_X_FORWARDED_PROTO", "HTTP_X_FORWARDED_HOST")


def parse_networks(entries: Iterable[str]) -> tuple[Network, ...]:
    """``["10.0.0.5", "10.1.0.0/16"]`` -> networks; raises ValueError on a bad entry."""
    return tuple(ipaddress.ip_network(e.strip(), strict=False) for e in entries if e.strip())


def _address(value: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    value = value.strip()
    if value.startswith("[") and "]" in value:  # "[::1]:1234"
        value = value[1 : value.index("]")]
    elif value.count(":") == 1:  # "1.2.3.4:1234"
        value = value.split(":", 1)[0]
    try:
        address = ipaddress.ip_address(value)
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped:
        return address.ipv4_mapped
    return address


class TrustedProxies:
    """WSGI middleware: apply forwarding headers from trusted peers, drop them from others."""

    def __init__(self, app: Any, trusted: Iterable[str]) -> None:
        self.app = app
        self.networks = parse_networks(trusted)

    def is_trusted(self, addr: str | None) -> bool:
        """Whether a peer address (``REMOTE_ADDR``) belongs to a trusted proxy."""
        if not addr:  # unix socket: only local processes can connect
            return True
        ip = _address(addr)
        if ip is None:
            return False
        return any(ip in net for net in self.networks)

    def client_address(self, peer: str, forwarded_for: str) -> str:
        """The first address from the right of the chain that is not a trusted proxy."""
        hops = [h.strip() for h in forwarded_for.split(",") if h.strip()]
        client = peer
        for hop in reversed(hops):
            ip = _address(hop)
            if ip is None:
                break  # garbage from somewhere untrusted: stop at the last good hop
            client = str(ip)
            if not any(ip in net for net in self.networks):
                break
        return client

    def rewrite(self, environ: dict[str, Any]) -> None:
        peer = environ.get("REMOTE_ADDR", "")
        if not self.networks or not self.is_trusted(peer):
            for key in _FORWARDED:
                environ.pop(key, None)
            return
        environ[ORIGINAL_KEY] = {
            "REMOTE_ADDR": peer,
            "HTTP_HOST": environ.get("HTTP_HOST"),
            "wsgi.url_scheme": environ.get("wsgi.url_scheme"),
        }
        proto = _last(environ.get("HTTP_X_FORWARDED_PROTO"))
        if proto and proto.lower() in ("http", "https"):
            environ["wsgi.url_scheme"] = proto.lower()
        host = _last(environ.get("HTTP_X_FORWARDED_HOST"))
        if host:
            environ["HTTP_HOST"] = host
            name, _, port = host.rpartition(":") if not host.endswith("]") else (host, "", "")
            if name and port.isdigit():
                environ["SERVER_NAME"], environ["SERVER_PORT"] = name, port
            else:
                environ["SERVER_NAME"] = host
                environ["SERVER_PORT"] = "443" if environ["wsgi.url_scheme"] == "https" else "80"
        forwarded_for = environ.get("HTTP_X_FORWARDED_FOR")
        if forwarded_for and peer:
            environ["REMOTE_ADDR"] = self.client_address(peer, forwarded_for)

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Any:
        self.rewrite(environ)
        return self.app(environ, start_response)


def _last(value: str | None) -> str:
    """The value the nearest proxy added: the last one of a comma-separated list."""
    if not value:
        return ""
    return value.rsplit(",", 1)[-1].strip()
