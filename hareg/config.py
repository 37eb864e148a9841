# SPDX-FileCopyrightText: 2026 The hareg authors
# SPDX-License-Identifier: EUPL-1.2
"""Configuration: one TOML file, validated with marshmallow, every key overridable by environment.

The file is optional: with no file and no environment, hareg serves on 127.0.0.1:5000 from
``./hareg-data`` with an embedded PostgreSQL and the filesystem driver. An environment variable
``HAREG_<SECTION>_<KEY>`` overrides the key ``<key>`` of ``[<section>]``.
"""

from __future__ import annotations

import difflib
import ipaddress
import os
import re
import tomllib
from collections.abc import Callable, Iterable, Mapping
from dataclasses import MISSING, Field, dataclass, field, fields
from pathlib import Path
from typing import Any

from marshmallow import Schema, ValidationError, post_load, validate
from marshmallow import fields as mf

from .auth.globs import glob_error
from .auth.settings import AuthConfig, AuthConfigSchema
from .durations import parse_duration

ENV_PREFIX = "HAREG_"


class ConfigError(Exception):
    """A configuration problem, phrased as one line naming the key."""


@dataclass(frozen=True)
class ServerConfig:
    bind: str = "127.0.0.1:5000"
    workers: int = 0
    data_dir: str = "./hareg-data"
    graceful_timeout: int = 30
    trusted_proxies: tuple[str, ...] = ()
    drain_seconds: int = 0
    upload_idle_timeout: int = 60


@dataclass(frozen=True)
class DatabaseConfig:
    """``[database]``; durations as in hareg.durations, "0" turns a timeout off."""

    url: str = ""
    pool_size: int = 20
    pool_timeout: str = "30s"        # wait for a free pooled connection, then 503
    connect_timeout: str = "5s"      # open a connection (libpq connect_timeout)
    statement_timeout: str = "10s"   # one statement of a request (server side + 2 s client)
    keepalive_idle: str = "30s"      # TCP keepalives: first probe after this much silence
    keepalive_interval: str = "10s"  # then one probe every interval
    keepalive_count: int = 3         # this many unanswered probes: the peer is dead
    session_url: str = ""  # direct to PostgreSQL for session locks (sweep, rebuild); "" = url

    def seconds(self, key: str) -> int:
        return parse_duration(getattr(self, key))


@dataclass(frozen=True)
class StorageConfig:
    driver: str = "filesystem"
    root: str = ""
    bucket: str = ""
    prefix: str = ""
    endpoint_url: str = ""
    region: str = "us-east-1"
    access_key_id: str = ""
    secret_access_key: str = field(default="", repr=False)
    path_style: bool = False
    part_size: int = 8 * 1024 * 1024
    #: Answer blob GETs with a 307 to a presigned URL of the object (s3 only).
    redirect: bool = False
    redirect_expiry: str = "20m"

    def redirect_seconds(self) -> int:
        """How long a redirect URL stays valid; 0 when blob GETs are not redirected."""
        return parse_duration(self.redirect_expiry) if self.redirect else 0


@dataclass(frozen=True)
class RegistryConfig:
    delete_enabled: bool = True
    sparse_indexes: bool = False
    read_only: bool = False
    max_manifest_size: int = 4 * 1024 * 1024


@dataclass(frozen=True)
class LogConfig:
    level: str = "info"
    format: str = "text"
    requests: bool = True  # one line per request (logger hareg.request)


@dataclass(frozen=True)
class GcConfig:
    """``[gc]``: garbage collection (docs/gc.rst). Durations as in hareg.durations."""

    grace_period: str = "1h"
    upload_max_age: str = "24h"
    schedule: str = ""
    delete_untagged: bool = True
    keep_referrers: bool = True
    batch_size: int = 1000

    @property
    def grace_seconds(self) -> int:
        return parse_duration(self.grace_period)

    @property
    def upload_max_age_seconds(self) -> int:
        return parse_duration(self.upload_max_age)

    @property
    def schedule_seconds(self) -> int:
        """0 when no in-process schedule is configured."""
        return parse_duration(self.schedule) if self.schedule.strip() else 0


@dataclass(frozen=True)
class RetentionRule:
    """One ``[[retention]]`` entry; the first entry whose glob matches a repository applies.

    ``repository`` is a glob as in ``[[auth.rules]]``: ``*`` within one path component,
    ``**`` across ``/``."""

    repository: str
    keep_last: int | None = None
    keep_tags: str = ""
    expire_after: str = ""
    not_pulled_for: str = ""
    protect: str = ""
    immutable_tags: str = ""


@dataclass(frozen=True)
class MetricsConfig:
    bind: str = ""


