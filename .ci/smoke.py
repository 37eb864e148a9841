# SPDX-FileCopyrightText: 2026 The hareg authors
# SPDX-License-Identifier: EUPL-1.2
"""Helpers of the install checks in .ci/: fresh venvs, a running ``hareg serve``, and a
push and pull over plain HTTP.

Standard library only: the checks run before anything else is installed, and the HTTP
client must not come from the venv under test.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import IO

ROOT = Path(__file__).resolve().parent.parent
START_TIMEOUT = 90.0  # seconds for /v2/ to answer (embedded PostgreSQL: initdb)
STOP_TIMEOUT = 45.0  # seconds after SIGTERM (graceful_timeout is 30 s)
PIP_TIMEOUT = 600.0


def say(message: str) -> None:
    print(f"-- {message}", flush=True)


def run(
    argv: Sequence[str | Path],
    *,
    cwd: Path | None = None,
    env: Mapping[str, str] | None = None,
    timeout: float = PIP_TIMEOUT,
    quiet: bool = False,
) -> None:
    """Run one command, echoed first; fail on a non-zero exit.

    With ``quiet``, its output is shown only when it fails.
    """
    shown = " ".join(str(a) for a in argv)
    say(f"$ {shown}" + (f"   (in {cwd})" if cwd else ""))
    if not quiet:
        subprocess.run([str(a) for a in argv], cwd=cwd, env=env, timeout=timeout, check=True)
        return
    done = subprocess.run(
        [str(a) for a in argv], cwd=cwd, env=env, timeout=timeout, check=False,
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )
    if done.returncode != 0:
        print(done.stdout[-20000:], file=sys.stderr)
        raise SystemExit(f"{shown}: exit status {done.returncode}")


def clean_env() -> dict[str, str]:
    """The environment without hareg's own variables and without an activated venv."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith("HAREG_") and k not in ("VIRTUAL_ENV", "PYTHONPATH")
    }
    venv = os.environ.get("VIRTUAL_ENV")
    if venv:
        parts = env.get("PATH", "").split(os.pathsep)
        env["PATH"] = os.pathsep.join(p for p in parts if not p.startswith(venv))
    return env


def base_python() -> str:
    """The interpreter that venvs are made from: the one behind an activated venv, if any."""
    return getattr(sys, "_base_executable", None) or sys.executable


def make_venv(path: Path) -> Path:
    """A brand-new venv at PATH; returns its bin directory."""
    run([base_python(), "-m", "venv", path])
    return path / "bin"


def pip_install(bindir: Path, *args: str, cwd: Path | None = None) -> None:
    run(
        [bindir / "python", "-m", "pip", "install", "--quiet", "--disable-pip-version-check",
         *args],
        cwd=cwd,
        env=clean_env(),
    )


def source_version() -> str:
    """``__version__`` as hareg/__init__.py writes it (the one place), read, not imported."""
    text = (ROOT / "hareg" / "__init__.py").read_text()
    match = re.search(r'^__version__ = "([^"]+)"$', text, re.MULTILINE)
    if match is None:
        raise SystemExit("no __version__ = \"...\" line in hareg/__init__.py")
    return match.group(1)


def check_version(bindir: Path, cwd: Path) -> None:
    """``hareg --version`` of the installed package prints ``hareg <source version>``."""
    wanted = f"hareg {source_version()}"
    say(f"$ {bindir / 'hareg'} --version   (in {cwd})")
    done = subprocess.run(
        [str(bindir / "hareg"), "--version"], cwd=cwd, env=clean_env(), capture_output=True,
        text=True, timeout=60, check=False,
    )
    got = done.stdout.strip()
    if done.returncode != 0 or got != wanted:
        print(done.stderr[-5000:], file=sys.stderr)
        raise SystemExit(f"hareg --version: exit {done.returncode}, printed {got!r},"
                         f" expected {wanted!r}")
    say(got)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def copy_tree(dst: Path) -> Path:
    """A copy of the source tree as a fresh clone has it (no venv, builds or caches)."""
    ignore = shutil.ignore_patterns(
        ".git", ".venv", "build", "dist", "*.egg-info", "__pycache__", ".pytest_cache",
        ".ruff_cache", "hareg-data",
    )
    shutil.copytree(ROOT, dst, ignore=ignore)
    return dst


