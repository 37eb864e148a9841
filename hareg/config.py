# SPDX-FileCopyrightText: 2026 The hareg authors
# SPDX-License-Identifier: EUPL-1.2
"""Configuration: one TOML file, validated with marshmallow, every key overridable by environment.

The file is optional: with no file and no environment, hareg serves on 127.0.0.1:5000 from
``./hareg-data`` with an embedded PostgreSQL and the filesystem driver. An environment variable
``HAREG_<SECTION>_<KEY>`` overrides the key ``<key>`` of ``[<section>]``.
"""

from __future__ import annotations

import ipaddress
import os
import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
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


@dataclass(frozen=True)
class DatabaseConfig:
    url: str = ""
    pool_size: int = 20


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
    protect: str = ""
    immutable_tags: str = ""


@dataclass(frozen=True)
class MetricsConfig:
    bind: str = ""


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


def _section_schema(dc: type, **extra: mf.Field) -> type[Schema]:
    """Build a marshmallow schema from a section dataclass: one field per attribute."""
    defaults = dc()
    attrs: dict[str, Any] = {}
    for f in fields(dc):
        default = getattr(defaults, f.name)
        if f.name in extra:
            attrs[f.name] = extra[f.name]
        elif isinstance(default, bool):
            attrs[f.name] = mf.Boolean(load_default=default)
        elif isinstance(default, int):
            attrs[f.name] = mf.Integer(load_default=default, validate=validate.Range(min=0))
        elif isinstance(default, tuple):
            attrs[f.name] = mf.List(mf.String(), load_default=list(default))
        else:
            attrs[f.name] = mf.String(load_default=default)

    def make(self: Schema, data: dict[str, Any], **_: Any) -> Any:
        data = {k: tuple(v) if isinstance(v, list) else v for k, v in data.items()}
        return dc(**data)

    attrs["make"] = post_load(make)
    return Schema.from_dict(attrs, name=f"{dc.__name__}Schema")  # type: ignore[return-value]


def _valid_duration(value: str) -> None:
    try:
        parse_duration(value)
    except ValueError as exc:
        raise ValidationError(str(exc)) from None


def _valid_optional_duration(value: str) -> None:
    """A duration, or empty for "not set" (expire_after) / "off" (schedule)."""
    if value.strip():
        _valid_duration(value)
        if parse_duration(value) <= 0:
            raise ValidationError("must be a positive duration, or empty")


def _valid_regex(value: str) -> None:
    try:
        re.compile(value)
    except re.error as exc:
        raise ValidationError(f"invalid regular expression: {exc}") from None


def _valid_glob(value: str) -> None:
    error = glob_error(value)
    if error:
        raise ValidationError(error)


class RetentionRuleSchema(Schema):
    repository = mf.String(required=True, validate=_valid_glob)
    keep_last = mf.Integer(load_default=None, allow_none=True, validate=validate.Range(min=0))
    keep_tags = mf.String(load_default="", validate=_valid_regex)
    expire_after = mf.String(load_default="", validate=_valid_optional_duration)
    protect = mf.String(load_default="", validate=_valid_regex)
    immutable_tags = mf.String(load_default="", validate=_valid_regex)

    @post_load
    def make(self, data: dict[str, Any], **_: Any) -> RetentionRule:
        return RetentionRule(**data)


def _ip_network(value: str) -> None:
    """An IP address or CIDR network (trusted_proxies)."""
    try:
        ipaddress.ip_network(value.strip(), strict=False)
    except ValueError:
        raise ValidationError(f"not an IP address or CIDR network: {value!r}") from None


_HOST_PORT = r"(\[[0-9a-fA-F:.]+\]|[^:\s]+):\d{1,5}"

