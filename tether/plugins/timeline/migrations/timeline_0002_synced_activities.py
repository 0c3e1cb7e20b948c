"""Timeline: activities synced from connectors (source, stamp, soft delete, references)

Revision ID: timeline_0002
Revises: timeline_0001
Create Date: 2026-11-25 17:48:53.958607
"""
from alembic import op
import sqlalchemy as sa
import tether.core.store.types


revision = 'timeline_0002'
down_revision = 'timeline_0001'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('timeline_activities', schema=None) as batch_op:
        batch_op.add_column(sa.Column('company_external_id', sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column('opportunity_external_id', sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column('external_source', sa.String(length=40), nullable=True))
        batch_op.add_column(sa.Column('source_modstamp', tether.core.store.types.UTCDateTime(), nullable=True))
        batch_op.add_column(sa.Column('is_deleted', sa.Boolean(), nullable=False, server_default=sa.false()))
        batch_op.add_column(sa.Column('deleted_at', tether.core.store.types.UTCDateTime(), nullable=True))
        batch_op.create_unique_constraint(batch_op.f('uq_timeline_activities_tenant_id_external_source_external_id'), ['tenant_id', 'external_source', 'external_id'])
        batch_op.create_index('ix_timeline_activities_company_ref', ['tenant_id', 'company_external_id'], unique=False)
        batch_op.create_index('ix_timeline_activities_opportunity_ref', ['tenant_id', 'opportunity_external_id'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('timeline_activities', schema=None) as batch_op:
        batch_op.drop_index('ix_timeline_activities_opportunity_ref')
        batch_op.drop_index('ix_timeline_activities_company_ref')
        batch_op.drop_constraint(batch_op.f('uq_timeline_activities_tenant_id_external_source_external_id'), type_='unique')
        batch_op.drop_column('deleted_at')
        batch_op.drop_column('is_deleted')
        batch_op.drop_column('source_modstamp')
        batch_op.drop_column('external_source')
        batch_op.drop_column('opportunity_external_id')
        batch_op.drop_column('company_external_id')

