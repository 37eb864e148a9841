# SPDX-FileCopyrightText: 2026 The hareg authors
# SPDX-License-Identifier: EUPL-1.2
"""CI step "build": the release artifacts are complete and the wheel runs on its own.

``python -m build`` (sdist and wheel) from a copy of the source tree, ``twine check``,
both archives must hold the SQL migrations; then the wheel alone is installed into a
brand-new venv, ``hareg --version`` must name the version of hareg/__init__.py, and
``hareg serve`` runs from an unrelated directory against a fresh database on the external
PostgreSQL (``--database-url``, default postgresql://postgres@127.0.0.1:5432/postgres),
which is dropped afterwards; where no server answers there, with the wheel's ``embedded``
extra instead. A tiny image is pushed and pulled back, then hareg is stopped with SIGTERM.

Run it with an interpreter that has ``build`` and ``twine`` (the CI venv):
``python .ci/build_check.py``.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tarfile
import tempfile
import time
import uuid
import zipfile
from pathlib import Path

import smoke

MIGRATION_DIR = "hareg/db/migrations/"

_DB_SCRIPT = """
import sys
import psycopg2
conn = psycopg2.connect(sys.argv[1], connect_timeout=10)
conn.autocommit = True
with conn.cursor() as cur:
    cur.execute(sys.argv[2])
conn.close()
"""


def migrations_in_source() -> set[str]:
    return {p.name for p in (smoke.ROOT / MIGRATION_DIR).glob("*.sql")}


def check_archives(dist: Path) -> Path:
    """Both archives hold every migration; returns the wheel."""
    wanted = migrations_in_source()
    if not wanted:
        raise SystemExit(f"no migrations found under {MIGRATION_DIR}")
    sdists = sorted(dist.glob("hareg-*.tar.gz"))
    wheels = sorted(dist.glob("hareg-*.whl"))
    if len(sdists) != 1 or len(wheels) != 1:
        found = sorted(p.name for p in dist.iterdir())
        raise SystemExit(f"expected one sdist and one wheel in {dist}, got {found}")
    with tarfile.open(sdists[0]) as tar:
        in_sdist = {
            Path(n).name for n in tar.getnames() if f"/{MIGRATION_DIR}" in n and n.endswith(".sql")
        }
    with zipfile.ZipFile(wheels[0]) as whl:
        in_wheel = {
            Path(n).name
            for n in whl.namelist()
            if n.startswith(MIGRATION_DIR) and n.endswith(".sql")
        }
    for name, found in ((sdists[0].name, in_sdist), (wheels[0].name, in_wheel)):
        missing = wanted - found
        if missing:
            raise SystemExit(f"{name} lacks migrations: {sorted(missing)}")
        smoke.say(f"{name}: all {len(wanted)} migrations present")
    return wheels[0]


def sql(python: Path, url: str, statement: str) -> None:
    smoke.say(f"SQL: {statement}")
    subprocess.run([str(python), "-c", _DB_SCRIPT, url, statement], check=True, timeout=60)


def reachable(python: Path, url: str) -> bool:
    probe = "import sys, psycopg2; psycopg2.connect(sys.argv[1], connect_timeout=5).close()"
    done = subprocess.run(
        [str(python), "-c", probe, url], capture_output=True, timeout=60, check=False
    )
    return done.returncode == 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--database-url", default="postgresql://postgres@127.0.0.1:5432/postgres",
        help="an existing PostgreSQL where a scratch database may be created",
    )
    args = parser.parse_args()
    started = time.monotonic()
    tmp = Path(tempfile.mkdtemp(prefix="hareg-build-"))
    server: smoke.Server | None = None
    db_name = f"hareg_build_{uuid.uuid4().hex[:12]}"
    db_created = False
    python: Path | None = None
    ok = False
    try:
        src = smoke.copy_tree(tmp / "hareg")
        dist = tmp / "dist"
        smoke.run([sys.executable, "-m", "build", "--outdir", dist, src], quiet=True)
        smoke.run(
            [sys.executable, "-m", "twine", "check", "--strict", *sorted(dist.iterdir())]
        )
        wheel = check_archives(dist)

        bindir = smoke.make_venv(tmp / "venv")
        python = bindir / "python"
        smoke.pip_install(bindir, str(wheel))
        elsewhere = tmp / "elsewhere"  # neither the source tree nor the venv
        elsewhere.mkdir()
        smoke.check_version(bindir, cwd=elsewhere)

        env = smoke.clean_env()
        if reachable(python, args.database_url):
            sql(python, args.database_url, f'CREATE DATABASE "{db_name}"')
            db_created = True
            env["HAREG_DATABASE_URL"] = args.database_url.rsplit("/", 1)[0] + "/" + db_name
        else:
            # A machine without that server: the wheel's embedded extra instead.
            smoke.say(f"no PostgreSQL answers at {args.database_url}: using the embedded one")
            smoke.pip_install(bindir, f"{wheel}[embedded]")
        env["HAREG_STORAGE_ROOT"] = str(tmp / "storage")
        port = smoke.free_port()
        server = smoke.Server(
            [bindir / "hareg", "serve", "--bind", f"127.0.0.1:{port}", "--workers", "1",
             "--data-dir", tmp / "data"],
            cwd=elsewhere,
            env=env,
            log=tmp / "serve.log",
        )
        base = f"http://127.0.0.1:{port}"
        server.wait_ready(base)
        smoke.push_and_pull(base)
        rc = server.stop()
        if rc != 0:
            server.dump_log()
            raise SystemExit(f"hareg serve exited with {rc} after SIGTERM")
        ok = True
    finally:
        if server is not None:
            server.kill()
        if db_created and python is not None:
            sql(python, args.database_url, f'DROP DATABASE IF EXISTS "{db_name}" WITH (FORCE)')
        if ok:
            shutil.rmtree(tmp, ignore_errors=True)
        else:
            print(f"kept {tmp} for inspection", file=sys.stderr)
    smoke.say(f"build: ok in {time.monotonic() - started:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