_SECTIONS: dict[str, tuple[type, type[Schema]]] = {
    "server": (
        ServerConfig,
        _section_schema(
            ServerConfig,
            bind=mf.String(
                load_default="127.0.0.1:5000",
                validate=validate.Regexp(rf"\A(?:{_HOST_PORT}|unix:.+)\Z",
                                         error="expected HOST:PORT or unix:PATH"),
            ),
            graceful_timeout=mf.Integer(load_default=30, validate=validate.Range(min=1)),
            trusted_proxies=mf.List(mf.String(validate=_ip_network), load_default=[]),
        ),
    ),
    "database": (
        DatabaseConfig,
        _section_schema(
            DatabaseConfig,
            url=mf.String(
                load_default="",
                validate=validate.Regexp(r"\A(?:postgres(?:ql)?://|\Z)",
                                         error="expected a postgresql:// URL, or empty"),
            ),
            pool_size=mf.Integer(load_default=20, validate=validate.Range(min=1, max=1000)),
        ),
    ),
    "storage": (
        StorageConfig,
        _section_schema(
            StorageConfig,
            driver=mf.String(load_default="filesystem",
                             validate=validate.OneOf(["filesystem", "s3"])),
            part_size=mf.Integer(load_default=8 * 1024 * 1024,
                                 validate=validate.Range(min=5 * 1024 * 1024,
                                                         max=5 * 1024 * 1024 * 1024,
                                                         error="must be between 5 MiB and 5 GiB")),
        ),
    ),
    "registry": (
        RegistryConfig,
        _section_schema(
            RegistryConfig,
            max_manifest_size=mf.Integer(load_default=4 * 1024 * 1024,
                                         validate=validate.Range(min=1024)),
        ),
    ),
    "log": (
        LogConfig,
        _section_schema(
            LogConfig,
            level=mf.String(load_default="info",
                            validate=validate.OneOf(["debug", "info", "warning", "error"])),
            format=mf.String(load_default="text", validate=validate.OneOf(["text", "json"])),
        ),
    ),
    "gc": (
        GcConfig,
        _section_schema(
            GcConfig,
            grace_period=mf.String(load_default="1h", validate=_valid_duration),
            upload_max_age=mf.String(load_default="24h", validate=_valid_duration),
            schedule=mf.String(load_default="", validate=_valid_optional_duration),
            batch_size=mf.Integer(load_default=1000, validate=validate.Range(min=1, max=1000)),
        ),
    ),
    "metrics": (
        MetricsConfig,
        _section_schema(
            MetricsConfig,
            bind=mf.String(load_default="",
                           validate=validate.Regexp(rf"\A(?:{_HOST_PORT})?\Z",
                                                    error="expected HOST:PORT, or empty")),
        ),
    ),
    "auth": (AuthConfig, AuthConfigSchema),
}


def _env_overrides(env: Mapping[str, str]) -> dict[str, dict[str, Any]]:
    """Collect ``HAREG_<SECTION>_<KEY>`` variables for known sections and keys."""
    out: dict[str, dict[str, Any]] = {}
    for section, (dc, _) in _SECTIONS.items():
        for f in fields(dc):
            name = f"{ENV_PREFIX}{section.upper()}_{f.name.upper()}"
            if name in env:
                value: Any = env[name]
                if isinstance(getattr(dc(), f.name), tuple):
                    value = [v.strip() for v in value.split(",") if v.strip()]
                out.setdefault(section, {})[f.name] = value
    return out


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
            return f"{prefix}: {first}"
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
            raise ConfigError(f"config file not found: {path}") from None
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
        raise ConfigError(f"{unknown[0]}: unknown section (known: {', '.join(_SECTIONS)})")
    loaded: dict[str, Any] = {}
    for section, (_, schema) in _SECTIONS.items():
        values = raw.get(section, {})
        if not isinstance(values, dict):
            raise ConfigError(f"{section}: expected a table")
        try:
            loaded[section] = schema().load(values)
        except ValidationError as exc:
            raise ConfigError(_first_error(exc.messages, section)) from None
    try:
        rules = RetentionRuleSchema(many=True).load(retention)
    except ValidationError as exc:
        raise ConfigError(_first_error(exc.messages, "retention")) from None
    config = Config(**loaded, retention=tuple(rules))
    if config.storage.driver == "s3" and not config.storage.bucket:
        raise ConfigError("storage.bucket: required when storage.driver is \"s3\"")
    return config
