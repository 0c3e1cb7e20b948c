"""The store: tenant isolation on every query, exact money, UTC times, migrations = models."""

import datetime as dt
from decimal import Decimal

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import delete, event, func, select, update

from tether.core.errors import TenantIsolationError
from tether.core.plugins import PluginHost
from tether.core.store import Base, Company, Opportunity, Store, Tenant, TenantScoped
from tether.core.store import all_models  # noqa: F401
from tether.core.tenants import installations

UTC = dt.timezone.utc


@pytest.fixture
def two_tenants(tether_store: Store):
    with tether_store.admin_session() as session, session.begin():
        session.add_all([Tenant(id="acme", name="Acme"), Tenant(id="globex", name="Globex")])
    for tenant, names in (("acme", ["Acme East", "Acme West"]), ("globex", ["Globex HQ"])):
        with tether_store.tenant_transaction(tenant) as session:
            for name in names:
                company = Company(name=name, external_source="salesforce", external_id=f"001{name.replace(' ', '')}")
                session.add(company)
                session.flush()
                session.add(Opportunity(name=f"{name} renewal", company_id=company.id, amount=Decimal("1000.10")))
    return tether_store


def test_a_tenant_session_sees_only_its_rows(two_tenants):
    with two_tenants.tenant_session("acme") as session:
        assert sorted(session.scalars(select(Company.name))) == ["Acme East", "Acme West"]
        assert session.scalar(select(func.count()).select_from(Opportunity)) == 2
        globex_id = None
    with two_tenants.admin_session() as session:
        globex_id = session.scalar(select(Company.id).where(Company.tenant_id == "globex"))
    with two_tenants.tenant_session("acme") as session:
        assert session.get(Company, globex_id) is None
        # Joins and explicit filters cannot reach the other tenant either.
        joined = session.execute(select(Opportunity.name, Company.name).join(Company)).all()
        assert sorted(name for name, _ in joined) == ["Acme East renewal", "Acme West renewal"]
        assert session.scalars(select(Company).where(Company.tenant_id == "globex")).all() == []


def test_bulk_update_and_delete_are_scoped_too(two_tenants):
    with two_tenants.tenant_transaction("acme") as session:
        session.execute(update(Company).values(segment="SMB"))
        session.execute(delete(Opportunity))
    with two_tenants.admin_session() as session:
        assert session.scalar(select(Company.segment).where(Company.tenant_id == "globex")) is None
        assert session.scalar(select(func.count()).select_from(Opportunity).where(Opportunity.tenant_id == "globex")) == 1


def test_rows_of_another_tenant_cannot_be_written_through_a_session(two_tenants):
    with two_tenants.tenant_session("acme") as session:
        session.add(Company(name="Intruder", tenant_id="globex"))
        with pytest.raises(TenantIsolationError, match="tenant 'globex' was added to a session of tenant 'acme'"):
            session.flush()
    with two_tenants.tenant_transaction("acme") as session:
        company = Company(name="Stamped")
        session.add(company)
    assert company.tenant_id == "acme"


def test_every_tenant_scoped_model_is_filtered(two_tenants):
    """Covers tables later areas add: every ORM select names the session's tenant."""
    models = [m.class_ for m in Base.registry.mappers if issubclass(m.class_, TenantScoped)]
    assert len(models) >= 10
    seen = []

    def capture(conn, cursor, statement, parameters, context, executemany):
        seen.append((statement, parameters))

    event.listen(two_tenants.engine, "before_cursor_execute", capture)
    try:
        with two_tenants.tenant_session("globex") as session:
            for model in models:
                seen.clear()
                session.execute(select(model)).all()
                statement, parameters = seen[-1]
                values = parameters.values() if isinstance(parameters, dict) else parameters
                assert "tenant_id" in statement and "globex" in values, f"{model.__name__} is not tenant-filtered"
    finally:
        event.remove(two_tenants.engine, "before_cursor_execute", capture)


def test_repository_functions_are_scoped(two_tenants):
    with two_tenants.tenant_transaction("globex") as session:
        from tether.core.store import PluginInstallation

        session.add(PluginInstallation(plugin_name="timeline", version="0.1.0", config={}))
    assert installations(two_tenants, "acme") == []
    assert [row.plugin_name for row in installations(two_tenants, "globex")] == ["timeline"]


def test_money_is_exact_and_times_are_utc(two_tenants):
    stamp = dt.datetime(2026, 3, 1, 12, 30, 15, 123000, tzinfo=dt.timezone(dt.timedelta(hours=2)))
    with two_tenants.tenant_transaction("acme") as session:
        session.add_all([Opportunity(name=f"o{i}", amount=Decimal("0.10"), source_modstamp=stamp) for i in range(10)])
    with two_tenants.tenant_session("acme") as session:
        total = session.scalar(select(func.sum(Opportunity.amount)).where(Opportunity.name.like("o%")))
        latest = session.scalar(select(func.max(Opportunity.source_modstamp)))
    assert total == Decimal("1.00")
    assert latest == dt.datetime(2026, 3, 1, 10, 30, 15, 123000, tzinfo=UTC)


def test_naive_datetimes_are_refused(two_tenants):
    with two_tenants.tenant_session("acme") as session:
        session.add(Opportunity(name="naive", source_modstamp=dt.datetime(2026, 1, 1)))
        with pytest.raises(Exception, match="naive datetime"):
            session.flush()


def test_migrations_create_exactly_the_models(tether_store):
    with tether_store.engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": False})
        diff = [d for d in compare_metadata(context, Base.metadata) if not _benign(d)]
    assert diff == [], "models and migrations differ: generate a migration with `tether db revision`"


def _benign(diff) -> bool:
    # Foreign tables of engines we embed (job queues) are not ours to compare.
    kind = diff[0] if isinstance(diff, tuple) else diff[0][0]
    table = diff[1] if isinstance(diff, tuple) and len(diff) > 1 else None
    if kind == "remove_index":  # an index of such a table is reported on its own
        table = getattr(table, "table", None)
    name = getattr(table, "name", "") or ""
    return kind in ("remove_table", "remove_index") and (name.startswith("procrastinate") or name.startswith("apscheduler"))


def test_every_plugin_migration_folder_is_known_to_the_store(plugin_host: PluginHost, tether_store: Store):
    assert set(plugin_host.migration_locations()) <= set(tether_store.migration_locations)


def test_a_fully_migrated_database_is_current_and_a_partial_one_is_not(tether_store: Store):
    tether_store.check_current()  # every area branch applied, including those resting on core
    from alembic import command

    from tether.core.errors import MigrationRequired

    if tether_store.dialect != "sqlite":
        return  # downgrading a shared PostgreSQL test database would disturb other tests
    cfg = tether_store.alembic_config()
    heads = tether_store.current_heads()
    with tether_store.engine.begin() as connection:
        cfg.attributes["connection"] = connection
        command.downgrade(cfg, f"{heads[0]}@-1" if not heads[0].endswith("_0001") else f"{heads[0].rsplit('_', 1)[0]}@base")
    with pytest.raises(MigrationRequired, match=rf"behind this version of tether: 1 migration\(s\) pending \({heads[0]}\)"):
        tether_store.check_current()
