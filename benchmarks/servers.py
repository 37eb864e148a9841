# SPDX-FileCopyrightText: 2026 The hareg authors
# SPDX-License-Identifier: EUPL-1.2
"""The processes a benchmark run starts (hareg, distribution, moto), a fresh PostgreSQL
database for hareg, and what /proc tells about their CPU and memory."""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
import uuid
from collections import Counter
from collections.abc import Iterable, Iterator
from contextlib import closing, contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psycopg2

TICKS = os.sysconf("SC_CLK_TCK")
PAGE_KIB = os.sysconf("SC_PAGE_SIZE") // 1024
DISTRIBUTION_BIN = "/usr/bin/docker-registry"
ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_http(url: str, timeout: float, alive: Any = None) -> None:
    """Poll ``url`` until it answers any HTTP status, else raise RuntimeError."""
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if alive is not None and not alive():
            raise RuntimeError(f"process serving {url} exited")
        try:
            with opener.open(url, timeout=2):
                return
        except urllib.error.HTTPError:
            return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError(f"{url} did not answer within {timeout:.0f} s")


# ------------------------------------------------------------------------ /proc


def _stat_fields(pid: int) -> list[str] | None:
    try:
        with open(f"/proc/{pid}/stat") as f:
            data = f.read()
    except OSError:
        return None
    return data[data.rindex(")") + 2 :].split()


def cpu_seconds(pid: int) -> float:
    """User+system CPU seconds of a process (all its threads); 0 when it is gone."""
    fields_ = _stat_fields(pid)
    if fields_ is None:
        return 0.0
    return (int(fields_[11]) + int(fields_[12])) / TICKS


def descendants(pid: int) -> list[int]:
    """``pid`` and every process below it (by parent pid)."""
    parents: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            fields_ = _stat_fields(int(entry))
            if fields_ is not None:
                parents.setdefault(int(fields_[1]), []).append(int(entry))
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        out.append(p)
        todo.extend(parents.get(p, ()))
    return out


def memory_kib(pid: int) -> tuple[int, int]:
    """(VmRSS, VmHWM) in KiB; (0, 0) when the process is gone."""
    rss = hwm = 0
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    rss = int(line.split()[1])
                elif line.startswith("VmHWM:"):
                    hwm = int(line.split()[1])
    except OSError:
        pass
    return rss, hwm


def reset_peak(pid: int) -> bool:
    """Reset the kernel's peak-RSS counter (VmHWM) of a process we own."""
    try:
        with open(f"/proc/{pid}/clear_refs", "w") as f:
            f.write("5")
        return True
    except OSError:
        return False


# -------------------------------------------------------------------- PostgreSQL


class Postgres:
    """Creates and drops the benchmark's databases on an existing server."""

    def __init__(self, admin_url: str) -> None:
        self.admin_url = admin_url
        self.created: list[str] = []

    def _admin(self) -> Any:
        conn = psycopg2.connect(self.admin_url)
        conn.autocommit = True
        return conn

    def fresh_database(self, prefix: str) -> str:
        name = f"{prefix}_{uuid.uuid4().hex[:8]}"
        with closing(self._admin()) as conn, conn.cursor() as cur:
            cur.execute(f'CREATE DATABASE "{name}"')
        self.created.append(name)
        base = self.admin_url.rsplit("/", 1)[0]
        return f"{base}/{name}"

    def backend_pids(self, database_url: str) -> list[int]:
        name = database_url.rsplit("/", 1)[1]
        with closing(self._admin()) as conn, conn.cursor() as cur:
            cur.execute("SELECT pid FROM pg_stat_activity WHERE datname = %s", (name,))
            return [r[0] for r in cur.fetchall()]

    def drop_all(self) -> None:
        for name in self.created:
            try:
                with closing(self._admin()) as conn, conn.cursor() as cur:
                    cur.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            except psycopg2.Error as exc:
                print(f"warning: could not drop database {name}: {exc}", file=sys.stderr)
        self.created.clear()


# -------------------------------------------------------------------------- moto

_MOTO_LINE = re.compile(r'"([A-Z]+) /([^/? ]+)/?([^ ]*) HTTP/1\.[01]" (\d{3})')
_ANSI = re.compile(r"\x1b\[[0-9;]*m")  # werkzeug colours the lines of non-200 answers