@dataclass(frozen=True)
class UiConfig:
    """``[ui]``: the web interface under ``/ui/`` (docs/web-interface.rst).

    ``secret`` signs the session cookie and must be the same on every instance behind the
    load balancer; empty derives one from secrets every instance already shares (see
    hareg.ui.secret)."""

    enabled: bool = True
    secret: str = field(default="", repr=False)
    session_lifetime: str = "12h"
    page_size: int = 50

    @property
    def session_lifetime_seconds(self) -> int:
        return parse_duration(self.session_lifetime)


@dataclass(frozen=True)
class Config:
    server: ServerConfig = field(default_factory=ServerConfig)
    database: DatabaseConfig = field(default_factory=DatabaseConfig)
    storage: StorageConfig = field(default_factory=StorageConfig)
    registry: RegistryConfig = field(default_factory=RegistryConfig)
    log: LogConfig = field(default_factory=LogConfig)
    gc: GcConfig = field(default_factory=GcConfig)
    retention: tuple[RetentionRule, ...] = ()
    metrics: MetricsConfig = field(default_factory=MetricsConfig)
    auth: AuthConfig = field(default_factory=AuthConfig)
    ui: UiConfig = field(default_factory=UiConfig)

    @property
    def data_dir(self) -> Path:
        return Path(self.server.data_dir).expanduser().resolve()

    @property
    def storage_root(self) -> Path:
        """The filesystem driver's root: ``[storage] root`` or ``<data_dir>/storage``."""
        if self.storage.root:
            return Path(self.storage.root).expanduser().resolve()
        return self.data_dir / "storage"

    @property
    def uses_embedded_database(self) -> bool:
        return not self.database.url


Check = Callable[[Any], Any]


def _schema_field(f: Field[Any], check: Check | None) -> mf.Field:
    """The marshmallow field for one dataclass attribute; its default is the dataclass's.

    ``check`` validates the value (each item of a list); integers without one must be >= 0.
    """
    kwargs: dict[str, Any] = {}
    if f.default is MISSING:
        kwargs["required"] = True
    else:
        kwargs["load_default"] = list(f.default) if isinstance(f.default, tuple) else f.default
    kind = f.type if isinstance(f.type, str) else getattr(f.type, "__name__", str(f.type))
    if kind == "bool":
        return mf.Boolean(**kwargs)
    if kind in ("int", "int | None"):
        return mf.Integer(allow_none=kind != "int", validate=check or validate.Range(min=0),
                          **kwargs)
    if kind == "str":
        return mf.String(validate=check, **kwargs)
    if kind == "tuple[str, ...]":
        return mf.List(mf.String(validate=check), **kwargs)
    raise TypeError(f"{f.name}: no schema field for type {kind}")


def _section_schema(dc: type, **checks: Check) -> type[Schema]:
    """Build a marshmallow schema from a dataclass: one field per attribute, with the
    attribute's default (so every default is stated once, in the dataclass)."""
    attrs: dict[str, Any] = {f.name: _schema_field(f, checks.get(f.name)) for f in fields(dc)}
    unused = set(checks) - set(attrs)
    if unused:
        raise TypeError(f"{dc.__name__} has no attribute {sorted(unused)[0]}")

    def make(self: Schema, data: dict[str, Any], **_: Any) -> Any:
        data = {k: tuple(v) if isinstance(v, list) else v for k, v in data.items()}
        return dc(**data)

    attrs["make"] = post_load(make)
    return Schema.from_dict(attrs, name=f"{dc.__name__}Schema")


def _valid_duration(value: str) -> None:
    try:
        parse_duration(value)
    except ValueError as exc:
        raise ValidationError(str(exc)) from None


def _valid_optional_duration(value: str) -> None:
    """A duration, or empty for "not set" (expire_after, not_pulled_for) / "off" (schedule)."""
    if value.strip():
        _valid_duration(value)
        if parse_duration(value) <= 0:
            raise ValidationError("must be a positive duration, or empty")


def _valid_positive_duration(value: str) -> None:
    _valid_duration(value)
    if parse_duration(value) <= 0:
        raise ValidationError("must be a positive duration")


#: SigV4 presigned URLs are valid for at most 7 days.
_MAX_REDIRECT_EXPIRY = 7 * 86400


def _valid_redirect_expiry(value: str) -> None:
    _valid_duration(value)
    if not 0 < parse_duration(value) <= _MAX_REDIRECT_EXPIRY:
        raise ValidationError("must be a positive duration of at most 7d")


def _valid_regex(value: str) -> None:
    try:
        re.compile(value)
    except re.error as exc:
        raise ValidationError(f"invalid regular expression: {exc}") from None


def _valid_glob(value: str) -> None:
    error = glob_error(value)
    if error:
        raise ValidationError(error)


RetentionRuleSchema = _section_schema(
    RetentionRule, repository=_valid_glob, keep_tags=_valid_regex,
    expire_after=_valid_optional_duration, not_pulled_for=_valid_optional_duration,
    protect=_valid_regex, immutable_tags=_valid_regex)


