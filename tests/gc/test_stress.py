# SPDX-FileCopyrightText: 2026 The hareg authors
# SPDX-License-Identifier: EUPL-1.2
"""Sweeps in a loop (grace period 0) while clients push, retag and delete over HTTP.

Bounded in count and time: the clients push for 8 s in the default run and for 25 s under
``pytest -m faults`` (.ci/run runs both; the same test, only longer). A real ``hareg serve``
(2 gevent workers, which also run the ``[gc] schedule`` sweeper every second: it sweeps when
our loop leaves it a turn) serves the clients; this process sweeps in a loop
against the same database and storage. Clients push images that share layers and check
whether a blob exists before uploading it, which is exactly the window a sweep can hit: their
manifest PUT may then fail with MANIFEST_BLOB_UNKNOWN, and they push the blobs again (what
real clients do). Any other error fails the test. At the end every tag a client still owns
must pull back completely, and no row may point at a missing object.
"""

from __future__ import annotations

import dataclasses
import random
import threading
import time
from collections.abc import Callable
from typing import Any

import pytest
import requests

from hareg.check.objects import find_missing_objects
from hareg.config import GcConfig, RegistryConfig
from hareg.db.pool import Database
from hareg.gc.collect import GcBusy, collect_garbage
from hareg.registry.context import Registry
from hareg.storage import FilesystemDriver, layout
from tests import oci
from tests.fixtures.server import HaregServer

pytestmark = pytest.mark.slow

CLIENTS = 4
#: How long the clients push: short in the default run, the full length with the fault suite.
CLIENT_SECONDS = [pytest.param(8.0, id="short"),
                  pytest.param(25.0, id="full", marks=pytest.mark.faults)]
MAX_OPS_PER_CLIENT = 80
PUSH_ATTEMPTS = 8
REPOS = ("stress/a", "stress/b")
SHARED_LAYERS = [oci.random_blob(random.randint(200, 4000)) for _ in range(6)]


@dataclasses.dataclass
class Stats:
    pushes: int = 0
    retags: int = 0
    deletes: int = 0
    blob_unknown_retries: int = 0
    gave_up: int = 0
    sweeps: int = 0
    busy: int = 0
    deleted: int = 0


class Client:
    """One pushing client; owns the tags ``c<n>-*`` and remembers what they should name."""

    def __init__(self, n: int, server: HaregServer, stats: Stats, lock: threading.Lock) -> None:
        self.n = n
        self.url = server.url
        self.session = oci.new_session()
        self.rng = random.Random(n)
        self.stats = stats
        self.lock = lock
        self.expected: dict[tuple[str, str], oci.Manifest] = {}
        self.pushed: list[tuple[str, oci.Manifest]] = []

    def _blob(self, repo: str, blob: oci.Blob, check_first: bool) -> None:
        if check_first:
            head = self.session.head(f"{self.url}/v2/{repo}/blobs/{blob.digest}")
            if head.status_code == 200:
                return
            assert head.status_code == 404, head.status_code
        oci.push_blob(self.session, self.url, repo, blob.data)

    def push(self, repo: str, manifest: oci.Manifest, tag: str) -> bool:
        """Push blobs and manifest; on MANIFEST_BLOB_UNKNOWN push the blobs again."""
        for attempt in range(PUSH_ATTEMPTS):
            for blob in manifest.blobs:
                self._blob(repo, blob, check_first=attempt == 0)
            resp = self.session.put(f"{self.url}/v2/{repo}/manifests/{tag}", data=manifest.data,
                                    headers={"Content-Type": manifest.media_type})
            if resp.status_code == 201:
                self.expected[(repo, tag)] = manifest
                return True
            assert resp.status_code == 400 and oci.error_codes(resp) == [
                "MANIFEST_BLOB_UNKNOWN"], f"{resp.status_code} {resp.text[:300]}"
            with self.lock:
                self.stats.blob_unknown_retries += 1
        with self.lock:
            self.stats.gave_up += 1
        return False

    def step(self) -> None:
        rng = self.rng
        op = rng.random()
        repo = rng.choice(REPOS)
        tag = f"c{self.n}-{rng.randrange(6)}"
        if op < 0.55 or not self.pushed:
            layers = rng.sample(SHARED_LAYERS, rng.randint(1, 3))
            if rng.random() < 0.3:
                layers.append(oci.random_blob(rng.randint(100, 3000)))
            manifest = oci.image_manifest(oci.config_blob(), layers)
            if self.push(repo, manifest, tag):
                self.pushed.append((repo, manifest))
                with self.lock:
                    self.stats.pushes += 1
        elif op < 0.8:  # retag: an older manifest (maybe untagged, maybe collected) again
            repo, manifest = rng.choice(self.pushed)
            if self.push(repo, manifest, tag):
                with self.lock:
                    self.stats.retags += 1
        else:
            resp = self.session.delete(f"{self.url}/v2/{repo}/manifests/{tag}")
            assert resp.status_code in (202, 404), f"{resp.status_code} {resp.text[:300]}"
            self.expected.pop((repo, tag), None)
            with self.lock:
                self.stats.deletes += 1

    def run(self, deadline: float) -> None:
        for _ in range(MAX_OPS_PER_CLIENT):
            if time.monotonic() > deadline:
                return
            self.step()


