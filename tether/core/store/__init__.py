"""tether's store: SQLAlchemy models, tenant-scoped sessions, Alembic migrations."""

from .engine import Store, make_engine
from .models import (
    ApiToken,
    Base,
    Company,
    InboxMessage,
    JobRun,
    Opportunity,
    OutboxEntry,
    PluginInstallation,
    Relationship,
    RelationshipType,
    SyncCursor,
    Tenant,
    TenantScoped,
    User,
)
from .types import Money, UTCDateTime, utcnow

__all__ = [
    "ApiToken", "Base", "Company", "InboxMessage", "JobRun", "Money", "Opportunity", "OutboxEntry",
    "PluginInstallation", "Relationship", "RelationshipType", "Store", "SyncCursor", "Tenant",
    "TenantScoped", "User", "UTCDateTime", "make_engine", "utcnow",
]
