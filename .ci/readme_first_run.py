# SPDX-FileCopyrightText: 2026 The hareg authors
# SPDX-License-Identifier: EUPL-1.2
"""CI step "README first run": the README's Run command on a fresh machine.

In a temporary directory: a copy of the source tree and a brand-new venv, then exactly
``pip install '.[embedded]'`` (no test extras), ``hareg --version``, and ``hareg serve`` with
no database URL, so hareg starts its embedded PostgreSQL. Waits for ``GET /v2/``, pushes a
tiny image, pulls it back and compares the bytes, then sends SIGTERM and checks that hareg
exits in time, stopping its embedded PostgreSQL.

Standard library only: ``python3 .ci/readme_first_run.py``.
"""

from __future__ import annotations

import shutil
import sys
import tempfile
import time
from pathlib import Path

import smoke


def main() -> int:
    started = time.monotonic()
    tmp = Path(tempfile.mkdtemp(prefix="hareg-first-run-"))
    server: smoke.Server | None = None
    ok = False
    try:
        src = smoke.copy_tree(tmp / "hareg")
        bindir = smoke.make_venv(tmp / "venv")
        smoke.pip_install(bindir, ".[embedded]", cwd=src)
        smoke.check_version(bindir, cwd=tmp)

        data_dir = tmp / "data"
        port = smoke.free_port()
        server = smoke.Server(
            [bindir / "hareg", "serve", "--bind", f"127.0.0.1:{port}", "--data-dir", data_dir],
            cwd=tmp,
            env=smoke.clean_env(),
            log=tmp / "serve.log",
        )
        base = f"http://127.0.0.1:{port}"
        server.wait_ready(base)
        smoke.push_and_pull(base)
        rc = server.stop()
        if rc != 0:
            server.dump_log()
            raise SystemExit(f"hareg serve exited with {rc} after SIGTERM")
        pid_file = data_dir / "postgres" / "postmaster.pid"
        if pid_file.exists():
            raise SystemExit(f"the embedded PostgreSQL is still running ({pid_file} exists)")
        smoke.say("embedded PostgreSQL stopped (no postmaster.pid left)")
        ok = True
    finally:
        if server is not None:
            server.kill()
        if ok:
            shutil.rmtree(tmp, ignore_errors=True)
        else:
            print(f"kept {tmp} for inspection", file=sys.stderr)
    smoke.say(f"README first run: ok in {time.monotonic() - started:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
