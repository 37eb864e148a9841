# SPDX-FileCopyrightText: 2026 The hareg authors
# SPDX-License-Identifier: EUPL-1.2
"""A real nginx (Debian's nginx-light) in front of test instances, configured from
conf/nginx.conf itself: only addresses and file paths are replaced, every proxy directive is
the production one."""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import signal
import subprocess
from collections.abc import Sequence
from pathlib import Path

from tests.fixtures.server import free_port, wait_until_answers

CONF = Path(__file__).resolve().parents[2] / "conf" / "nginx.conf"
NGINX = shutil.which("nginx") or "/usr/sbin/nginx"
#: How long nginx skips an instance after a failed connect (the upstream blocks' setting).
FAIL_TIMEOUT = float(re.findall(r"fail_timeout=(\d+)s", CONF.read_text())[0])


def _sub(pattern: str, repl: str, text: str, count: int | None = 1) -> str:
    """re.sub that insists the production file still has the shape this harness expects."""
    new, n = re.subn(pattern, repl, text, flags=re.MULTILINE)
    if (count is not None and n != count) or n == 0:
        raise AssertionError(f"conf/nginx.conf changed shape: {pattern!r} matched {n} times")
    return new


def derive_config(prefix: Path, port: int, upstreams: Sequence[str]) -> str:
    """conf/nginx.conf listening on ``127.0.0.1:port`` and proxying to ``upstreams``."""
    text = CONF.read_text()
    text = _sub(r"^user\s+[^;]+;", "user root;" if os.geteuid() == 0 else "", text)
    text = _sub(r"^pid\s+[^;]+;", f"pid {prefix}/nginx.pid;", text)
    text = _sub(r"^error_log\s+[^;]+;", f"error_log {prefix}/error.log info;", text)
    text = _sub(r"^(\s*)access_log\s+/[^;]+;", rf"\1access_log {prefix}/access.log hareg;", text)
    text = _sub(r"^(\s*)listen\s+127\.0\.0\.1:8080;", rf"\g<1>listen 127.0.0.1:{port};", text)

    def servers(match: re.Match[str]) -> str:
        indent, params = match.group(1), match.group(2)
        return "".join(f"{indent}server {u}{params};\n" for u in upstreams)

    # Each upstream block lists its instances as consecutive "server" lines.
    first = r"^(\s*)server\s+127\.0\.0\.1:5001([^;]*);\n"
    more = r"(?:\s*server\s+127\.0\.0\.1:500\d[^;]*;\n)*"
    text = _sub(first + more, servers, text, count=2)
    temp = "".join(f"    {kind}_temp_path {prefix}/{kind};\n"
                   for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi"))
    return _sub(r"^http\s*\{\n", "http {\n" + temp, text)


class Nginx:
    """nginx as a child process (``daemon off``) with its prefix in a temporary directory."""

    def __init__(self, prefix: Path, upstreams: Sequence[str]) -> None:
        self.prefix = prefix
        self.prefix.mkdir(parents=True, exist_ok=True)
        self.port = free_port()
        self.conf = prefix / "nginx.conf"
        self.conf.write_text(derive_config(prefix, self.port, upstreams))
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def _command(self, *extra: str) -> list[str]:
        return [NGINX, "-p", str(self.prefix), "-c", str(self.conf),
                "-e", str(self.prefix / "error.log"), *extra]

    def check(self) -> None:
        result = subprocess.run(self._command("-t", "-q"), capture_output=True, text=True)
        assert result.returncode == 0, result.stderr

    def start(self) -> None:
        self.check()
        with open(self.prefix / "stderr.log", "ab") as log:
            self.proc = subprocess.Popen(self._command("-g", "daemon off;"),
                                         stdin=subprocess.DEVNULL, stdout=log, stderr=log,
                                         start_new_session=True)
        if not wait_until_answers(f"{self.url}/nginx-health", 20,
                                  lambda: self.proc is not None and self.proc.poll() is None):
            self.stop()
            raise AssertionError(f"nginx did not start:\n{self.log_tail()}")

    def stop(self) -> None:
        proc, self.proc = self.proc, None
        if proc is None or proc.poll() is not None:
            return
        proc.send_signal(signal.SIGQUIT)  # graceful
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=10)

    def log_tail(self, limit: int = 6000) -> str:
        parts = []
        for name in ("error.log", "stderr.log"):
            with contextlib.suppress(OSError):
                parts.append((self.prefix / name).read_text(errors="replace")[-limit:])
        return "\n".join(parts)

    def access_log(self) -> list[str]:
        try:
            return (self.prefix / "access.log").read_text(errors="replace").splitlines()
        except OSError:
            return []
