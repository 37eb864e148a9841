# SPDX-FileCopyrightText: 2026 The hareg authors
# SPDX-License-Identifier: EUPL-1.2
"""The in-server schedule: a tick sweeps only when due and when it wins the lock."""

from __future__ import annotations

import dataclasses
import threading

import psycopg2

from hareg.config import Config, GcConfig
from hareg.db import locks
from hareg.gc.schedule import run_once, start_scheduler
from tests.gc.conftest import Env


def _config(schedule: str) -> Config:
    return dataclasses.replace(Config(), gc=GcConfig(schedule=schedule, grace_period="0"))


def _runs(env: Env) -> int:
    return env.query("SELECT count(*) FROM gc_runs WHERE trigger = 'schedule'")[0][0]


def test_no_schedule_starts_nothing(env: Env) -> None:
    assert start_scheduler(env.reg, _config("")) is None


def test_a_tick_sweeps_once_per_interval(env: Env) -> None:
    env.push_blob("sched/app", b"garbage")
    assert run_once(env.reg, _config("1h"), 3600)
    assert _runs(env) == 1
    assert not env.query("SELECT 1 FROM blobs")
    assert not run_once(env.reg, _config("1h"), 3600)  # the last sweep is too recent
    assert _runs(env) == 1


def test_a_tick_that_loses_the_lock_does_nothing(env: Env) -> None:
    other = psycopg2.connect(env.url)
    other.autocommit = True
    try:
        with other.cursor() as cur:
            assert locks.try_session_lock(cur, locks.GC, locks.GC_NAME)
        assert not run_once(env.reg, _config("1s"), 1)
    finally:
        other.close()
    assert _runs(env) == 0


def test_the_background_loop_ticks(env: Env) -> None:
    ticks = threading.Event()
    slept: list[float] = []

    def sleep(seconds: float) -> None:
        slept.append(seconds)
        if len(slept) >= 3:
            ticks.set()
            threading.Event().wait()  # park the daemon thread for the rest of the session

    start_scheduler(env.reg, _config("10s"), sleep=sleep)
    assert ticks.wait(20)
    assert 1 <= slept[0] <= 10 and 5 <= slept[1] <= 7.5  # jittered first wait, then ~0.5-0.75
    assert _runs(env) >= 1
