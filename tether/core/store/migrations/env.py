"""Alembic environment: runs on the connection the Store hands over."""

from alembic import context

from tether.core.store import all_models  # noqa: F401  (registers every table on Base)
from tether.core.store.models import Base

config = context.config
connection = config.attributes.get("connection")
if connection is None:
    raise RuntimeError("tether migrations run through `tether db upgrade` (Store.upgrade), not bare alembic")

context.configure(
    connection=connection,
    target_metadata=Base.metadata,
    render_as_batch=connection.dialect.name == "sqlite",
    compare_type=True,
)
with context.begin_transaction():
    context.run_migrations()