def _verify_pull(session: requests.Session, url: str, repo: str, tag: str,
                 manifest: oci.Manifest) -> None:
    resp = session.get(f"{url}/v2/{repo}/manifests/{tag}",
                       headers={"Accept": manifest.media_type})
    assert resp.status_code == 200, f"{repo}:{tag}: {resp.status_code} {resp.text[:200]}"
    assert resp.content == manifest.data, f"{repo}:{tag} names another manifest"
    for blob in manifest.blobs:
        got = session.get(f"{url}/v2/{repo}/blobs/{blob.digest}")
        assert got.status_code == 200, f"{repo}:{tag} blob {blob.digest}: {got.status_code}"
        assert oci.digest_of(got.content) == blob.digest


def _sweep_loop(reg: Registry, stop: threading.Event, stats: Stats, errors: list[BaseException],
                lock: threading.Lock) -> Callable[[], None]:
    gc = GcConfig(grace_period="0", upload_max_age="1h", batch_size=20)

    def loop() -> None:
        try:
            while not stop.is_set():
                try:
                    result = collect_garbage(reg, gc, trigger="stress")
                except GcBusy:
                    with lock:
                        stats.busy += 1
                    time.sleep(0.01)
                    continue
                c = result.summary.counts
                with lock:
                    stats.sweeps += 1
                    stats.deleted += c.manifests + c.blobs + c.links + c.tags
        except BaseException as exc:  # noqa: BLE001 - reported by the test
            errors.append(exc)

    return loop


@pytest.mark.parametrize("client_seconds", CLIENT_SECONDS)
def test_sweeps_in_a_loop_while_clients_push_retag_and_delete(hareg_server: Any,
                                                              client_seconds: float) -> None:
    server: HaregServer = hareg_server("filesystem", start=False)
    # The server's own scheduler sweeps too (every second, grace 0): it races with ours.
    server.env.update({"HAREG_GC_SCHEDULE": "1s", "HAREG_GC_GRACE_PERIOD": "0"})
    server.start()
    reg = Registry(db=Database(server.database_url, size=4),
                   storage=FilesystemDriver(server.storage["root"]),
                   settings=RegistryConfig())
    stats, lock, stop = Stats(), threading.Lock(), threading.Event()
    errors: list[BaseException] = []
    sweeper = threading.Thread(target=_sweep_loop(reg, stop, stats, errors, lock))
    clients = [Client(n, server, stats, lock) for n in range(CLIENTS)]
    started = time.monotonic()
    sweeper.start()
    try:
        threads = [threading.Thread(target=_catching(c.run, errors),
                                    args=(started + client_seconds,)) for c in clients]
        for t in threads:
            t.start()
        for t in threads:
            t.join(client_seconds + 60)
    finally:
        stop.set()
        sweeper.join(60)
    assert not errors, errors[0]

    # One more sweep now that the clients are quiet, then everything must still be whole.
    # The server's scheduler still ticks every second: while it sweeps ours is GcBusy.
    deadline = time.monotonic() + 30
    while True:
        try:
            collect_garbage(reg, GcConfig(grace_period="0", upload_max_age="1h"),
                            trigger="stress")
            break
        except GcBusy:
            assert time.monotonic() < deadline, "the scheduled sweeps held the GC lock for 30 s"
            time.sleep(0.1)
    session = oci.new_session()
    owned = {key: m for c in clients for key, m in c.expected.items()}
    for (repo, tag), manifest in sorted(owned.items()):
        _verify_pull(session, server.url, repo, tag, manifest)
    for repo in REPOS:
        resp = session.get(f"{server.url}/v2/{repo}/tags/list")
        listed = set(resp.json()["tags"] or []) if resp.status_code == 200 else set()
        assert listed == {tag for (r, tag) in owned if r == repo}
    assert find_missing_objects(reg) == []
    for (repo, tag), manifest in owned.items():
        link = layout.parse_link(reg.storage.get_bytes(layout.tag_current_link(repo, tag)))
        assert link == manifest.digest, f"{repo}:{tag}: tag link and row disagree"
    with reg.db.read() as cur:
        cur.execute("SELECT count(*) FROM gc_runs WHERE trigger = 'schedule' AND status = 'ok'")
        scheduled = cur.fetchone()[0]
    reg.db.close()
    print(f"\nstress: {stats} scheduled sweeps={scheduled} tags={len(owned)}"
          f" in {time.monotonic() - started:.1f}s")
    assert stats.sweeps >= 5 and stats.deleted > 0, stats
    assert stats.pushes >= 20, stats


def _catching(fn: Callable[..., None], errors: list[BaseException]) -> Callable[..., None]:
    def run(*args: Any) -> None:
        try:
            fn(*args)
        except BaseException as exc:  # noqa: BLE001 - reported by the test
            errors.append(exc)

    return run
