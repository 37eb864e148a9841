# SPDX-FileCopyrightText: 2026 The hareg authors
# SPDX-License-Identifier: EUPL-1.2
"""The ``[auth]`` config section: a dataclass and the marshmallow schema that builds it.

Scalar keys (and the comma-separated lists ``public_keys`` and ``anonymous_pull``) can be
overridden by ``HAREG_AUTH_<KEY>``; ``rules`` and ``groups`` live in the file only::

    [auth]
    mode = "basic"
    htpasswd = "/etc/hareg/htpasswd"
    anonymous_pull = ["public/**"]
    max_failed_logins = 10          # per (user, address) and window; 0: no limit
    failed_login_window = "1m"

    [auth.groups]
    ci = ["jenkins"]

    [[auth.rules]]
    subjects = ["alice", "group:ci"]
    repositories = ["team/**"]
    actions = ["pull", "push"]

This module imports nothing from hareg.config (which imports it).
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from typing import Any

from marshmallow import Schema, ValidationError, post_load, validate, validates_schema
from marshmallow import fields as mf

from ..durations import parse_duration
from .globs import glob_error

MODES = ("none", "basic", "token")
#: Actions on repositories; ``"*"`` in a rule means all of them.
ACTIONS = ("pull", "push", "delete", "promote")
#: The registry-wide action of the admin API (namespace definitions): never part of ``"*"``,
#: granted only by a rule naming it with ``repositories = ["**"]``.
ADMIN = "admin"
# What every authenticated user may do everywhere when no rule is configured.
DEFAULT_ACTIONS = ("pull", "push", "delete")
ANY_USER = "*"
GROUP_PREFIX = "group:"

USER_NAME_RE = re.compile(r"\A[A-Za-z0-9][A-Za-z0-9._@+-]{0,254}\Z")
GROUP_NAME_RE = re.compile(r"\A[A-Za-z0-9][A-Za-z0-9._-]{0,63}\Z")
_SUBJECT_RE = re.compile(r"\A\S{1,255}\Z")


@dataclass(frozen=True)
class AuthRule:
    subjects: tuple[str, ...]
    repositories: tuple[str, ...]
    actions: tuple[str, ...]


@dataclass(frozen=True)
class AuthConfig:
    mode: str = "none"
    htpasswd: str = ""
    realm: str = ""
    service: str = "hareg"
    issuer: str = "hareg"
    signing_key: str = ""
    public_keys: tuple[str, ...] = ()
    token_lifetime: int = 300
    anonymous_pull: tuple[str, ...] = ()
    rules: tuple[AuthRule, ...] = ()
    groups: tuple[tuple[str, tuple[str, ...]], ...] = ()
    # failed-login throttling, per worker process (hareg/auth/throttle.py); 0: no limit
    max_failed_logins: int = 10
    max_failed_logins_per_address: int = 50
    max_failed_logins_per_user: int = 100
    failed_login_window: str = "1m"
    # bcrypt verifications running at once per worker, and how long a check waits for one
    max_concurrent_password_checks: int = 2
    password_check_wait: str = "2s"

    @property
    def failed_login_window_seconds(self) -> int:
        return parse_duration(self.failed_login_window)

    @property
    def password_check_wait_seconds(self) -> int:
        return parse_duration(self.password_check_wait)

    @property
    def enabled(self) -> bool:
        return self.mode != "none"

    @property
    def issues_tokens(self) -> bool:
        """hareg serves the realm endpoint itself (token mode with a signing key)."""
        return self.mode == "token" and bool(self.signing_key)

    def group_members(self) -> dict[str, tuple[str, ...]]:
        return dict(self.groups)


def _glob(value: str) -> None:
    error = glob_error(value)
    if error:
        raise ValidationError(f"{value!r}: {error}")


def _subject(value: str) -> None:
    if value.startswith(GROUP_PREFIX):
        if not GROUP_NAME_RE.match(value[len(GROUP_PREFIX):]):
            raise ValidationError(f"{value!r}: invalid group name")
    elif not _SUBJECT_RE.match(value):
        raise ValidationError(f"{value!r}: a user name, \"group:NAME\" or \"*\"")


def _user(value: str) -> None:
    if not USER_NAME_RE.match(value):
        raise ValidationError(f"{value!r}: invalid user name")


def _duration(low: int, high: int) -> Any:
    def check(value: str) -> None:
        try:
            seconds = parse_duration(value)
        except ValueError as exc:
            raise ValidationError(str(exc)) from None
        if not low <= seconds <= high:
            raise ValidationError(f"must be between {low} and {high} seconds")
    return check


def _quotable(value: str) -> None:
    if '"' in value or "\\" in value or any(ord(c) < 32 for c in value):
        raise ValidationError("must not contain quotes, backslashes or control characters")


class _RuleSchema(Schema):
    subjects = mf.List(mf.String(validate=_subject), required=True,
                       validate=validate.Length(min=1))
    repositories = mf.List(mf.String(validate=_glob), required=True,
                           validate=validate.Length(min=1))
    actions = mf.List(mf.String(validate=validate.OneOf((*ACTIONS, ADMIN, "*"))), required=True,
                      validate=validate.Length(min=1))

    @validates_schema
    def _admin_everywhere(self, data: dict[str, Any], **_: Any) -> None:
        if ADMIN in data.get("actions", ()) and data.get("repositories") != ["**"]:
            raise ValidationError('"admin" is registry-wide: a rule granting it needs'
                                  ' repositories = ["**"]')

    @post_load
    def make(self, data: dict[str, Any], **_: Any) -> AuthRule:
        actions = tuple(dict.fromkeys(
            a for named in data["actions"] for a in (ACTIONS if named == "*" else (named,))))
        return AuthRule(tuple(data["subjects"]), tuple(data["repositories"]), actions)


class AuthConfigSchema(Schema):
    mode = mf.String(load_default="none", validate=validate.OneOf(MODES))
    htpasswd = mf.String(load_default="")
    realm = mf.String(load_default="", validate=[
        validate.Regexp(r"\A(?:https?://\S+)?\Z", error="expected an http(s):// URL, or empty"),
        _quotable])
    service = mf.String(load_default="hareg",
                        validate=[validate.Length(min=1, max=255), _quotable])
    issuer = mf.String(load_default="hareg", validate=validate.Length(min=1, max=255))
    signing_key = mf.String(load_default="")
    public_keys = mf.List(mf.String(validate=validate.Length(min=1)), load_default=list)
    token_lifetime = mf.Integer(load_default=300, validate=validate.Range(min=10, max=86400))
    anonymous_pull = mf.List(mf.String(validate=_glob), load_default=list)
    rules = mf.List(mf.Nested(_RuleSchema), load_default=list)
    groups = mf.Dict(
        keys=mf.String(validate=validate.Regexp(GROUP_NAME_RE, error="invalid group name")),
        values=mf.List(mf.String(validate=_user)), load_default=dict)
    max_failed_logins = mf.Integer(load_default=10, validate=validate.Range(min=0))
    max_failed_logins_per_address = mf.Integer(load_default=50, validate=validate.Range(min=0))
    max_failed_logins_per_user = mf.Integer(load_default=100, validate=validate.Range(min=0))
    failed_login_window = mf.String(load_default="1m", validate=_duration(1, 86400))
    max_concurrent_password_checks = mf.Integer(load_default=2,
                                                validate=validate.Range(min=1, max=64))
    password_check_wait = mf.String(load_default="2s", validate=_duration(0, 60))

    @validates_schema
    def _consistent(self, data: dict[str, Any], **_: Any) -> None:
        mode = data.get("mode", "none")
        if mode == "basic" and not data.get("htpasswd"):
            raise ValidationError('mode "basic" needs htpasswd = PATH')
        if mode == "token":
            if not data.get("signing_key") and not data.get("public_keys"):
                raise ValidationError('mode "token" needs signing_key (hareg issues tokens)'
                                      " and/or public_keys (tokens of an external issuer)")
            if data.get("signing_key") and not data.get("htpasswd"):
                raise ValidationError("signing_key needs htpasswd = PATH: the token endpoint"
                                      " authenticates users against it")
            if not data.get("signing_key") and not data.get("realm"):
                raise ValidationError("with an external issuer only (no signing_key), realm"
                                      " must name its token endpoint")
        if mode != "none":
            for key in ("signing_key", *(["public_keys"] if data.get("public_keys") else [])):
                paths = data.get(key)
                for path in [paths] if isinstance(paths, str) else paths or []:
                    if path and not os.path.isfile(path):
                        raise ValidationError(f"{key}: no such file: {path}")
        known = set(data.get("groups") or {})
        for rule in data.get("rules") or []:
            for subject in rule.subjects:
                name = subject[len(GROUP_PREFIX):]
                if subject.startswith(GROUP_PREFIX) and name not in known:
                    raise ValidationError(f"rules: unknown group {name!r} (define it in"
                                          " [auth.groups])")

    @post_load
    def make(self, data: dict[str, Any], **_: Any) -> AuthConfig:
        groups = tuple(sorted((k, tuple(v)) for k, v in data.pop("groups").items()))
        for key in ("public_keys", "anonymous_pull", "rules"):
            data[key] = tuple(data[key])
        return AuthConfig(groups=groups, **data)
