"""The plugin's per-tenant settings, typed, from its (validated) manifest config."""

from __future__ import annotations

import dataclasses
from typing import Any, Mapping

from tether.core.errors import ConfigurationError

MIN_API_VERSION = 59.0
DEFAULT_API_VERSION = "59.0"


@dataclasses.dataclass(frozen=True)
class SalesforceSettings:
    instance_url: str
    login_url: str = "https://login.salesforce.com"
    auth: str = "password"
    username: str | None = None
    password: str | None = None
    security_token: str | None = None
    consumer_key: str | None = None
    consumer_secret: str | None = None
    private_key: str | None = None
    refresh_token: str | None = None
    session_id: str | None = None
    organization_id: str | None = None
    api_version: str = DEFAULT_API_VERSION
    ca_bundle: str | None = None
    http_timeout_seconds: float = 60.0
    bulk_threshold: int = 2000
    write_bulk_threshold: int = 10_000
    pk_chunk_size: int = 100_000
    bulk_poll_seconds: float = 2.0
    bulk_timeout_seconds: float = 3600.0
    lookback_seconds: int = 300
    quota_share_per_run: float = 0.25
    quota_share_total: float = 0.80
    booking_type_rules: tuple[Mapping[str, Any], ...] | None = None
    relationship_type: str | None = None
    relationship_name_field: str | None = None
    check_mappings_on_apply: bool = True

    @classmethod
    def from_config(cls, config: Mapping[str, Any], *, where: str = "salesforce config") -> "SalesforceSettings":
        known = {f.name for f in dataclasses.fields(cls)}
        values = {k: v for k, v in config.items() if k in known and v is not None}
        if "booking_type_rules" in values:
            values["booking_type_rules"] = tuple(values["booking_type_rules"])
        settings = cls(**values)
        problems = settings.problems() + settings.auth_problems()
        if problems:
            raise ConfigurationError(f"{where}: " + "; ".join(problems),
                                     hint="fix the salesforce plugin config in the tenant manifest")
        return settings

    def problems(self) -> list[str]:
        """Config errors as ``"key: what is wrong"``."""
        problems = []
        try:
            if float(self.api_version) < MIN_API_VERSION:
                problems.append(f"api_version: {self.api_version} is retired or near retirement; use {DEFAULT_API_VERSION} or later")
        except ValueError:
            problems.append(f"api_version: {self.api_version!r} is not a version such as 59.0")
        for key in ("quota_share_per_run", "quota_share_total"):
            share = getattr(self, key)
            if not 0 < share <= 1:
                problems.append(f"{key}: {share} is not a share between 0 and 1 (e.g. 0.25)")
        if self.bulk_threshold < 0:
            problems.append("bulk_threshold: must be 0 or more")
        if self.write_bulk_threshold < 0:
            problems.append("write_bulk_threshold: must be 0 or more")
        if not 1 <= self.pk_chunk_size <= 250_000:
            problems.append("pk_chunk_size: Salesforce accepts 1 to 250000")
        if self.lookback_seconds < 0:
            problems.append("lookback_seconds: must be 0 or more")
        if bool(self.relationship_type) != bool(self.relationship_name_field):
            problems.append("relationship_name_field: give both relationship_type and relationship_name_field, or neither")
        return problems

    def auth_problems(self) -> list[str]:
        """Credentials the chosen auth needs but the config lacks (needed to connect, not to
        configure: a tenant may take Outbound Messages before it has API credentials)."""
        needed = {"password": ("username", "password"), "jwt": ("username", "consumer_key", "private_key"),
                  "refresh_token": ("consumer_key", "refresh_token"), "session": ("session_id",)}
        return [f"{key}: required when auth is {self.auth!r}" for key in needed.get(self.auth, ())
                if not getattr(self, key)]
