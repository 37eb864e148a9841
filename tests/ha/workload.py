# SPDX-FileCopyrightText: 2026 The hareg authors
# SPDX-License-Identifier: EUPL-1.2
"""Registry clients that push and pull continuously, and count what happens.

A client *operation* is a whole push (config and layers, then the manifest under a tag) or
a whole pull (manifest by tag, then every blob, each checked against its digest). Within an
operation a client recovers the way the OCI distribution spec lets it, never by blindly
repeating a non-idempotent step:

- a PATCH or PUT of a chunked upload that fails: ``GET`` the upload's status and go on from
  the offset the registry reports (a PATCH whose response was lost is not sent twice);
- a final PUT that fails: the status tells whether it committed (404 + ``HEAD`` of the blob
  answers 200) or must be sent again (PUT is idempotent);
- an upload whose session is gone, a failed ``POST``: check with ``HEAD`` whether the blob
  exists, else start a new upload (a *restart*);
- a PATCH or PUT answered 416 because a request that died with its instance still holds
  the upload's claim (hareg.registry.uploads.CLAIM_LEASE): start a new upload;
- manifest PUTs and every GET are idempotent and are sent again.

Each recovery is counted by kind. An operation fails when its recoveries run out, a pull
returns wrong bytes or anything raises (every exception counts, with its type in the errors:
none may end a client thread unnoticed). Each operation's start and end are kept
(:attr:`Stats.done`), so a scenario can tell which ones were in flight at a given moment.
Loops are bounded in count and time.
"""

from __future__ import annotations

import random
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial
from typing import Any

import requests

from tests.oci import (
    OCI_LAYER,
    OCTET_STREAM,
    Blob,
    Manifest,
    config_blob,
    digest_of,
    image_manifest,
    new_session,
    random_bytes,
    resolve,
    with_query,
)

MiB = 1024 * 1024
TIMEOUT = 60
MAX_RECOVERIES = 8


class OperationFailed(Exception):
    pass


@dataclass(frozen=True)
class Op:
    """One finished operation: its kind, when it started and ended (monotonic), its outcome."""

    kind: str
    started: float
    ended: float
    ok: bool


@dataclass
class Stats:
    ops: Counter[str] = field(default_factory=Counter)
    done: list[Op] = field(default_factory=list)
    failed: Counter[str] = field(default_factory=Counter)
    requests: int = 0
    failed_requests: int = 0
    recoveries: Counter[str] = field(default_factory=Counter)
    errors: list[str] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def add(self, counter: str, key: str, n: int = 1) -> None:
        with self.lock:
            getattr(self, counter)[key] += n

    def finished(self, op: Op) -> None:
        with self.lock:
            self.done.append(op)

    def spanning(self, moment: float) -> list[Op]:
        """Operations that had started and not yet ended at ``moment``."""
        with self.lock:
            return [op for op in self.done if op.started < moment < op.ended]

    def started_after(self, moment: float) -> list[Op]:
        with self.lock:
            return [op for op in self.done if op.started > moment]

    def request(self, ok: bool, what: str = "") -> None:
        with self.lock:
            self.requests += 1
            if not ok:
                self.failed_requests += 1
                if len(self.errors) < 200:
                    self.errors.append(f"{time.strftime('%H:%M:%S')} {what}")

    def summary(self, title: str) -> str:
        with self.lock:
            return (f"{title}: operations attempted {sum(self.ops.values())} "
                    f"({dict(self.ops)}), failed {sum(self.failed.values())} "
                    f"({dict(self.failed)}); HTTP requests {self.requests}, "
                    f"of which failed and recovered {self.failed_requests}; "
                    f"recoveries {dict(self.recoveries)}")


@dataclass(frozen=True)
class Image:
    repo: str
    tag: str
    manifest: Manifest


@dataclass
class Pushed:
    images: list[Image] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def add(self, image: Image) -> None:
        with self.lock:
            self.images.append(image)

    def pick(self) -> Image | None:
        with self.lock:
            return random.choice(self.images) if self.images else None