def classify_s3_call(method: str, rest: str) -> str:
    """Name the S3 API call of one logged request line."""
    query = rest.partition("?")[2]
    keys = {p.split("=", 1)[0] for p in query.split("&") if p}
    if method == "PUT":
        return "UploadPart" if "partNumber" in keys else "PutObject/CopyObject"
    if method == "POST":
        if "uploads" in keys:
            return "CreateMultipartUpload"
        if "uploadId" in keys:
            return "CompleteMultipartUpload"
        if "delete" in keys:
            return "DeleteObjects"
        return "POST"
    if method == "DELETE":
        return "AbortMultipartUpload" if "uploadId" in keys else "DeleteObject"
    if method == "GET":
        if "list-type" in keys or "prefix" in keys or "delimiter" in keys or not rest:
            return "ListObjects"
        return "GetObject"
    if method == "HEAD":
        return "HeadObject" if rest else "HeadBucket"
    return method


class Moto:
    """One moto server on loopback; its request log counts the S3 calls of each run."""

    def __init__(self, work: Path) -> None:
        self.port = free_port()
        self.log_path = work / "moto.log"
        self.proc: subprocess.Popen[bytes] | None = None
        self.endpoint = f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        exe = Path(sys.executable).parent / "moto_server"
        env = dict(os.environ, PYTHONUNBUFFERED="1")
        with open(self.log_path, "wb") as log:
            self.proc = subprocess.Popen(
                [str(exe), "-H", "127.0.0.1", "-p", str(self.port)],
                stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                env=env, start_new_session=True)
        wait_http(f"{self.endpoint}/moto-api/", 60, lambda: self.proc.poll() is None)

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    def make_bucket(self, name: str) -> None:
        req = urllib.request.Request(f"{self.endpoint}/{name}", method="PUT")
        opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
        with opener.open(req, timeout=30):
            pass

    def log_offset(self) -> int:
        return self.log_path.stat().st_size

    def calls_since(self, offset: int) -> dict[str, Counter[str]]:
        """S3 calls logged after ``offset``, per bucket, by API call name."""
        time.sleep(0.05)  # let the last request lines reach the file
        with open(self.log_path, "rb") as f:
            f.seek(offset)
            text = _ANSI.sub("", f.read().decode("utf-8", "replace"))
        out: dict[str, Counter[str]] = {}
        for m in _MOTO_LINE.finditer(text):
            method, bucket, rest, _status = m.groups()
            out.setdefault(bucket, Counter())[classify_s3_call(method, rest)] += 1
        return out

    def stop(self) -> None:
        stop_process(self.proc)
        self.proc = None


def stop_process(proc: subprocess.Popen[bytes] | None, timeout: float = 20) -> None:
    """SIGTERM a process we started (in its own session), then SIGKILL its group."""
    if proc is None:
        return
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        with suppress(subprocess.TimeoutExpired):
            proc.wait(timeout=timeout)
    with suppress(ProcessLookupError, PermissionError):
        os.killpg(proc.pid, signal.SIGKILL)  # the group is ours: start_new_session=True
    if proc.poll() is None:
        proc.wait(timeout=10)


# ----------------------------------------------------------------------- servers


@dataclass
class StorageSpec:
    """What both registries are given: a directory each, or buckets on one moto server."""

    kind: str  # "filesystem" or "s3"
    root: Path | None = None
    moto: Moto | None = None


