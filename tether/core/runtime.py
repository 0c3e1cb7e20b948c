"""The process's wiring: settings, the plugin host and the store, built on first use."""

from __future__ import annotations

import functools
import logging
import time
from typing import Callable

from .plugins import PluginHost, TenantContext
from .settings import Settings
from .store import Store

log = logging.getLogger(__name__)


class Runtime:
    """Everything a command, the web app or a worker needs, with no global state."""

    def __init__(self, settings: Settings | None = None, *, host: PluginHost | None = None,
                 store: Store | None = None) -> None:
        self.settings = settings or Settings.from_env()
        self._host = host
        self._store = store
        # Called as listener(tenant, connector, notification_ids) after new inbox rows commit,
        # e.g. by the job engine to enqueue their processing.
        self._contexts: dict[str, tuple[float, TenantContext]] = {}
        self.inbox_listeners: list[Callable[[TenantContext, str, list[str]], None]] = []

    @functools.cached_property
    def host(self) -> PluginHost:
        return self._host or PluginHost.from_entry_points()

    @functools.cached_property
    def store(self) -> Store:
        if self._store is not None:
            return self._store
        return Store(self.settings.database_url, migration_locations=self.host.migration_locations())

    def context(self, tenant_id: str) -> TenantContext:
        """The tenant's context, cached for ``settings.context_ttl_seconds``.

        Manifests applied by another process (the CLI) reach a running server within
        that time; a hot webhook path does not reload plugins and configs per request.
        """
        from .tenants import load_context

        ttl = self.settings.context_ttl_seconds
        if ttl <= 0:
            return load_context(self.store, self.host, tenant_id)
        now = time.monotonic()
        cached = self._contexts.get(tenant_id)
        if cached is not None and now - cached[0] < ttl:
            return cached[1]
        context = load_context(self.store, self.host, tenant_id)
        self._contexts[tenant_id] = (now, context)
        return context

    def forget_context(self, tenant_id: str | None = None) -> None:
        if tenant_id is None:
            self._contexts.clear()
        else:
            self._contexts.pop(tenant_id, None)

    def notify_inbox(self, tenant: TenantContext, connector: str, notification_ids: list[str]) -> None:
        for listener in self.inbox_listeners:
            try:
                listener(tenant, connector, notification_ids)
            except Exception:  # the message is stored; a listener failing must not un-ACK it
                log.exception("inbox listener failed for tenant %s; the inbox drain will pick the rows up", tenant.id)

    def close(self) -> None:
        if "store" in self.__dict__:
            self.store.dispose()