class Client:
    """One client thread's registry session (through nginx, or straight to instances)."""

    def __init__(self, base_url: str | Callable[[], str], stats: Stats) -> None:
        self._base = base_url
        self.stats = stats
        self.session = new_session()
        self.last_status: int | None = None  # of the latest call(); None: no answer

    @property
    def base(self) -> str:
        return self._base() if callable(self._base) else self._base

    # ------------------------------------------------------------------ transport

    def call(self, method: str, url: str, expect: tuple[int, ...], **kwargs: Any
             ) -> requests.Response | None:
        """One request; None (counted, logged) unless the status is expected."""
        what = f"{method} {url.split('?')[0][-60:]}"
        self.last_status = None
        try:
            resp = self.session.request(method, url, timeout=TIMEOUT, **kwargs)
            self.last_status = resp.status_code
        except requests.RequestException as exc:
            self.stats.request(False, f"{what}: {type(exc).__name__}: {str(exc)[:160]}")
            return None
        if resp.status_code not in expect:
            self.stats.request(False, f"{what}: {resp.status_code} {resp.text[:160]!r}")
            return None
        self.stats.request(True)
        return resp

    def _recover(self, kind: str, budget: list[int]) -> None:
        self.stats.add("recoveries", kind)
        budget[0] -= 1
        if budget[0] < 0:
            raise OperationFailed(f"out of recoveries ({kind})")
        time.sleep(0.1)

    # ---------------------------------------------------------------------- blobs

    def blob_exists(self, repo: str, digest: str) -> bool:
        for _ in range(5):
            resp = self.call("HEAD", f"{self.base}/v2/{repo}/blobs/{digest}", (200, 404))
            if resp is not None:
                return resp.status_code == 200
            time.sleep(0.2)
        raise OperationFailed(f"cannot HEAD {digest}")

    def _start(self, repo: str, budget: list[int]) -> str:
        while True:
            resp = self.call("POST", f"{self.base}/v2/{repo}/blobs/uploads/", (202,))
            if resp is not None:
                return resolve(self.base, resp.headers["Location"])
            self._recover("post", budget)

    def _status(self, url: str) -> int | None:
        """The upload's offset, or None when the session no longer exists."""
        for _ in range(5):
            resp = self.call("GET", url, (204, 404))
            if resp is not None:
                if resp.status_code == 404:
                    return None
                end = int(resp.headers["Range"].split("-")[1])
                return 0 if end == 0 else end + 1
            time.sleep(0.2)
        raise OperationFailed(f"cannot GET the status of {url}")

    def push_blob(self, repo: str, data: bytes, chunk: int | None) -> str:
        """POST, PATCHes of ``chunk`` bytes (None: one PUT with the whole body), PUT."""
        digest = digest_of(data)
        budget = [MAX_RECOVERIES]
        while True:  # one iteration per upload session
            url = self._start(repo, budget)
            offset = 0
            while chunk is not None and offset < len(data):
                part = data[offset : offset + chunk]
                resp = self.call("PATCH", url, (202,), data=part, headers={
                    "Content-Type": OCTET_STREAM,
                    "Content-Range": f"{offset}-{offset + len(part) - 1}"})
                if resp is not None:
                    url, offset = resolve(self.base, resp.headers["Location"]), offset + len(part)
                    continue
                if self.last_status == 416:
                    break  # claimed by a request that died with its instance: start over
                self._recover("patch: status and resume", budget)
                status = self._status(url)
                if status is None:
                    break  # session lost: new upload
                offset = status
            else:
                body = b"" if chunk is not None else data
                while True:
                    resp = self.call("PUT", with_query(url, {"digest": digest}), (201,),
                                     data=body, headers={"Content-Type": OCTET_STREAM})
                    if resp is not None:
                        return digest
                    if self.last_status == 416:
                        break  # claimed by a request that died with its instance: start over
                    self._recover("put: status", budget)
                    status = self._status(url)
                    if status is None:
                        if self.blob_exists(repo, digest):
                            return digest  # the PUT committed; its answer was lost
                        break
                    if status != (0 if chunk is None else len(data)):
                        break  # inconsistent: start over
            self._recover("upload restarted", budget)

    def push_blob_single(self, repo: str, data: bytes) -> str:
        """One POST ?digest= carrying the whole blob."""
        digest = digest_of(data)
        budget = [MAX_RECOVERIES]
        while True:
            resp = self.call("POST", with_query(f"{self.base}/v2/{repo}/blobs/uploads/",
                                                {"digest": digest}), (201,),
                             data=data, headers={"Content-Type": OCTET_STREAM})
            if resp is not None or self.blob_exists(repo, digest):
                return digest
            self._recover("single post restarted", budget)

    # ------------------------------------------------------------------ manifests

    def push_manifest(self, image: Image) -> None:
        budget = [MAX_RECOVERIES]
        m = image.manifest
        while self.call("PUT", f"{self.base}/v2/{image.repo}/manifests/{image.tag}", (201,),
                        data=m.data, headers={"Content-Type": m.media_type}) is None:
            self._recover("manifest put", budget)

    def get(self, url: str, budget: list[int], **kwargs: Any) -> requests.Response:
        while True:
            resp = self.call("GET", url, (200,), **kwargs)
            if resp is not None:
                return resp
            self._recover("get", budget)

    def pull(self, image: Image) -> None:
        budget = [MAX_RECOVERIES]
        resp = self.get(f"{self.base}/v2/{image.repo}/manifests/{image.tag}", budget,
                        headers={"Accept": image.manifest.media_type})
        if resp.content != image.manifest.data:
            raise OperationFailed(f"{image.repo}:{image.tag}: wrong manifest bytes")
        for blob in image.manifest.blobs:
            body = self.get(f"{self.base}/v2/{image.repo}/blobs/{blob.digest}", budget).content
            if digest_of(body) != blob.digest:
                raise OperationFailed(f"{image.repo}: blob {blob.digest} came back wrong")

    # ------------------------------------------------------------------ operations

    def push_image(self, repo: str, tag: str, chunk: int, layer_size: int) -> Image:
        """Config (POST+PUT), a small layer (single POST), a chunked layer, the manifest."""
        config = config_blob()
        small = Blob(random_bytes(64 * 1024), OCI_LAYER)
        big = Blob(random_bytes(layer_size), OCI_LAYER)
        self.push_blob(repo, config.data, None)
        self.push_blob_single(repo, small.data)
        self.push_blob(repo, big.data, chunk)
        image = Image(repo, tag, image_manifest(config, [small, big]))
        self.push_manifest(image)
        return image


