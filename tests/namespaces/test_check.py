# SPDX-FileCopyrightText: 2026 The hareg authors
# SPDX-License-Identifier: EUPL-1.2
"""``hareg check`` reports a namespace definition that differs between bucket and database."""

from __future__ import annotations

from hareg.check.objects import check_storage, summarize, to_json
from hareg.db import namespaces as table
from hareg.registry import namespace_store as store
from hareg.registry.context import Registry
from hareg.registry.namespace_store import definition_bytes
from hareg.registry.namespaces import Remote, Virtual
from hareg.storage import layout


def test_differences_are_problems(reg: Registry) -> None:
    store.add(reg, Remote(name="hub", url="https://registry-1.docker.io", password="s"))
    store.add(reg, Virtual("docker", ("hub",)))
    assert check_storage(reg).ok
    with reg.db.transaction() as cur:
        table.save_definition(cur, "hub", "remote",
                              Remote(name="hub", url="https://other.example").to_dict())
    reg.storage.delete(layout.namespace_definition("docker"))
    reg.storage.put_bytes(layout.namespace_definition("quay"),
                          definition_bytes(Remote(name="quay", url="https://quay.io")))
    report = check_storage(reg)
    assert not report.ok
    found = to_json(report)
    assert found["namespace_differences"] == [
        {"namespace": "docker", "problem": "missing_object"},
        {"namespace": "hub", "problem": "different"},
        {"namespace": "quay", "problem": "missing_row"}]
    lines = list(summarize(report))
    assert lines[-1] == ("problems: 3 namespace definitions differ between the bucket and the"
                         " database")
    assert "s" not in [line.strip() for line in lines]
