# SPDX-FileCopyrightText: 2026 The hareg authors
# SPDX-License-Identifier: EUPL-1.2
"""Clients for the fault scenarios: tests.ha.workload's recovering client, remembering every
upload session it opened, and a bounded push/pull load made of them.

Recovery is the workload client's (status and resume, restart, repeat idempotent requests;
at most ``MAX_RECOVERIES`` per operation); a 5xx answer is one failed request to recover
from, as real clients retry on 5xx.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from functools import partial

from tests.ha.workload import Client, Image, MiB, Pushed, Stats, run_operation
from tests.oci import OCTET_STREAM, new_session, resolve


@dataclass(frozen=True)
class OpenedSession:
    """An upload session a client opened (``POST`` answered 202), with the bytes it was for."""

    repo: str
    url: str
    data: bytes


@dataclass
class SessionLog:
    sessions: list[OpenedSession] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def add(self, session: OpenedSession) -> None:
        with self.lock:
            self.sessions.append(session)

    def all(self) -> list[OpenedSession]:
        with self.lock:
            return list(self.sessions)


class TrackingClient(Client):
    """A workload client that records each upload session it opens in a :class:`SessionLog`."""

    def __init__(self, base_url: str, stats: Stats, log: SessionLog) -> None:
        super().__init__(base_url, stats)
        self.log = log
        self._data: bytes | None = None

    def push_blob(self, repo: str, data: bytes, chunk: int | None) -> str:
        self._data = data
        try:
            return super().push_blob(repo, data, chunk)
        finally:
            self._data = None

    def _start(self, repo: str, budget: list[int]) -> str:
        url = super()._start(repo, budget)
        if self._data is not None:
            self.log.add(OpenedSession(repo, url, self._data))
        return url


#: (PATCH size, layer size): small PATCHes kept in the session's tail, then S3 multipart parts.
CHUNK_PLAN = ((1 * MiB, 2 * MiB + 123), (5 * MiB, 6 * MiB + 77))


@dataclass
class Load:
    """``pushers`` threads pushing ``pushes_each`` images (config by POST+PUT, a small layer by
    one POST, a chunked layer), ``pullers`` threads pulling what was pushed (and ``seed``
    images) until the pushers end; every loop bounded in count and in ``max_seconds``."""

    base_url: str
    repo: str
    pushers: int = 2
    pushes_each: int = 3
    pullers: int = 1
    max_seconds: float = 90.0
    seed: list[Image] = field(default_factory=list)
    stats: Stats = field(default_factory=Stats)
    pull_stats: Stats = field(default_factory=Stats)
    pushed: Pushed = field(default_factory=Pushed)
    sessions: SessionLog = field(default_factory=SessionLog)

    def _pusher(self, n: int, deadline: float) -> None:
        client = TrackingClient(self.base_url, self.stats, self.sessions)
        for i in range(self.pushes_each):
            if time.monotonic() > deadline:
                return
            chunk, size = CHUNK_PLAN[i % len(CHUNK_PLAN)]
            image = run_operation(self.stats, "push", partial(
                client.push_image, f"{self.repo}/p{n}", f"t{i}", chunk, size))
            if image is not None:
                self.pushed.add(image)

    def _puller(self, done: threading.Event, deadline: float) -> None:
        client = Client(self.base_url, self.pull_stats)
        for i in range(10_000):
            if done.is_set() or time.monotonic() > deadline:
                return
            candidates = self.seed + list(self.pushed.images)
            if not candidates:
                time.sleep(0.1)
                continue
            run_operation(self.pull_stats, "pull",
                          partial(client.pull, candidates[i % len(candidates)]))

    def run(self) -> None:
        deadline = time.monotonic() + self.max_seconds
        done = threading.Event()
        pushers = [threading.Thread(target=self._pusher, args=(n, deadline), daemon=True)
                   for n in range(self.pushers)]
        pullers = [threading.Thread(target=self._puller, args=(done, deadline), daemon=True)
                   for _ in range(self.pullers)]
        for t in pushers + pullers:
            t.start()
        for t in pushers:
            t.join(timeout=self.max_seconds + 120)
        done.set()
        for t in pullers:
            t.join(timeout=120)
        if any(t.is_alive() for t in pushers + pullers):
            raise AssertionError(f"load threads still running after {self.max_seconds:.0f} s")


def push_images(base_url: str, repo: str, n: int, stats: Stats | None = None,
                log: SessionLog | None = None) -> list[Image]:
    """``n`` images pushed one after the other (no faults expected); raises if one fails."""
    stats = stats or Stats()
    client = TrackingClient(base_url, stats, log or SessionLog())
    images = []
    for i in range(n):
        chunk, size = CHUNK_PLAN[i % len(CHUNK_PLAN)]
        images.append(client.push_image(repo, f"seed{i}", chunk, size))
    return images


def open_upload(base_url: str, repo: str, data: bytes, first: int,
                log: SessionLog) -> tuple[str, int]:
    """POST, then PATCH ``data[:first]``: an upload session left open; (its URL, offset)."""
    http = new_session()
    resp = http.post(f"{base_url}/v2/{repo}/blobs/uploads/", timeout=30)
    assert resp.status_code == 202, (resp.status_code, resp.text)
    url = resolve(base_url, resp.headers["Location"])
    log.add(OpenedSession(repo, url, data))
    if first:
        resp = http.patch(url, data=data[:first], timeout=30, headers={
            "Content-Type": OCTET_STREAM, "Content-Range": f"0-{first - 1}"})
        assert resp.status_code == 202, (resp.status_code, resp.text)
    return url, first
