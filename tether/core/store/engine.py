"""The database: engine, tenant-scoped sessions and migrations."""

from __future__ import annotations

import contextlib
import logging
import threading
from pathlib import Path
from typing import Any, Iterable, Iterator

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import create_engine, event, text
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.exc import ArgumentError, DBAPIError, NoSuchModuleError, OperationalError
from sqlalchemy.orm import Session, sessionmaker

from ..errors import ConfigurationError, MigrationRequired, StoreUnavailable
from ..settings import normalise_database_url
from .scoping import TENANT_KEY, install_tenant_scoping

log = logging.getLogger(__name__)

MIGRATIONS_DIR = Path(__file__).with_name("migrations")


def _sqlite_pragmas(dbapi_connection, connection_record) -> None:
    cursor = dbapi_connection.cursor()
    # WAL lets the webhook receiver write while a sync reads; NORMAL is durable in WAL mode.
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.close()


def make_engine(url: str, **kwargs) -> Engine:
    url = normalise_database_url(url)
    try:
        parsed = make_url(url)
    except Exception as exc:  # sqlalchemy raises ArgumentError with a terse message
        raise ConfigurationError(
            f"database URL {url.split('@')[-1]!r} is not valid: {exc}",
            hint="use sqlite:///path/to/file.sqlite3 or postgresql+psycopg://user@host/db",
        ) from exc
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            Path(parsed.database).expanduser().parent.mkdir(parents=True, exist_ok=True)
        engine = _create(url, parsed, **kwargs)
        event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    kwargs.setdefault("pool_pre_ping", True)
    return _create(url, parsed, **kwargs)


def _create(url: str, parsed, **kwargs) -> Engine:
    try:
        return create_engine(url, **kwargs)
    except (ArgumentError, NoSuchModuleError, ImportError) as exc:
        raise ConfigurationError(
            f"database URL for {parsed.get_backend_name()!r} cannot be used: {exc}",
            hint="use sqlite:///path/to/file.sqlite3, or postgresql+psycopg://user@host/db with tether[postgres] installed",
        ) from exc


def _rollback_quietly(connection, driver_error) -> None:
    try:
        connection.rollback()
    except driver_error:  # the connection is gone; the pool replaces it
        connection.invalidate()