class Server:
    """``hareg serve`` in its own session, its output in a log file."""

    def __init__(
        self, argv: Sequence[str | Path], *, cwd: Path, env: Mapping[str, str], log: Path
    ) -> None:
        self.port = 0
        self.log_path = log
        self._log: IO[bytes] = log.open("wb")
        say("$ " + " ".join(str(a) for a in argv) + f"   (in {cwd})")
        self.proc = subprocess.Popen(
            [str(a) for a in argv],
            cwd=cwd,
            env=dict(env),
            stdin=subprocess.DEVNULL,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    def wait_ready(self, base: str, timeout: float = START_TIMEOUT) -> float:
        """Poll GET /v2/ until it answers 200; returns the seconds it took."""
        start = time.monotonic()
        deadline = start + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                self.dump_log()
                raise SystemExit(f"hareg serve exited with {self.proc.returncode} before /v2/")
            try:
                with urllib.request.urlopen(base + "/v2/", timeout=5) as resp:
                    if resp.status == 200:
                        took = time.monotonic() - start
                        say(f"GET /v2/ -> 200 after {took:.1f} s")
                        return took
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                pass
            time.sleep(0.5)
        self.dump_log()
        raise SystemExit(f"GET {base}/v2/ did not answer 200 within {timeout:.0f} s")

    def stop(self, timeout: float = STOP_TIMEOUT) -> int:
        """SIGTERM to the main process only, as an operator would; it must exit in time."""
        if self.proc.poll() is None:
            say(f"SIGTERM to hareg serve (pid {self.proc.pid})")
            start = time.monotonic()
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired as exc:
                self.kill()
                self.dump_log()
                raise SystemExit(
                    f"hareg serve did not exit within {timeout:.0f} s of SIGTERM"
                ) from exc
            say(f"exited with {self.proc.returncode} after {time.monotonic() - start:.1f} s")
        self._log.close()
        return int(self.proc.returncode)

    def kill(self) -> None:
        """Last resort on failure: SIGKILL the server's whole session."""
        if self.proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(timeout=30)

    def dump_log(self) -> None:
        self._log.flush()
        text = self.log_path.read_text(errors="replace")
        print(f"---- {self.log_path} (last 60 lines) ----", file=sys.stderr)
        print("\n".join(text.splitlines()[-60:]), file=sys.stderr)


def _request(
    method: str, url: str, body: bytes | None = None, headers: Mapping[str, str] | None = None
) -> tuple[int, dict[str, str], bytes]:
    req = urllib.request.Request(url, data=body, method=method, headers=dict(headers or {}))
    try:
        with urllib.request.urlopen(req, timeout=30) as resp:
            return resp.status, dict(resp.headers.items()), resp.read()
    except urllib.error.HTTPError as err:
        return err.code, dict(err.headers.items()), err.read()


def _expect(what: str, status: int, want: int, body: bytes) -> None:
    say(f"{what} -> {status}")
    if status != want:
        raise SystemExit(f"{what}: expected {want}, got {status}: {body[:500]!r}")


def push_blob(base: str, repo: str, data: bytes) -> str:
    """Monolithic upload: POST then PUT ?digest=...; returns the digest."""
    digest = "sha256:" + hashlib.sha256(data).hexdigest()
    status, headers, body = _request("POST", f"{base}/v2/{repo}/blobs/uploads/", b"")
    _expect(f"POST /v2/{repo}/blobs/uploads/", status, 202, body)
    location = urllib.parse.urljoin(base + "/", headers["Location"])
    sep = "&" if "?" in location else "?"
    status, headers, body = _request(
        "PUT",
        f"{location}{sep}digest={digest}",
        data,
        {"Content-Type": "application/octet-stream", "Content-Length": str(len(data))},
    )
    _expect(f"PUT <upload>?digest={digest[:19]}... ({len(data)} bytes)", status, 201, body)
    return digest


def pull(base: str, path: str, accept: str | None = None) -> bytes:
    status, _, body = _request("GET", base + path, headers={"Accept": accept} if accept else {})
    _expect(f"GET {path}", status, 200, body)
    return body


def push_and_pull(base: str, repo: str = "demo/app", tag: str = "v1") -> None:
    """A tiny OCI image (config + one layer + manifest) pushed, then pulled and compared."""
    layer = os.urandom(4096)
    config = json.dumps({"architecture": "amd64", "os": "linux"}).encode()
    layer_digest = push_blob(base, repo, layer)
    config_digest = push_blob(base, repo, config)
    manifest = json.dumps(
        {
            "schemaVersion": 2,
            "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "config": {
                "mediaType": "application/vnd.oci.image.config.v1+json",
                "digest": config_digest,
                "size": len(config),
            },
            "layers": [
                {
                    "mediaType": "application/vnd.oci.image.layer.v1.tar",
                    "digest": layer_digest,
                    "size": len(layer),
                }
            ],
        }
    ).encode()
    media_type = "application/vnd.oci.image.manifest.v1+json"
    status, _, body = _request(
        "PUT", f"{base}/v2/{repo}/manifests/{tag}", manifest, {"Content-Type": media_type}
    )
    _expect(f"PUT /v2/{repo}/manifests/{tag}", status, 201, body)

    if pull(base, f"/v2/{repo}/blobs/{layer_digest}") != layer:
        raise SystemExit("the pulled layer differs from the pushed one")
    if pull(base, f"/v2/{repo}/manifests/{tag}", media_type) != manifest:
        raise SystemExit("the pulled manifest differs from the pushed one")
    tags = json.loads(pull(base, f"/v2/{repo}/tags/list"))
    if tags.get("tags") != [tag]:
        raise SystemExit(f"tags/list: expected [{tag!r}], got {tags!r}")
    say("pulled layer and manifest are byte-identical to what was pushed")