def _ip_network(value: str) -> None:
    """An IP address or CIDR network (trusted_proxies)."""
    try:
        ipaddress.ip_network(value.strip(), strict=False)
    except ValueError:
        raise ValidationError(f"not an IP address or CIDR network: {value!r}") from None


_HOST_PORT = r"(\[[0-9a-fA-F:.]+\]|[^:\s]+):\d{1,5}"

_SECTIONS: dict[str, tuple[type, type[Schema]]] = {
    "server": (ServerConfig, _section_schema(
        ServerConfig,
        bind=validate.Regexp(rf"\A(?:{_HOST_PORT}|unix:.+)\Z",
                             error="expected HOST:PORT or unix:PATH"),
        graceful_timeout=validate.Range(min=1),
        trusted_proxies=_ip_network,
        upload_idle_timeout=validate.Range(min=0),
    )),
    "database": (DatabaseConfig, _section_schema(
        DatabaseConfig,
        url=validate.Regexp(r"\A(?:\Z|postgres(?:ql)?://)",
                            error="expected a postgresql:// URL, or empty"),
        session_url=validate.Regexp(r"\A(?:\Z|postgres(?:ql)?://)",
                                    error="expected a postgresql:// URL, or empty"),
        pool_size=validate.Range(min=1, max=1000),
        pool_timeout=_valid_duration,
        connect_timeout=_valid_duration,
        statement_timeout=_valid_duration,
        keepalive_idle=_valid_duration,
        keepalive_interval=_valid_duration,
        keepalive_count=validate.Range(min=1, max=100),
    )),
    "storage": (StorageConfig, _section_schema(
        StorageConfig,
        driver=validate.OneOf(["filesystem", "s3"]),
        part_size=validate.Range(min=5 * 1024 * 1024, max=5 * 1024 * 1024 * 1024,
                                 error="must be between 5 MiB and 5 GiB"),
        redirect_expiry=_valid_redirect_expiry,
    )),
    "registry": (RegistryConfig, _section_schema(
        RegistryConfig,
        max_manifest_size=validate.Range(min=1024),
    )),
    "log": (LogConfig, _section_schema(
        LogConfig,
        level=validate.OneOf(["debug", "info", "warning", "error"]),
        format=validate.OneOf(["text", "json"]),
    )),
    "gc": (GcConfig, _section_schema(
        GcConfig,
        grace_period=_valid_duration,
        upload_max_age=_valid_duration,
        schedule=_valid_optional_duration,
        batch_size=validate.Range(min=1, max=1000),
    )),
    "metrics": (MetricsConfig, _section_schema(
        MetricsConfig,
        bind=validate.Regexp(rf"\A(?:{_HOST_PORT})?\Z", error="expected HOST:PORT, or empty"),
    )),
    "auth": (AuthConfig, AuthConfigSchema),
    "ui": (UiConfig, _section_schema(
        UiConfig,
        secret=validate.Regexp(r"\A(?:|.{32,})\Z", flags=re.DOTALL,
                               error="must be empty (derived) or at least 32 characters"),
        session_lifetime=_valid_positive_duration,
        page_size=validate.Range(min=10, max=500),
    )),
}


#: ``HAREG_*`` variables hareg reads that are not config keys (tests/conftest.py reads
#: HAREG_TEST_DATABASE_URL); add a new one here or it is reported as unknown.
OTHER_VARIABLES = frozenset({"HAREG_CONFIG", "HAREG_TEST_DATABASE_URL", "HAREG_TEST_PGBOUNCER"})


def _env_name(section: str, key: str) -> str:
    return f"{ENV_PREFIX}{section.upper()}_{key.upper()}"


def _env_overrides(env: Mapping[str, str]) -> dict[str, dict[str, Any]]:
    """Collect ``HAREG_<SECTION>_<KEY>`` variables for known sections and keys."""
    out: dict[str, dict[str, Any]] = {}
    for section, (dc, _) in _SECTIONS.items():
        for f in fields(dc):
            name = _env_name(section, f.name)
            if name in env:
                value: Any = env[name]
                if isinstance(getattr(dc(), f.name), tuple):
                    value = [v.strip() for v in value.split(",") if v.strip()]
                out.setdefault(section, {})[f.name] = value
    return out


def _did_you_mean(name: str, known: Iterable[str]) -> str:
    """`` (did you mean X?)`` for the nearest known name, or nothing when none is near."""
    close = difflib.get_close_matches(name, list(known), n=1)
    return f" (did you mean {close[0]}?)" if close else ""