def _toml(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    return json.dumps(str(value))


class Server:
    """A registry under test: started once, measured per scenario run."""

    name = "server"

    def __init__(self, work: Path) -> None:
        self.work = work
        self.work.mkdir(parents=True, exist_ok=True)
        self.port = free_port()
        self.proc: subprocess.Popen[bytes] | None = None
        self.log_path = work / f"{self.name}.log"
        self.bucket: str | None = None

    @property
    def host(self) -> str:
        return "127.0.0.1"

    def command(self) -> list[str]:
        raise NotImplementedError

    def env(self) -> dict[str, str]:
        return dict(os.environ)

    def start(self) -> None:
        with open(self.log_path, "ab") as log:
            self.proc = subprocess.Popen(
                self.command(), stdout=log, stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL, env=self.env(), cwd=self.work,
                start_new_session=True)
        wait_http(f"http://{self.host}:{self.port}/v2/", 90, lambda: self.proc.poll() is None)

    def stop(self) -> None:
        stop_process(self.proc)
        self.proc = None

    def restart(self) -> None:
        """Fresh processes on the same port and storage (for memory measurements)."""
        self.stop()
        self.start()

    def pids(self) -> list[int]:
        """The server's own processes (master and workers), not its database."""
        assert self.proc is not None
        return descendants(self.proc.pid)

    def db_pids(self) -> list[int]:
        return []

    def log_tail(self, limit: int = 3000) -> str:
        try:
            return self.log_path.read_bytes()[-limit:].decode("utf-8", "replace")
        except OSError:
            return ""


class Hareg(Server):
    name = "hareg"

    def __init__(self, work: Path, storage: StorageSpec, pg: Postgres, workers: int,
                 redirect: bool = False) -> None:
        """``redirect``: ``[storage] redirect = true`` (s3 only), in a bucket of its own."""
        super().__init__(work)
        self.pg = pg
        self.workers = workers
        self.database_url = pg.fresh_database("hareg_bench")
        self.config_path = work / "hareg.toml"
        store: dict[str, Any]
        if storage.kind == "filesystem":
            assert storage.root is not None
            store = {"driver": "filesystem", "root": str(storage.root / "hareg")}
        else:
            assert storage.moto is not None
            self.bucket = "hareg-bench-redirect" if redirect else "hareg-bench"
            storage.moto.make_bucket(self.bucket)
            store = {"driver": "s3", "bucket": self.bucket, "endpoint_url": storage.moto.endpoint,
                     "region": "us-east-1", "access_key_id": "testing",
                     "secret_access_key": "testing", "path_style": True}
            if redirect:
                store["redirect"] = True
        sections = {
            "server": {"bind": f"127.0.0.1:{self.port}", "workers": workers,
                       "data_dir": str(work / "data")},
            "database": {"url": self.database_url},
            "storage": store,
            "registry": {"delete_enabled": True},
            "log": {"level": "warning"},
        }
        lines = []
        for section, keys in sections.items():
            lines.append(f"[{section}]")
            lines += [f"{k} = {_toml(v)}" for k, v in keys.items()]
        self.config_path.write_text("\n".join(lines) + "\n")

    def command(self) -> list[str]:
        return [sys.executable, "-m", "hareg_cli", "serve", "--config", str(self.config_path),
                "--workers", str(self.workers)]

    def env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("HAREG_")}
        env["PYTHONPATH"] = str(ROOT)
        return env

    def db_pids(self) -> list[int]:
        return self.pg.backend_pids(self.database_url)


class Distribution(Server):
    name = "distribution"

    def __init__(self, work: Path, storage: StorageSpec, redirect: bool = False) -> None:
        """``redirect``: its S3 driver's default (blob GETs redirected to presigned URLs),
        in a bucket of its own; without, bytes go through the registry as with hareg."""
        super().__init__(work)
        self.config_path = work / "config.yml"
        if storage.kind == "filesystem":
            assert storage.root is not None
            #: Its storage directory (filesystem only): benchmarks.scale_rows writes tags there.
            self.root: str | None = str(storage.root / "distribution")
            driver = {"filesystem": {"rootdirectory": self.root}}
        else:
            assert storage.moto is not None
            self.root = None
            self.bucket = "distribution-bench-redirect" if redirect else "distribution-bench"
            storage.moto.make_bucket(self.bucket)
            driver = {"s3": {
                "region": "us-east-1", "regionendpoint": storage.moto.endpoint,
                "forcepathstyle": True, "secure": False, "v4auth": True,
                "bucket": self.bucket, "accesskey": "testing", "secretkey": "testing",
            }}
        config = {
            "version": 0.1,
            "log": {"level": "error", "accesslog": {"disabled": True}},
            "storage": {
                **driver,
                "delete": {"enabled": True},
                "cache": {"blobdescriptor": "inmemory"},
                "maintenance": {"uploadpurging": {"enabled": False}},
                # Bytes go through the registry, as with hareg (S3 would otherwise redirect).
                "redirect": {"disable": not redirect},
            },
            "http": {"addr": f"127.0.0.1:{self.port}"},
        }
        # JSON is YAML: no YAML library needed.
        self.config_path.write_text(json.dumps(config, indent=1) + "\n")

    def command(self) -> list[str]:
        return [DISTRIBUTION_BIN, "serve", str(self.config_path)]

    def env(self) -> dict[str, str]:
        env = dict(os.environ)
        env.pop("AWS_CA_BUNDLE", None)  # its S3 driver panics on this machine's bundle
        return env


