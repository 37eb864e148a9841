# SPDX-FileCopyrightText: 2026 The hareg authors
# SPDX-License-Identifier: EUPL-1.2
"""end-12a and end-12b: the referrers API."""

from __future__ import annotations

from typing import Any

import pytest
import requests

from tests.fixtures.server import HaregServer
from tests.oci import (
    OCI_INDEX,
    OCI_MANIFEST,
    Manifest,
    artifact_manifest,
    assert_error,
    config_blob,
    fake_digest,
    image_index,
    image_manifest,
    push_image,
    random_blob,
)

SBOM = "application/vnd.example.sbom.v1+json"
SIG = "application/vnd.example.signature.v1"
BUNDLE = "application/vnd.example.bundle.v1"


def _referrers(
    session: requests.Session, registry: HaregServer, repo: str, digest: str, **params: str
) -> requests.Response:
    return session.get(f"{registry.url}/v2/{repo}/referrers/{digest}", params=params)


def _body(resp: requests.Response) -> list[dict[str, Any]]:
    assert resp.status_code == 200, resp.text[:500]
    assert resp.headers["Content-Type"].split(";")[0].strip() == OCI_INDEX
    body = resp.json()
    assert body["schemaVersion"] == 2
    assert body["mediaType"] == OCI_INDEX
    assert isinstance(body["manifests"], list)
    return sorted(body["manifests"], key=lambda d: d["digest"])


def _expected(m: Manifest, artifact_type: str | None) -> dict[str, Any]:
    desc: dict[str, Any] = {"mediaType": m.media_type, "digest": m.digest, "size": m.size}
    if artifact_type is not None:
        desc["artifactType"] = artifact_type
    annotations = m.json.get("annotations")
    if annotations:
        desc["annotations"] = annotations
    return desc


def _check(descs: list[dict[str, Any]], expected: list[dict[str, Any]]) -> None:
    expected = sorted(expected, key=lambda d: d["digest"])
    assert [d["digest"] for d in descs] == [d["digest"] for d in expected]
    for got, want in zip(descs, expected, strict=True):
        for key in ("mediaType", "digest", "size"):
            assert got[key] == want[key], (key, got, want)
        assert got.get("artifactType") == want.get("artifactType"), (got, want)
        assert (got.get("annotations") or None) == want.get("annotations"), (got, want)


@pytest.fixture
def subject() -> Manifest:
    return image_manifest()


def test_no_referrers(
    registry: HaregServer, session: requests.Session, repo: str, subject: Manifest
):
    push_image(session, registry.url, repo, subject, "base")
    _check(_body(_referrers(session, registry, repo, subject.digest)), [])


def test_subject_never_pushed(
    registry: HaregServer, session: requests.Session, repo: str, subject: Manifest
):
    sig = image_manifest(
        config_blob(), [random_blob(30)], subject=subject, artifact_type=SIG
    )
    push_image(session, registry.url, repo, sig)
    _check(_body(_referrers(session, registry, repo, subject.digest)), [_expected(sig, SIG)])


def test_artifact_type_sources(
    registry: HaregServer, session: requests.Session, repo: str, subject: Manifest
):
    push_image(session, registry.url, repo, subject, "base")
    # no artifactType: the config's media type stands in
    sbom = image_manifest(config_blob(SBOM), [random_blob(40)], subject=subject)
    # explicit artifactType wins over the config's media type
    sig = image_manifest(
        config_blob("application/vnd.example.sig.config+json"),
        [random_blob(40)],
        subject=subject,
        artifact_type=SIG,
    )
    # the usual artifact: empty config, explicit artifactType
    art = _empty_config_artifact(subject, BUNDLE)
    for m in (sbom, sig, art):
        push_image(session, registry.url, repo, m)
    _check(
        _body(_referrers(session, registry, repo, subject.digest)),
        [_expected(sbom, SBOM), _expected(sig, SIG), _expected(art, BUNDLE)],
    )


def _empty_config_artifact(
    subject: Manifest, artifact_type: str, annotations: dict[str, str] | None = None
) -> Manifest:
    return artifact_manifest(subject, artifact_type=artifact_type, annotations=annotations)


def test_annotations(
    registry: HaregServer, session: requests.Session, repo: str, subject: Manifest
):
    annotations = {
        "org.opencontainers.image.created": "2026-01-02T03:04:05Z",
        "com.example.key": "value with spaces",
    }
    art = _empty_config_artifact(subject, SIG, annotations)
    push_image(session, registry.url, repo, art)
    descs = _body(_referrers(session, registry, repo, subject.digest))
    _check(descs, [_expected(art, SIG)])
    assert descs[0]["annotations"] == annotations