def run_operation(stats: Stats, kind: str, func: Callable[[], Any]) -> Any:
    """``func()``, counted; any exception is a failed operation (recorded with its type)."""
    stats.add("ops", kind)
    started = time.monotonic()
    try:
        result = func()
    except Exception as exc:  # noqa: BLE001 - every exception is a failed operation
        stats.finished(Op(kind, started, time.monotonic(), False))
        stats.add("failed", kind)
        stats.request(False, f"OPERATION {kind} FAILED: {type(exc).__name__}: {exc}")
        return None
    stats.finished(Op(kind, started, time.monotonic(), True))
    return result


def _guarded(stats: Stats, name: str, target: Callable[[], None]) -> Callable[[], None]:
    """``target`` for a client thread: should it ever raise, count that as a failure too."""

    def run() -> None:
        try:
            target()
        except BaseException as exc:
            stats.add("failed", f"{name} thread")
            stats.request(False, f"THREAD {name} CRASHED: {type(exc).__name__}: {exc}")
            raise

    return run


@dataclass
class Workload:
    """Pusher and puller threads until :meth:`stop` (or their bounds) end them."""

    base_url: str
    pushers: int = 3
    pullers: int = 2
    max_ops_per_thread: int = 200
    max_seconds: float = 240.0
    stats: Stats = field(default_factory=Stats)
    pushed: Pushed = field(default_factory=Pushed)

    def __post_init__(self) -> None:
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []

    def _pusher(self, n: int) -> None:
        client = Client(self.base_url, self.stats)
        deadline = time.monotonic() + self.max_seconds
        for i in range(self.max_ops_per_thread):
            if self._stop.is_set() or time.monotonic() > deadline:
                return
            # Alternate small PATCHes (kept in the session's tail) and >= 5 MiB ones
            # (S3 multipart parts written by whichever instance gets the PATCH).
            chunk, size = ((1 * MiB, 3 * MiB + 123) if i % 2 == 0
                           else (5 * MiB, 6 * MiB + 77))
            image = run_operation(self.stats, "push", partial(
                client.push_image, f"ha/pusher{n}", f"t{i}", chunk, size))
            if image is not None:
                self.pushed.add(image)

    def _puller(self) -> None:
        client = Client(self.base_url, self.stats)
        deadline = time.monotonic() + self.max_seconds
        for _ in range(self.max_ops_per_thread * 5):
            if self._stop.is_set() or time.monotonic() > deadline:
                return
            image = self.pushed.pick()
            if image is None:
                time.sleep(0.1)
                continue
            run_operation(self.stats, "pull", partial(client.pull, image))

    def start(self) -> None:
        for n in range(self.pushers):
            self._threads.append(threading.Thread(
                target=_guarded(self.stats, f"pusher{n}", partial(self._pusher, n)),
                daemon=True))
        for n in range(self.pullers):
            self._threads.append(threading.Thread(
                target=_guarded(self.stats, f"puller{n}", self._puller), daemon=True))
        for t in self._threads:
            t.start()

    def wait_for(self, pushes: int, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while len(self.pushed.images) < pushes and time.monotonic() < deadline:
            time.sleep(0.1)

    def stop(self) -> None:
        self._stop.set()
        for t in self._threads:
            t.join(timeout=TIMEOUT * 2)

    def verify_all(self, base_url: str) -> Stats:
        """Pull every pushed image again (fresh session) and check every digest."""
        stats = Stats()
        client = Client(base_url, stats)
        for image in list(self.pushed.images):
            run_operation(stats, "final pull", partial(client.pull, image))
        return stats