class Store:
    """One database: sessions scoped to a tenant, an admin session, and migrations."""

    def __init__(self, url: str, *, migration_locations: Iterable[Path] = (), **engine_kwargs) -> None:
        self.url = normalise_database_url(url)
        self.engine = make_engine(url, **engine_kwargs)
        self._sessions = sessionmaker(bind=self.engine, expire_on_commit=False)
        install_tenant_scoping(self._sessions)
        self.migration_locations = [MIGRATIONS_DIR / "versions", *migration_locations]
        # SQLite has one writer at a time; queueing writers on a lock in this process beats
        # SQLite's busy handler, which sleeps in growing steps while it waits.
        self._write_lock = threading.Lock() if self.dialect == "sqlite" else None

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    def tenant_session(self, tenant_id: str) -> Session:
        """A session that sees and writes only ``tenant_id``'s rows."""
        if not tenant_id:
            raise ValueError("tenant_session needs a tenant id")
        return self._sessions(info={TENANT_KEY: tenant_id})

    def admin_session(self) -> Session:
        """An unscoped session, for tenant management and cross-tenant operations only."""
        return self._sessions()

    @contextlib.contextmanager
    def tenant_transaction(self, tenant_id: str) -> Iterator[Session]:
        """``with store.tenant_transaction(t) as s:`` commits on success, rolls back on error."""
        with self.tenant_session(tenant_id) as session, session.begin():
            yield session

    @contextlib.contextmanager
    def write_transaction(self, tenant_id: str) -> Iterator[Session]:
        """A tenant transaction for a short hot-path write, serialised per process on SQLite."""
        if self._write_lock is None:
            with self.tenant_transaction(tenant_id) as session:
                yield session
            return
        with self._write_lock, self.tenant_transaction(tenant_id) as session:
            yield session

    @contextlib.contextmanager
    def driver_write(self) -> Iterator[Any]:
        """A pooled DBAPI connection for a short hot-path write of rows that name their
        tenant themselves: committed on success, rolled back on error, serialised per
        process on SQLite like :meth:`write_transaction`.

        Below SQLAlchemy on purpose: for the webhook receiver's one INSERT per round its
        session and Core layers cost as much CPU as the database. Driver errors (and a
        failed checkout) become :class:`StoreUnavailable`, which the receiver answers 503."""
        with self._write_lock or contextlib.nullcontext():
            try:
                connection = self.engine.raw_connection()
            except DBAPIError as exc:
                raise StoreUnavailable(f"cannot reach the database at {self.safe_url}: {type(exc.orig).__name__}",
                                       hint="check TETHER_DATABASE_URL and that the server is running") from exc
            driver_error = self.engine.dialect.loaded_dbapi.Error
            try:
                yield connection.driver_connection
                connection.commit()
            except driver_error as exc:
                _rollback_quietly(connection, driver_error)
                raise StoreUnavailable(f"the write to {self.safe_url} failed: {type(exc).__name__}: {exc}",
                                       hint="check the database server and its logs") from exc
            except BaseException:
                _rollback_quietly(connection, driver_error)
                raise
            finally:
                connection.close()  # back to the pool

    # -- migrations ---------------------------------------------------------------------

    def alembic_config(self) -> Config:
        cfg = Config()
        cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
        cfg.set_main_option("path_separator", "os")
        cfg.set_main_option("version_locations", _joined_paths(self.migration_locations))
        return cfg

    def upgrade(self) -> list[str]:
        """Apply every pending migration of the core and of plugins; return the new heads."""
        cfg = self.alembic_config()
        try:
            with self.engine.begin() as connection:
                cfg.attributes["connection"] = connection
                command.upgrade(cfg, "heads")
        except OperationalError as exc:
            raise StoreUnavailable(
                f"cannot reach the database at {self.safe_url}: {exc.orig}",
                hint="check TETHER_DATABASE_URL and that the server is running",
            ) from exc
        return self.current_heads()

    def current_heads(self) -> list[str]:
        with self.engine.connect() as connection:
            return sorted(MigrationContext.configure(connection).get_current_heads())

    def expected_heads(self) -> list[str]:
        return sorted(ScriptDirectory.from_config(self.alembic_config()).get_heads())

    def check_current(self) -> None:
        """Raise :class:`MigrationRequired` unless every known migration has been applied.

        The version table holds only the heads the database is at, and a head whose branch
        other branches depend on drops out of it, so compare the applied revisions (the
        current heads and everything they rest on) with every revision the code knows.
        """
        try:
            current = self.current_heads()
        except OperationalError as exc:
            raise StoreUnavailable(f"cannot reach the database at {self.safe_url}: {exc.orig}") from exc
        script = ScriptDirectory.from_config(self.alembic_config())
        try:
            applied = {rev.revision for rev in script.iterate_revisions(tuple(current), "base")} if current else set()
        except Exception as exc:  # a revision in the database that this code does not know
            raise MigrationRequired(
                f"database schema is at {current}, which this version of tether does not know: {exc}",
                hint="run a tether version that includes these migrations (or the plugins that ship them)",
            ) from exc
        missing = sorted({rev.revision for rev in script.walk_revisions()} - applied)
        if missing:
            # Named up to a few: a new database lacks every migration of every plugin.
            named = ", ".join(missing[:4]) + (f" and {len(missing) - 4} more" if len(missing) > 4 else "")
            state = "is behind this version of tether" if current else "has no tether tables yet"
            raise MigrationRequired(f"the database {state}: {len(missing)} migration(s) pending ({named})",
                                    hint="run `tether db upgrade`")

    def ping(self) -> None:
        try:
            with self.engine.connect() as connection:
                connection.execute(text("SELECT 1"))
        except OperationalError as exc:
            raise StoreUnavailable(f"cannot reach the database at {self.safe_url}: {exc.orig}") from exc

    @property
    def safe_url(self) -> str:
        return make_url(self.url).render_as_string(hide_password=True)

    def dispose(self) -> None:
        self.engine.dispose()


def _joined_paths(paths: Iterable[Path]) -> str:
    import os

    return os.pathsep.join(str(p) for p in paths)