def test_filter_by_artifact_type(
    registry: HaregServer, session: requests.Session, repo: str, subject: Manifest
):
    sig1 = _empty_config_artifact(subject, SIG)
    sig2 = _empty_config_artifact(subject, SIG, {"n": "2"})
    sbom = _empty_config_artifact(subject, SBOM)
    for m in (sig1, sig2, sbom):
        push_image(session, registry.url, repo, m)

    resp = _referrers(session, registry, repo, subject.digest, artifactType=SIG)
    _check(_body(resp), [_expected(sig1, SIG), _expected(sig2, SIG)])
    assert resp.headers.get("OCI-Filters-Applied") == "artifactType"

    resp = _referrers(session, registry, repo, subject.digest, artifactType=SBOM)
    _check(_body(resp), [_expected(sbom, SBOM)])
    assert resp.headers.get("OCI-Filters-Applied") == "artifactType"

    resp = _referrers(session, registry, repo, subject.digest, artifactType="application/none")
    _check(_body(resp), [])
    assert resp.headers.get("OCI-Filters-Applied") == "artifactType"

    resp = _referrers(session, registry, repo, subject.digest)
    _check(_body(resp), [_expected(m, t) for m, t in ((sig1, SIG), (sig2, SIG), (sbom, SBOM))])


@pytest.mark.parametrize("with_type", [True, False], ids=["artifactType", "no-artifactType"])
def test_index_referrer(
    registry: HaregServer,
    session: requests.Session,
    repo: str,
    subject: Manifest,
    with_type: bool,
):
    child = image_manifest()
    index = image_index(
        [child],
        subject=subject,
        artifact_type=BUNDLE if with_type else None,
        annotations={"kind": "index"},
    )
    push_image(session, registry.url, repo, index)
    descs = _body(_referrers(session, registry, repo, subject.digest))
    _check(descs, [_expected(index, BUNDLE if with_type else None)])
    assert descs[0]["mediaType"] == OCI_INDEX
    if not with_type:
        assert "artifactType" not in descs[0]


def test_only_direct_referrers(
    registry: HaregServer, session: requests.Session, repo: str, subject: Manifest
):
    """A referrer of a referrer is listed under its own subject, not the root."""
    sig = _empty_config_artifact(subject, SIG)
    sig_of_sig = _empty_config_artifact(sig, SIG)
    push_image(session, registry.url, repo, sig)
    push_image(session, registry.url, repo, sig_of_sig)
    _check(_body(_referrers(session, registry, repo, subject.digest)), [_expected(sig, SIG)])
    _check(_body(_referrers(session, registry, repo, sig.digest)), [_expected(sig_of_sig, SIG)])


def test_referrers_are_per_repository(
    registry: HaregServer,
    session: requests.Session,
    repo: str,
    other_repo: str,
    subject: Manifest,
):
    push_image(session, registry.url, repo, _empty_config_artifact(subject, SIG))
    push_image(session, registry.url, other_repo, image_manifest(), "x")
    _check(_body(_referrers(session, registry, other_repo, subject.digest)), [])


def test_deleted_referrer_disappears(
    registry: HaregServer, session: requests.Session, repo: str, subject: Manifest
):
    keep = _empty_config_artifact(subject, SIG)
    gone = _empty_config_artifact(subject, SBOM)
    push_image(session, registry.url, repo, keep)
    push_image(session, registry.url, repo, gone)
    resp = session.delete(f"{registry.url}/v2/{repo}/manifests/{gone.digest}")
    assert resp.status_code == 202
    _check(_body(_referrers(session, registry, repo, subject.digest)), [_expected(keep, SIG)])


def test_non_referrer_not_listed(
    registry: HaregServer, session: requests.Session, repo: str, subject: Manifest
):
    push_image(session, registry.url, repo, subject, "base")
    push_image(session, registry.url, repo, image_manifest(), "other")
    _check(_body(_referrers(session, registry, repo, subject.digest)), [])


def test_unknown_repository(registry: HaregServer, session: requests.Session, repo: str):
    _check(_body(_referrers(session, registry, repo, fake_digest())), [])


def test_sha512_subject(registry: HaregServer, session: requests.Session, repo: str):
    subject = {"mediaType": OCI_MANIFEST, "digest": fake_digest("sha512"), "size": 123}
    art = image_manifest(config_blob(), [random_blob(10)], subject=subject, artifact_type=SIG)
    resp = push_image(session, registry.url, repo, art)
    assert resp.headers.get("OCI-Subject") == subject["digest"]
    _check(_body(_referrers(session, registry, repo, subject["digest"])), [_expected(art, SIG)])


@pytest.mark.parametrize(
    "digest", ["sha256:abc", "notadigest", "sha256:" + "Z" * 64, "md5:" + "0" * 32]
)
def test_malformed_digest(
    registry: HaregServer, session: requests.Session, repo: str, digest: str
):
    assert_error(_referrers(session, registry, repo, digest), 400)
