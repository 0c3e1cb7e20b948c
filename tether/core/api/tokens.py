"""API tokens: random, shown once, stored as SHA-256, scoped to one user of one tenant."""

from __future__ import annotations

import dataclasses
import hashlib
import secrets

from sqlalchemy import select

from ..errors import NotFound
from ..store import ApiToken, Store, User, utcnow

TOKEN_PREFIX = "tth_"
ROLES = ("admin", "user", "viewer_analytics")


@dataclasses.dataclass(frozen=True)
class Principal:
    tenant_id: str
    user_id: int
    username: str
    role: str
    token_id: int


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def issue_token(store: Store, tenant_id: str, username: str, *, name: str | None = None) -> str:
    """Create a token for a user of a tenant and return it (the only time it is visible)."""
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    with store.tenant_transaction(tenant_id) as session:
        user = session.scalar(select(User).where(User.username == username))
        if user is None or user.disabled:
            raise NotFound(f"no active user {username!r} in tenant {tenant_id!r}",
                           hint="add the user to the tenant manifest (users:) and apply it")
        session.add(ApiToken(user_id=user.id, name=name, token_hash=hash_token(token), prefix=token[:12]))
    return token


def authenticate(store: Store, token: str) -> Principal | None:
    """The principal a token stands for, or None when it is unknown, revoked or its user disabled."""
    if not token.startswith(TOKEN_PREFIX):
        return None
    digest = hash_token(token)
    with store.admin_session() as session, session.begin():
        row = session.execute(
            select(ApiToken, User).join(User, User.id == ApiToken.user_id).where(ApiToken.token_hash == digest)
        ).first()
        if row is None:
            return None
        api_token, user = row
        if api_token.revoked_at is not None or user.disabled or api_token.tenant_id != user.tenant_id:
            return None
        now = utcnow()
        # Write the last-use stamp at most once a minute: reads should not each cost a write.
        if api_token.last_used_at is None or (now - api_token.last_used_at).total_seconds() > 60:
            api_token.last_used_at = now
        return Principal(api_token.tenant_id, user.id, user.username, user.role, api_token.id)


def revoke_token(store: Store, tenant_id: str, token_id: int) -> None:
    with store.tenant_transaction(tenant_id) as session:
        token = session.get(ApiToken, token_id)
        if token is None:
            raise NotFound(f"no token {token_id} in tenant {tenant_id!r}")
        token.revoked_at = utcnow()