# --------------------------------------------------------------------- metering


@dataclass
class Usage:
    """What one scenario run cost a server (and its database / S3 server)."""

    cpu: float = 0.0  # seconds, master + workers
    peak_rss_mib: float = 0.0  # sum over processes of their peak RSS during the run
    growth_mib: float = 0.0  # the largest single-process rise of peak RSS over its start RSS
    db_cpu: float = 0.0  # PostgreSQL backends of hareg's database
    s3_cpu: float = 0.0  # moto (shared: only meaningful because runs never overlap)
    s3_calls: dict[str, int] = field(default_factory=dict)


class Meter:
    """Brackets a scenario run: CPU deltas, peak RSS (via clear_refs), S3 calls."""

    def __init__(self, server: Server, moto: Moto | None) -> None:
        self.server = server
        self.moto = moto

    def __enter__(self) -> Meter:
        self.pids = self.server.pids()
        self.rss0 = {}
        for pid in self.pids:
            reset_peak(pid)
            self.rss0[pid] = memory_kib(pid)[0]
        self.cpu0 = {pid: cpu_seconds(pid) for pid in self.pids}
        self.db0 = {pid: cpu_seconds(pid) for pid in self.server.db_pids()}
        self.moto0 = cpu_seconds(self.moto.pid) if self.moto else 0.0
        self.moto_offset = self.moto.log_offset() if self.moto else 0
        self.usage = Usage()
        return self

    def __exit__(self, *exc: object) -> None:
        u = self.usage
        for pid in self.server.pids():
            u.cpu += cpu_seconds(pid) - self.cpu0.get(pid, 0.0)
            hwm = memory_kib(pid)[1]
            u.peak_rss_mib += hwm / 1024
            if pid in self.rss0:
                u.growth_mib = max(u.growth_mib, (hwm - self.rss0[pid]) / 1024)
        for pid in self.server.db_pids():
            u.db_cpu += cpu_seconds(pid) - self.db0.get(pid, 0.0)
        if self.moto is not None:
            u.s3_cpu = cpu_seconds(self.moto.pid) - self.moto0
            calls = self.moto.calls_since(self.moto_offset).get(self.server.bucket or "", {})
            u.s3_calls = dict(calls)


def total_calls(usages: Iterable[Usage]) -> int:
    return sum(sum(u.s3_calls.values()) for u in usages)


# ------------------------------------------------- scratch resources for one-shot scripts


@contextmanager
def scratch_database(admin_url: str, prefix: str = "hareg_bench") -> Iterator[str]:
    """A fresh, migrated database on an existing server, dropped afterwards."""
    from hareg.db.migrate import apply_migrations

    pg = Postgres(admin_url)
    try:
        url = pg.fresh_database(prefix)
        apply_migrations(url)
        yield url
    finally:
        pg.drop_all()


@contextmanager
def moto_driver(bucket: str = "bench", part_size: int = 5 * 1024 * 1024) -> Iterator[Any]:
    """An S3 driver on a moto server of its own (started and stopped here)."""
    from hareg.storage import S3Driver

    with tempfile.TemporaryDirectory(prefix="hareg-bench-moto-") as work:
        moto = Moto(Path(work))
        moto.start()
        try:
            moto.make_bucket(bucket)
            yield S3Driver(bucket, endpoint_url=moto.endpoint, region="us-east-1",
                           access_key_id="testing", secret_access_key="testing",
                           path_style=True, part_size=part_size)
        finally:
            moto.stop()
