"""Tenant isolation for ORM sessions.

A tenant session filters every ORM SELECT, UPDATE and DELETE on tenant-owned tables by
its tenant, stamps new rows with it, and refuses to flush a row of another tenant. Code
that needs raw Core statements must pass ``tenant_id`` itself (the repositories do).
"""

from __future__ import annotations

from sqlalchemy import event
from sqlalchemy.orm import ORMExecuteState, Session, with_loader_criteria

from ..errors import TenantIsolationError
from .models import TenantScoped

TENANT_KEY = "tenant_id"


def tenant_of(session: Session) -> str | None:
    return session.info.get(TENANT_KEY)


def install_tenant_scoping(session_factory) -> None:
    """Attach the isolation listeners to a ``sessionmaker``."""

    @event.listens_for(session_factory, "do_orm_execute")
    def _scope_statement(state: ORMExecuteState) -> None:
        tenant_id = state.session.info.get(TENANT_KEY)
        if tenant_id is None:
            return
        if state.is_select or state.is_update or state.is_delete:
            state.statement = state.statement.options(
                with_loader_criteria(TenantScoped, lambda cls: cls.tenant_id == tenant_id, include_aliases=True)
            )

    @event.listens_for(session_factory, "before_flush")
    def _stamp_and_guard(session: Session, flush_context, instances) -> None:
        tenant_id = session.info.get(TENANT_KEY)
        if tenant_id is None:
            return
        for obj in session.new:
            if isinstance(obj, TenantScoped):
                if obj.tenant_id is None:
                    obj.tenant_id = tenant_id
                elif obj.tenant_id != tenant_id:
                    raise TenantIsolationError(
                        f"a {type(obj).__name__} of tenant {obj.tenant_id!r} was added to a session of tenant {tenant_id!r}"
                    )
        for obj in list(session.dirty) + list(session.deleted):
            if isinstance(obj, TenantScoped) and obj.tenant_id != tenant_id:
                raise TenantIsolationError(
                    f"a {type(obj).__name__} of tenant {obj.tenant_id!r} was changed in a session of tenant {tenant_id!r}"
                )
