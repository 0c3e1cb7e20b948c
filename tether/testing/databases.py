"""Throw-away databases for tests: a migrated SQLite file per test, or a PostgreSQL
database per test session, emptied between tests."""

from __future__ import annotations

import os
import shutil
import uuid
from pathlib import Path
from typing import Callable

from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from tether.core.settings import normalise_database_url
from tether.core.store import Base, Store
from tether.core.store import all_models  # noqa: F401

POSTGRES_ENV = "TETHER_TEST_POSTGRES_URL"


def postgres_url() -> str | None:
    url = os.environ.get(POSTGRES_ENV)
    return normalise_database_url(url) if url else None


def scratch_postgres_database(server_url: str, prefix: str = "tether_scratch") -> tuple[str, Callable[[], None]]:
    """An empty database of its own on the server at ``server_url`` (benchmarks, demos):
    its URL and a function that drops it, connections and all."""
    base = make_url(normalise_database_url(server_url))
    name = f"{prefix}_{uuid.uuid4().hex[:8]}"
    admin = create_engine(base, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))

    def drop() -> None:
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()

    return base.set(database=name).render_as_string(hide_password=False), drop


class SQLiteTemplate:
    """Migrate once, copy the file for each test (much faster than migrating each time)."""

    def __init__(self, folder: Path, migration_locations=()) -> None:
        self.folder = folder
        self.migration_locations = list(migration_locations)
        self.template = folder / "template.sqlite3"
        store = Store(f"sqlite:///{self.template}", migration_locations=self.migration_locations)
        store.upgrade()
        with store.engine.connect() as connection:
            connection.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
        store.dispose()

    def new_store(self) -> Store:
        target = self.folder / f"test-{uuid.uuid4().hex[:12]}.sqlite3"
        shutil.copyfile(self.template, target)
        return Store(f"sqlite:///{target}", migration_locations=self.migration_locations)


class PostgresDatabase:
    """A database of its own on the test server, so parallel test runs never collide."""

    def __init__(self, server_url: str, migration_locations=()) -> None:
        self.server_url = make_url(server_url)
        self.name = f"tether_test_{uuid.uuid4().hex[:10]}"
        admin = create_engine(self.server_url, isolation_level="AUTOCOMMIT")
        with admin.connect() as connection:
            connection.execute(text(f'CREATE DATABASE "{self.name}"'))
        admin.dispose()
        self.url = self.server_url.set(database=self.name).render_as_string(hide_password=False)
        self.migration_locations = list(migration_locations)
        self.store = Store(self.url, migration_locations=self.migration_locations)
        self.store.upgrade()

    def new_store(self) -> Store:
        self.truncate()
        return self.store

    def truncate(self) -> None:
        tables = ", ".join(f'"{t.name}"' for t in Base.metadata.sorted_tables)
        with self.store.engine.begin() as connection:
            connection.execute(text(f"TRUNCATE {tables} RESTART IDENTITY CASCADE"))

    def drop(self) -> None:
        self.store.dispose()
        admin = create_engine(self.server_url, isolation_level="AUTOCOMMIT")
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{self.name}" WITH (FORCE)'))
        admin.dispose()
