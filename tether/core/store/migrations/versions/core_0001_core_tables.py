"""core tables

Revision ID: core_0001
Revises: 
Create Date: 2026-11-25 15:22:41.873626
"""
from alembic import op
import sqlalchemy as sa
import tether.core.store.types
from sqlalchemy.dialects import postgresql

revision = 'core_0001'
down_revision = None
branch_labels = ('core',)
depends_on = None


def upgrade() -> None:
    op.create_table('tenants',
    sa.Column('id', sa.String(length=64), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('settings', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.Column('mappings', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.Column('schedules', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.Column('manifest_digest', sa.String(length=64), nullable=True),
    sa.Column('created_at', tether.core.store.types.UTCDateTime(), nullable=False),
    sa.Column('updated_at', tether.core.store.types.UTCDateTime(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_tenants'))
    )
    op.create_table('companies',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('name', sa.String(length=255), nullable=False),
    sa.Column('parent_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('parent_external_id', sa.String(length=64), nullable=True),
    sa.Column('industry', sa.String(length=120), nullable=True),
    sa.Column('segment', sa.String(length=120), nullable=True),
    sa.Column('company_type', sa.String(length=120), nullable=True),
    sa.Column('owner_name', sa.String(length=200), nullable=True),
    sa.Column('csm', sa.String(length=200), nullable=True),
    sa.Column('lifecycle_stage', sa.String(length=80), nullable=True),
    sa.Column('arr', tether.core.store.types.Money(), nullable=True),
    sa.Column('mrr', tether.core.store.types.Money(), nullable=True),
    sa.Column('employees', sa.Integer(), nullable=True),
    sa.Column('attributes', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.Column('tenant_id', sa.String(length=64), nullable=False),
    sa.Column('external_source', sa.String(length=40), nullable=True),
    sa.Column('external_id', sa.String(length=64), nullable=True),
    sa.Column('source_modstamp', tether.core.store.types.UTCDateTime(), nullable=True),
    sa.Column('is_deleted', sa.Boolean(), nullable=False),
    sa.Column('deleted_at', tether.core.store.types.UTCDateTime(), nullable=True),
    sa.Column('created_at', tether.core.store.types.UTCDateTime(), nullable=False),
    sa.Column('updated_at', tether.core.store.types.UTCDateTime(), nullable=False),
    sa.ForeignKeyConstraint(['parent_id'], ['companies.id'], name=op.f('fk_companies_parent_id_companies'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['tenant_id'], ['tenants.id'], name=op.f('fk_companies_tenant_id_tenants'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_companies')),
    sa.UniqueConstraint('tenant_id', 'external_source', 'external_id', name=op.f('uq_companies_tenant_id_external_source_external_id'))
    )
    with op.batch_alter_table('companies', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_companies_parent_id'), ['parent_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_companies_tenant_id'), ['tenant_id'], unique=False)
        batch_op.create_index('ix_companies_tenant_parent_external', ['tenant_id', 'parent_external_id'], unique=False)

    op.create_table('inbox',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('connector', sa.String(length=100), nullable=False),
    sa.Column('notification_id', sa.String(length=100), nullable=False),
    sa.Column('object_name', sa.String(length=100), nullable=True),
    sa.Column('record_external_id', sa.String(length=64), nullable=True),
    sa.Column('payload', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.Column('received_at', tether.core.store.types.UTCDateTime(), nullable=False),
    sa.Column('status', sa.String(length=20), nullable=False),
    sa.Column('processed_at', tether.core.store.types.UTCDateTime(), nullable=True),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('error', sa.Text(), nullable=True),
    sa.Column('tenant_id', sa.String(length=64), nullable=False),
    sa.ForeignKeyConstraint(['tenant_id'], ['tenants.id'], name=op.f('fk_inbox_tenant_id_tenants'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_inbox')),
    sa.UniqueConstraint('tenant_id', 'connector', 'notification_id', name=op.f('uq_inbox_tenant_id_connector_notification_id'))
    )
    with op.batch_alter_table('inbox', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_inbox_tenant_id'), ['tenant_id'], unique=False)
        batch_op.create_index('ix_inbox_tenant_status', ['tenant_id', 'status', 'id'], unique=False)

    op.create_table('job_runs',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('kind', sa.String(length=60), nullable=False),
    sa.Column('connector', sa.String(length=100), nullable=True),
    sa.Column('object_name', sa.String(length=100), nullable=True),
    sa.Column('mode', sa.String(length=40), nullable=True),
    sa.Column('started_at', tether.core.store.types.UTCDateTime(), nullable=False),
    sa.Column('finished_at', tether.core.store.types.UTCDateTime(), nullable=True),
    sa.Column('status', sa.String(length=20), nullable=False),
    sa.Column('records_read', sa.Integer(), nullable=False),
    sa.Column('records_applied', sa.Integer(), nullable=False),
    sa.Column('records_deleted', sa.Integer(), nullable=False),
    sa.Column('api_calls', sa.Integer(), nullable=False),
    sa.Column('error', sa.Text(), nullable=True),
    sa.Column('details', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.Column('tenant_id', sa.String(length=64), nullable=False),
    sa.ForeignKeyConstraint(['tenant_id'], ['tenants.id'], name=op.f('fk_job_runs_tenant_id_tenants'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_job_runs'))
    )
    with op.batch_alter_table('job_runs', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_job_runs_tenant_id'), ['tenant_id'], unique=False)
        batch_op.create_index('ix_job_runs_tenant_kind_object', ['tenant_id', 'kind', 'object_name', 'id'], unique=False)

    op.create_table('outbox',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('connector', sa.String(length=100), nullable=False),
    sa.Column('object_name', sa.String(length=100), nullable=False),
    sa.Column('local_id', sa.BigInteger(), nullable=True),
    sa.Column('external_id', sa.String(length=64), nullable=True),
    sa.Column('operation', sa.String(length=20), nullable=False),
    sa.Column('changes', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.Column('created_at', tether.core.store.types.UTCDateTime(), nullable=False),
    sa.Column('status', sa.String(length=20), nullable=False),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('next_attempt_at', tether.core.store.types.UTCDateTime(), nullable=True),
    sa.Column('last_error', sa.Text(), nullable=True),
    sa.Column('pushed_at', tether.core.store.types.UTCDateTime(), nullable=True),
    sa.Column('tenant_id', sa.String(length=64), nullable=False),
    sa.ForeignKeyConstraint(['tenant_id'], ['tenants.id'], name=op.f('fk_outbox_tenant_id_tenants'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_outbox'))
    )
    with op.batch_alter_table('outbox', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_outbox_tenant_id'), ['tenant_id'], unique=False)
        batch_op.create_index('ix_outbox_tenant_status', ['tenant_id', 'status', 'id'], unique=False)

    op.create_table('plugin_installations',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('plugin_name', sa.String(length=100), nullable=False),
    sa.Column('version', sa.String(length=40), nullable=False),
    sa.Column('enabled', sa.Boolean(), nullable=False),
    sa.Column('config', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.Column('tenant_id', sa.String(length=64), nullable=False),
    sa.Column('created_at', tether.core.store.types.UTCDateTime(), nullable=False),
    sa.Column('updated_at', tether.core.store.types.UTCDateTime(), nullable=False),
    sa.ForeignKeyConstraint(['tenant_id'], ['tenants.id'], name=op.f('fk_plugin_installations_tenant_id_tenants'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_plugin_installations')),
    sa.UniqueConstraint('tenant_id', 'plugin_name', name=op.f('uq_plugin_installations_tenant_id_plugin_name'))
    )
    with op.batch_alter_table('plugin_installations', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_plugin_installations_tenant_id'), ['tenant_id'], unique=False)

    op.create_table('relationship_types',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('name', sa.String(length=40), nullable=False),
    sa.Column('description', sa.String(length=1000), nullable=True),
    sa.Column('fields', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.Column('source', sa.String(length=100), nullable=False),
    sa.Column('tenant_id', sa.String(length=64), nullable=False),
    sa.Column('created_at', tether.core.store.types.UTCDateTime(), nullable=False),
    sa.Column('updated_at', tether.core.store.types.UTCDateTime(), nullable=False),
    sa.ForeignKeyConstraint(['tenant_id'], ['tenants.id'], name=op.f('fk_relationship_types_tenant_id_tenants'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_relationship_types')),
    sa.UniqueConstraint('tenant_id', 'name', name=op.f('uq_relationship_types_tenant_id_name'))
    )
    with op.batch_alter_table('relationship_types', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_relationship_types_tenant_id'), ['tenant_id'], unique=False)

    op.create_table('sync_cursors',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('connector', sa.String(length=100), nullable=False),
    sa.Column('object_name', sa.String(length=100), nullable=False),
    sa.Column('value', sa.String(length=100), nullable=True),
    sa.Column('state', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.Column('full_load_completed_at', tether.core.store.types.UTCDateTime(), nullable=True),
    sa.Column('updated_at', tether.core.store.types.UTCDateTime(), nullable=False),
    sa.Column('tenant_id', sa.String(length=64), nullable=False),
    sa.ForeignKeyConstraint(['tenant_id'], ['tenants.id'], name=op.f('fk_sync_cursors_tenant_id_tenants'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_sync_cursors')),
    sa.UniqueConstraint('tenant_id', 'connector', 'object_name', name=op.f('uq_sync_cursors_tenant_id_connector_object_name'))
    )
    with op.batch_alter_table('sync_cursors', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_sync_cursors_tenant_id'), ['tenant_id'], unique=False)

    op.create_table('users',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('username', sa.String(length=200), nullable=False),
    sa.Column('display_name', sa.String(length=200), nullable=True),
    sa.Column('role', sa.String(length=40), nullable=False),
    sa.Column('disabled', sa.Boolean(), nullable=False),
    sa.Column('tenant_id', sa.String(length=64), nullable=False),
    sa.Column('created_at', tether.core.store.types.UTCDateTime(), nullable=False),
    sa.Column('updated_at', tether.core.store.types.UTCDateTime(), nullable=False),
    sa.ForeignKeyConstraint(['tenant_id'], ['tenants.id'], name=op.f('fk_users_tenant_id_tenants'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_users')),
    sa.UniqueConstraint('tenant_id', 'username', name=op.f('uq_users_tenant_id_username'))
    )
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_users_tenant_id'), ['tenant_id'], unique=False)

    op.create_table('api_tokens',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('user_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('name', sa.String(length=100), nullable=True),
    sa.Column('token_hash', sa.String(length=64), nullable=False),
    sa.Column('prefix', sa.String(length=16), nullable=False),
    sa.Column('created_at', tether.core.store.types.UTCDateTime(), nullable=False),
    sa.Column('last_used_at', tether.core.store.types.UTCDateTime(), nullable=True),
    sa.Column('revoked_at', tether.core.store.types.UTCDateTime(), nullable=True),
    sa.Column('tenant_id', sa.String(length=64), nullable=False),
    sa.ForeignKeyConstraint(['tenant_id'], ['tenants.id'], name=op.f('fk_api_tokens_tenant_id_tenants'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_api_tokens_user_id_users'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_api_tokens')),
    sa.UniqueConstraint('token_hash', name=op.f('uq_api_tokens_token_hash'))
    )
    with op.batch_alter_table('api_tokens', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_api_tokens_tenant_id'), ['tenant_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_api_tokens_user_id'), ['user_id'], unique=False)

    op.create_table('relationships',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('company_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('type_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('name', sa.String(length=255), nullable=False),
    sa.Column('arr', tether.core.store.types.Money(), nullable=True),
    sa.Column('mrr', tether.core.store.types.Money(), nullable=True),
    sa.Column('csm', sa.String(length=200), nullable=True),
    sa.Column('stage', sa.String(length=80), nullable=True),
    sa.Column('status', sa.String(length=80), nullable=True),
    sa.Column('attributes', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.Column('tenant_id', sa.String(length=64), nullable=False),
    sa.Column('external_source', sa.String(length=40), nullable=True),
    sa.Column('external_id', sa.String(length=64), nullable=True),
    sa.Column('source_modstamp', tether.core.store.types.UTCDateTime(), nullable=True),
    sa.Column('is_deleted', sa.Boolean(), nullable=False),
    sa.Column('deleted_at', tether.core.store.types.UTCDateTime(), nullable=True),
    sa.Column('created_at', tether.core.store.types.UTCDateTime(), nullable=False),
    sa.Column('updated_at', tether.core.store.types.UTCDateTime(), nullable=False),
    sa.ForeignKeyConstraint(['company_id'], ['companies.id'], name=op.f('fk_relationships_company_id_companies'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['tenant_id'], ['tenants.id'], name=op.f('fk_relationships_tenant_id_tenants'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['type_id'], ['relationship_types.id'], name=op.f('fk_relationships_type_id_relationship_types'), ondelete='RESTRICT'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_relationships')),
    sa.UniqueConstraint('tenant_id', 'external_source', 'external_id', name=op.f('uq_relationships_tenant_id_external_source_external_id'))
    )
    with op.batch_alter_table('relationships', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_relationships_company_id'), ['company_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_relationships_tenant_id'), ['tenant_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_relationships_type_id'), ['type_id'], unique=False)

    op.create_table('opportunities',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('name', sa.String(length=255), nullable=False),
    sa.Column('company_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('account_external_id', sa.String(length=64), nullable=True),
    sa.Column('relationship_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('stage', sa.String(length=120), nullable=True),
    sa.Column('amount', tether.core.store.types.Money(), nullable=True),
    sa.Column('currency', sa.String(length=3), nullable=True),
    sa.Column('close_date', sa.Date(), nullable=True),
    sa.Column('opportunity_type', sa.String(length=120), nullable=True),
    sa.Column('record_type', sa.String(length=120), nullable=True),
    sa.Column('probability', sa.Float(), nullable=True),
    sa.Column('forecast_category', sa.String(length=40), nullable=True),
    sa.Column('is_closed', sa.Boolean(), nullable=False),
    sa.Column('is_won', sa.Boolean(), nullable=False),
    sa.Column('owner_external_id', sa.String(length=64), nullable=True),
    sa.Column('owner_name', sa.String(length=200), nullable=True),
    sa.Column('csm', sa.String(length=200), nullable=True),
    sa.Column('booking_type', sa.String(length=40), nullable=True),
    sa.Column('target_amount', tether.core.store.types.Money(), nullable=True),
    sa.Column('forecast_amount', tether.core.store.types.Money(), nullable=True),
    sa.Column('final_amount', tether.core.store.types.Money(), nullable=True),
    sa.Column('due_date', sa.Date(), nullable=True),
    sa.Column('attributes', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.Column('tenant_id', sa.String(length=64), nullable=False),
    sa.Column('external_source', sa.String(length=40), nullable=True),
    sa.Column('external_id', sa.String(length=64), nullable=True),
    sa.Column('source_modstamp', tether.core.store.types.UTCDateTime(), nullable=True),
    sa.Column('is_deleted', sa.Boolean(), nullable=False),
    sa.Column('deleted_at', tether.core.store.types.UTCDateTime(), nullable=True),
    sa.Column('created_at', tether.core.store.types.UTCDateTime(), nullable=False),
    sa.Column('updated_at', tether.core.store.types.UTCDateTime(), nullable=False),
    sa.ForeignKeyConstraint(['company_id'], ['companies.id'], name=op.f('fk_opportunities_company_id_companies'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['relationship_id'], ['relationships.id'], name=op.f('fk_opportunities_relationship_id_relationships'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['tenant_id'], ['tenants.id'], name=op.f('fk_opportunities_tenant_id_tenants'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_opportunities')),
    sa.UniqueConstraint('tenant_id', 'external_source', 'external_id', name=op.f('uq_opportunities_tenant_id_external_source_external_id'))
    )
    with op.batch_alter_table('opportunities', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_opportunities_company_id'), ['company_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_opportunities_relationship_id'), ['relationship_id'], unique=False)
        batch_op.create_index('ix_opportunities_tenant_account', ['tenant_id', 'account_external_id'], unique=False)
        batch_op.create_index('ix_opportunities_tenant_close', ['tenant_id', 'close_date'], unique=False)
        batch_op.create_index(batch_op.f('ix_opportunities_tenant_id'), ['tenant_id'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('opportunities', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_opportunities_tenant_id'))
        batch_op.drop_index('ix_opportunities_tenant_close')
        batch_op.drop_index('ix_opportunities_tenant_account')
        batch_op.drop_index(batch_op.f('ix_opportunities_relationship_id'))
        batch_op.drop_index(batch_op.f('ix_opportunities_company_id'))

    op.drop_table('opportunities')
    with op.batch_alter_table('relationships', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_relationships_type_id'))
        batch_op.drop_index(batch_op.f('ix_relationships_tenant_id'))
        batch_op.drop_index(batch_op.f('ix_relationships_company_id'))

    op.drop_table('relationships')
    with op.batch_alter_table('api_tokens', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_api_tokens_user_id'))
        batch_op.drop_index(batch_op.f('ix_api_tokens_tenant_id'))

    op.drop_table('api_tokens')
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_users_tenant_id'))

    op.drop_table('users')
    with op.batch_alter_table('sync_cursors', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_sync_cursors_tenant_id'))

    op.drop_table('sync_cursors')
    with op.batch_alter_table('relationship_types', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_relationship_types_tenant_id'))

    op.drop_table('relationship_types')
    with op.batch_alter_table('plugin_installations', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_plugin_installations_tenant_id'))

    op.drop_table('plugin_installations')
    with op.batch_alter_table('outbox', schema=None) as batch_op:
        batch_op.drop_index('ix_outbox_tenant_status')
        batch_op.drop_index(batch_op.f('ix_outbox_tenant_id'))

    op.drop_table('outbox')
    with op.batch_alter_table('job_runs', schema=None) as batch_op:
        batch_op.drop_index('ix_job_runs_tenant_kind_object')
        batch_op.drop_index(batch_op.f('ix_job_runs_tenant_id'))

    op.drop_table('job_runs')
    with op.batch_alter_table('inbox', schema=None) as batch_op:
        batch_op.drop_index('ix_inbox_tenant_status')
        batch_op.drop_index(batch_op.f('ix_inbox_tenant_id'))

    op.drop_table('inbox')
    with op.batch_alter_table('companies', schema=None) as batch_op:
        batch_op.drop_index('ix_companies_tenant_parent_external')
        batch_op.drop_index(batch_op.f('ix_companies_tenant_id'))
        batch_op.drop_index(batch_op.f('ix_companies_parent_id'))

    op.drop_table('companies')
    op.drop_table('tenants')
