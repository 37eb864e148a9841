# SPDX-FileCopyrightText: 2026 The hareg authors
# SPDX-License-Identifier: EUPL-1.2
"""Small HTTP helpers shared by the blueprints."""

from __future__ import annotations

import logging
import socket
from collections.abc import Iterator
from typing import IO
from urllib.parse import urlencode

from flask import current_app, request
from gunicorn.http.errors import ParseException
from werkzeug.exceptions import ClientDisconnected as WerkzeugClientDisconnected

from ..auth.web import pullable, require_access
from ..registry.context import Registry
from ..registry.errors import BlobUploadInvalid, ManifestInvalid, RegistryError
from ..registry.namespaces import Kind, Route
from ..virtual import push as virtual_push
from ..virtual.members import Through, through

READ_SIZE = 1024 * 1024

log = logging.getLogger(__name__)


class UploadBodyInvalid(BlobUploadInvalid):
    """A blob body that is malformed (a bad chunk size, a missing chunk terminator) or cut
    short by the client."""

    message = "malformed request body"


class ManifestBodyInvalid(ManifestInvalid):
    """A manifest body that is malformed or cut short."""

    message = "malformed request body"


def _body_error(message: str, detail: dict[str, str]) -> RegistryError:
    """A 400 in the code of the route's resource (a manifest or a blob upload)."""
    kind = ManifestBodyInvalid if (request.endpoint or "").startswith("manifests.") \
        else UploadBodyInvalid
    return kind(message, detail=detail)


def read_timed_out(exc: BaseException) -> bool:
    """A socket read timeout, possibly wrapped (werkzeug turns read errors into
    ClientDisconnected with the timeout as its context)."""
    seen = 0
    current: BaseException | None = exc
    while current is not None and seen < 5:
        if isinstance(current, socket.timeout | TimeoutError):
            return True
        current = current.__cause__ or current.__context__
        seen += 1
    return False


def _read(stream: IO[bytes], size: int) -> bytes:
    """One read of the request body; the server's transport errors become domain errors.

    gunicorn raises its ParseException subclasses for broken chunked framing and NoMoreData
    (an OSError) when the connection ends early; werkzeug raises its ClientDisconnected when a
    Content-Length body ends early. Neither may reach a storage driver, which would report an
    OSError as a storage failure.
    """
    try:
        return stream.read(size)
    except ParseException as exc:
        log.info("malformed request body on %s %s: %s: %s", request.method, request.path,
                 type(exc).__name__, str(exc)[:100])
        raise _body_error(f"malformed request body: {type(exc).__name__}",
                          {"framing": str(exc)[:100]}) from None
    except (OSError, WerkzeugClientDisconnected) as exc:
        if read_timed_out(exc):
            raise  # an idle client, not a gone one: uploads answer 408 (hareg.api.uploads)
        raise _disconnected(type(exc).__name__) from None


def _disconnected(how: str) -> RegistryError:
    """Log a client gone in the middle of its body; the error that ends the request.

    Nobody reads this answer: it makes the request end as a 400 in the request log and the
    metrics, not as a storage failure (503), a size mismatch or an internal error (500).
    """
    log.info("client disconnected during the body of %s %s: %s", request.method,
             request.path, how)
    return _body_error("client disconnected during the body", {"disconnect": how})


def registry() -> Registry:
    return current_app.extensions["hareg"]


def route_of(name: str) -> Route:
    """Where the repository ``name`` goes (hareg.registry.namespaces)."""
    return registry().namespaces.current().route(name)


def through_virtual(name: str) -> Through | None:
    """For a name in a virtual namespace, the members this caller may use; else None."""
    namespaces = registry().namespaces.current()
    route = namespaces.route(name)
    if route.kind != Kind.VIRTUAL:
        return None
    return through(namespaces, route, pullable())


def push_target(name: str) -> tuple[str, Through | None]:
    """The repository a push to ``name`` writes: ``name`` itself, or for a virtual name its
    deploy repository (405 without one; the caller's push permission on it is checked here,
    besides the hook's on the virtual name), with the members the caller may pull."""
    namespaces = registry().namespaces.current()
    route = namespaces.route(name)
    if route.kind != Kind.VIRTUAL:
        return name, None
    target = virtual_push.deploy_repository(route)
    require_access(target, "push")
    return target, through(namespaces, route, pullable())


def refuse_virtual_delete(name: str) -> None:
    """405 for a DELETE through a virtual name."""
    route = route_of(name)
    if route.kind == Kind.VIRTUAL:
        raise virtual_push.refuse_delete(route)


def body_chunks(limit: int | None = None) -> Iterator[bytes]:
    """The request body as a stream of chunks (Content-Length or chunked transfer)."""
    stream = request.stream
    remaining = limit
    expected, received = request.content_length, 0
    while True:
        size = READ_SIZE if remaining is None else min(READ_SIZE, remaining)
        if size == 0:
            return
        chunk = _read(stream, size)
        if not chunk:
            # gunicorn ends a Content-Length body early with no error when the client closes:
            # that is a disconnect too, not a body of another size.
            if expected is not None and received < expected:
                raise _disconnected(f"EOF after {received} of {expected} bytes")
            return
        received += len(chunk)
        if remaining is not None:
            remaining -= len(chunk)
        yield chunk


def read_body(max_size: int) -> bytes:
    """Read a bounded body (manifests): at most ``max_size + 1`` bytes are ever held."""
    return b"".join(body_chunks(max_size + 1))


def next_link(path: str, n: int | None, last: str) -> str:
    query = urlencode({"n": n, "last": last} if n is not None else {"last": last})
    return f'<{path}?{query}>; rel="next"'


def upload_location(name: str, upload_id: str) -> str:
    return f"/v2/{name}/blobs/uploads/{upload_id}"
