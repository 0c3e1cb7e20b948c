"""Every error tether raises on purpose.

    TetherError                      what, where, and what to do (``.hint``)
    ├── ConfigurationError           settings, environment, database URL
    ├── ManifestError                a plugin or tenant manifest is invalid (``.errors`` by path)
    ├── SecretError                  a ``$env``/``$file`` secret reference cannot be resolved
    ├── PluginError
    │   ├── PluginNotFound           a manifest or command names a plugin that is not installed
    │   ├── PluginLoadError          an entry point failed to import (logged, skipped at start)
    │   └── PluginHookError          a plugin's hook implementation raised (names plugin and hook)
    ├── TenantError
    │   ├── TenantNotFound
    │   └── TenantIsolationError     an object of one tenant reached another tenant's session
    ├── StoreError
    │   ├── StoreUnavailable         the database cannot be reached (webhooks answer 503)
    │   └── MigrationRequired        the schema is older than the code
    ├── DomainError                  a domain rule refused a change (hierarchy cycle, depth …)
    │   ├── NotFound                 a tenant-scoped object does not exist (API answers 404)
    │   └── InvalidFields            several input fields broke domain rules (``.errors`` by field)
    ├── ConnectorError
    │   ├── TransientConnectorError  worth retrying: timeouts, 5xx, UNABLE_TO_LOCK_ROW
    │   ├── PermanentConnectorError  retrying will not help: validation, bad query, auth
    │   └── QuotaExceeded            the API quota guard stopped a run (status "throttled")
    ├── WebhookError                 a webhook request was refused (``.status`` is the HTTP code)
    ├── ScaffoldError                ``tether plugin new`` cannot create the package asked for
    └── JobError                     a job cannot be scheduled, queued or run
        └── UnknownJob               a schedule or command names a job no one provides

Messages are one line a user can act on; ``hint`` says what to do next. Nothing here
ever carries a secret or a Salesforce session id.
"""

from __future__ import annotations

from typing import Any, Mapping


class TetherError(Exception):
    """Base of every deliberate tether error."""

    hint: str | None = None

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        super().__init__(message)
        if hint is not None:
            self.hint = hint

    @property
    def message(self) -> str:
        return str(self.args[0]) if self.args else ""

    def one_line(self) -> str:
        """The message and, when there is one, the hint, for a CLI or a log."""
        return f"{self.message} ({self.hint})" if self.hint else self.message


class ConfigurationError(TetherError):
    pass


class ManifestError(TetherError):
    """A manifest failed validation; ``errors`` maps each path to its messages."""

    def __init__(self, source: str, errors: Mapping[str, list[str]], *, hint: str | None = None) -> None:
        self.source = source
        self.errors = {path: list(msgs) for path, msgs in errors.items()}
        lines = [f"{path}: {msg}" for path, msgs in sorted(self.errors.items()) for msg in msgs]
        count = len(lines)
        summary = f"{source}: {count} error{'s' if count != 1 else ''}: " + "; ".join(lines)
        super().__init__(summary, hint=hint or "fix the listed fields and apply again; nothing was changed")

    def lines(self) -> list[str]:
        return [f"{path}: {msg}" for path, msgs in sorted(self.errors.items()) for msg in msgs]


class SecretError(TetherError):
    pass


class PluginError(TetherError):
    pass


class PluginNotFound(PluginError):
    pass


class PluginLoadError(PluginError):
    pass


class PluginHookError(PluginError):
    """A plugin's hook implementation raised while serving one tenant."""

    def __init__(self, *, plugin: str, hook: str, tenant: str | None, cause: BaseException) -> None:
        self.plugin = plugin
        self.hook = hook
        self.tenant = tenant
        self.cause = cause
        where = f" for tenant {tenant!r}" if tenant else ""
        super().__init__(
            f"plugin {plugin!r} failed in hook {hook}{where}: {type(cause).__name__}: {cause}",
            hint=f"check plugin {plugin!r} (its config or its version); other tenants are unaffected",
        )


class TenantError(TetherError):
    pass


class TenantNotFound(TenantError):
    def __init__(self, tenant_id: str) -> None:
        self.tenant_id = tenant_id
        super().__init__(
            f"unknown tenant {tenant_id!r}",
            hint="list tenants with `tether tenants list` or create one with `tether tenants apply MANIFEST`",
        )


class TenantIsolationError(TenantError):
    pass


class StoreError(TetherError):
    pass


class StoreUnavailable(StoreError):
    pass


class MigrationRequired(StoreError):
    pass


class DomainError(TetherError):
    """A domain rule refused a change; ``field`` names the input at fault when known."""

    def __init__(self, message: str, *, field: str | None = None, hint: str | None = None) -> None:
        self.field = field
        super().__init__(message, hint=hint)


class NotFound(DomainError):
    pass


class InvalidFields(DomainError):
    """Several input fields broke domain rules at once; ``errors`` maps each field to its messages."""

    def __init__(self, message: str, errors: Mapping[str, list[str]], *, hint: str | None = None) -> None:
        self.errors = {path: list(msgs) for path, msgs in errors.items()}
        detail = "; ".join(f"{path}: {', '.join(msgs)}" for path, msgs in sorted(self.errors.items()))
        super().__init__(f"{message}: {detail}" if detail else message, hint=hint)


class ConnectorError(TetherError):
    """An error from an external system, already classified for the sync engine."""

    def __init__(
        self,
        message: str,
        *,
        code: str | None = None,
        status: int | None = None,
        details: Any = None,
        hint: str | None = None,
    ) -> None:
        self.code = code
        self.status = status
        self.details = details
        super().__init__(message, hint=hint)


class TransientConnectorError(ConnectorError):
    pass


class PermanentConnectorError(ConnectorError):
    pass


class QuotaExceeded(ConnectorError):
    pass


class WebhookError(TetherError):
    def __init__(self, message: str, *, status: int, hint: str | None = None) -> None:
        self.status = status
        super().__init__(message, hint=hint)


class ScaffoldError(TetherError):
    """``tether plugin new`` refused: a bad name, a folder in the way, a broken template."""


class JobError(TetherError):
    pass


class UnknownJob(JobError):
    """A schedule or command names a job that neither the core nor the tenant's plugins provide."""

    def __init__(self, tenant_id: str, job: str, known: list[str]) -> None:
        self.tenant_id = tenant_id
        self.job = job
        super().__init__(
            f"tenant {tenant_id!r} has no job named {job!r}",
            hint=f"jobs of this tenant: {', '.join(sorted(known)) or 'none'}",
        )