def unknown_environment(env: Mapping[str, str] | None = None) -> list[str]:
    """One line per ``HAREG_*`` variable that hareg does not read (a misspelling, mostly).

    Reported as warnings, not errors: the environment is shared with other programs and
    outlives a release (an env file written for a newer hareg must not stop an older one
    during a rollback), whereas the config file is hareg's alone and is checked strictly.
    """
    env = os.environ if env is None else env
    known = {_env_name(section, f.name) for section, (dc, _) in _SECTIONS.items()
             for f in fields(dc)} | OTHER_VARIABLES
    stems = {name[len(ENV_PREFIX):]: name for name in known}  # compare what follows HAREG_
    lines = []
    for name in sorted(env):
        if name.startswith(ENV_PREFIX) and name not in known:
            close = difflib.get_close_matches(name[len(ENV_PREFIX):], list(stems), n=1)
            hint = f" (did you mean {stems[close[0]]}?)" if close else ""
            lines.append(f"unknown environment variable {name}{hint}")
    return lines


def _check_keys(values: Mapping[str, Any], schema: type[Schema], label: str) -> None:
    """An unknown key is an error naming it and, if one is near, the key meant."""
    known = schema().fields
    for key in values:
        if key not in known:
            raise ConfigError(f"{label}.{key}: unknown key{_did_you_mean(key, known)}")


def _problem(message: str) -> str:
    """marshmallow's "Not a valid integer." in hareg's style: "not a valid integer"."""
    if message == "Unknown field.":
        return "unknown key"
    if message[:1].isupper() and message[1:2].islower():
        message = message[0].lower() + message[1:]
    return message[:-1] if message.endswith(".") else message


def _first_error(messages: Any, prefix: str) -> str:
    """Flatten marshmallow's nested error dict to one ``section.key: problem`` line."""
    if isinstance(messages, dict):
        key, value = next(iter(messages.items()))
        label = f"{prefix}.{key}" if prefix else str(key)
        if key == "_schema":
            label = prefix
        return _first_error(value, label)
    if isinstance(messages, list) and messages:
        first = messages[0]
        if isinstance(first, str):
            return f"{prefix}: {_problem(first)}"
        return _first_error(first, prefix)
    return f"{prefix}: {messages}"


def load_config(
    path: str | os.PathLike[str] | None = None,
    env: Mapping[str, str] | None = None,
    overrides: Mapping[str, Mapping[str, Any]] | None = None,
) -> Config:
    """Load the config file (if any), apply environment and explicit overrides, validate.

    Precedence, lowest first: defaults, the TOML file, ``HAREG_*`` environment, ``overrides``
    (used by CLI options such as ``--bind``). Raises ConfigError with a one-line message.
    """
    env = os.environ if env is None else env
    if path is None and env.get("HAREG_CONFIG"):
        path = env["HAREG_CONFIG"]
    raw: dict[str, Any] = {}
    if path is not None:
        try:
            with open(path, "rb") as fh:
                raw = tomllib.load(fh)
        except FileNotFoundError:
            raise ConfigError(f"{path}: no such config file") from None
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"{path}: invalid TOML: {exc}") from None
    retention = raw.pop("retention", [])
    if not isinstance(retention, list):
        raise ConfigError("retention: expected [[retention]] tables")
    for layer in (_env_overrides(env), overrides or {}):
        for section, values in layer.items():
            raw.setdefault(section, {})
            if not isinstance(raw[section], dict):
                raise ConfigError(f"{section}: expected a table")
            raw[section].update(values)
    unknown = sorted(set(raw) - set(_SECTIONS))
    if unknown:
        hint = _did_you_mean(unknown[0], _SECTIONS) or f" (known: {', '.join(_SECTIONS)})"
        raise ConfigError(f"{unknown[0]}: unknown section{hint}")
    loaded: dict[str, Any] = {}
    for section, (_, schema) in _SECTIONS.items():
        values = raw.get(section, {})
        if not isinstance(values, dict):
            raise ConfigError(f"{section}: expected a table")
        _check_keys(values, schema, section)
        try:
            loaded[section] = schema().load(values)
        except ValidationError as exc:
            raise ConfigError(_first_error(exc.messages, section)) from None
    for index, rule in enumerate(retention):
        if not isinstance(rule, dict):
            raise ConfigError(f"retention.{index}: expected a [[retention]] table")
        _check_keys(rule, RetentionRuleSchema, f"retention.{index}")
    try:
        rules = RetentionRuleSchema(many=True).load(retention)
    except ValidationError as exc:
        raise ConfigError(_first_error(exc.messages, "retention")) from None
    config = Config(**loaded, retention=tuple(rules))
    if config.storage.driver == "s3" and not config.storage.bucket:
        raise ConfigError("storage.bucket: required when storage.driver is \"s3\"")
    if config.storage.redirect and config.storage.driver != "s3":
        # Refused rather than ignored: an operator who asks for redirects expects the bytes
        # to leave through the bucket, not through the registry.
        raise ConfigError("storage.redirect: only the \"s3\" driver can redirect blob"
                          " downloads")
    return config
