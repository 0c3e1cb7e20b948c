"""procrastinate's schema, for the PostgreSQL job engine

Revision ID: jobs_0002
Revises: jobs_0001

PostgreSQL only: SQLite runs the embedded engine, which has no use for it. The schema
is procrastinate's own (``SchemaManager.get_schema()``), applied as procrastinate
applies it; a later procrastinate release that changes it ships SQL migrations in
``procrastinate/sql/migrations``, which a later ``jobs_*`` revision applies the same way.
"""
import logging

from alembic import op

revision = 'jobs_0002'
down_revision = 'jobs_0001'
branch_labels = None
depends_on = None

log = logging.getLogger("alembic.runtime.migration")


def upgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name != "postgresql":
        return
    try:
        from procrastinate.schema import SchemaManager
    except ImportError:  # the embedded engine works without it; the PostgreSQL engine applies it at start
        log.warning("procrastinate is not installed: its schema is not created (install tether[postgres] "
                    "and the PostgreSQL job engine creates it when it first starts)")
        return
    if bind.exec_driver_sql("SELECT to_regclass('procrastinate_jobs')").scalar() is not None:
        return
    # The schema holds '%' in plpgsql messages: send it as one parameterless script through
    # the driver so nothing is taken for a placeholder.
    bind.connection.driver_connection.execute(SchemaManager.get_schema())


def downgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name != "postgresql":
        return
    bind.connection.driver_connection.execute("""
        DO $$
        DECLARE item record;
        BEGIN
            FOR item IN SELECT tablename FROM pg_tables
                        WHERE schemaname = current_schema() AND tablename LIKE 'procrastinate\\_%' LOOP
                EXECUTE format('DROP TABLE IF EXISTS %I CASCADE', item.tablename);
            END LOOP;
            FOR item IN SELECT p.oid::regprocedure AS signature FROM pg_proc p
                        JOIN pg_namespace n ON n.oid = p.pronamespace
                        WHERE n.nspname = current_schema() AND p.proname LIKE 'procrastinate\\_%' LOOP
                EXECUTE format('DROP FUNCTION IF EXISTS %s CASCADE', item.signature);
            END LOOP;
            FOR item IN SELECT t.typname FROM pg_type t
                        JOIN pg_namespace n ON n.oid = t.typnamespace
                        WHERE n.nspname = current_schema() AND t.typname LIKE 'procrastinate\\_%' AND t.typtype IN ('e', 'c') LOOP
                EXECUTE format('DROP TYPE IF EXISTS %I CASCADE', item.typname);
            END LOOP;
        END $$;
    """)
