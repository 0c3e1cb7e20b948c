"""Timeline: activities and custom activity types

Revision ID: timeline_0001
Revises: 
Create Date: 2026-11-25 15:47:57.720364
"""
from alembic import op
import sqlalchemy as sa
import tether.core.store.types
from sqlalchemy.dialects import postgresql

revision = 'timeline_0001'
down_revision = None
branch_labels = ('timeline',)
depends_on = 'core_0001'


def upgrade() -> None:
    op.create_table('timeline_activity_types',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('name', sa.String(length=60), nullable=False),
    sa.Column('description', sa.String(length=500), nullable=False),
    sa.Column('scope', sa.String(length=20), nullable=False),
    sa.Column('relationship_type_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('tenant_id', sa.String(length=64), nullable=False),
    sa.Column('created_at', tether.core.store.types.UTCDateTime(), nullable=False),
    sa.Column('updated_at', tether.core.store.types.UTCDateTime(), nullable=False),
    sa.ForeignKeyConstraint(['relationship_type_id'], ['relationship_types.id'], name=op.f('fk_timeline_activity_types_relationship_type_id_relationship_types'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['tenant_id'], ['tenants.id'], name=op.f('fk_timeline_activity_types_tenant_id_tenants'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_timeline_activity_types')),
    sa.UniqueConstraint('tenant_id', 'name', name=op.f('uq_timeline_activity_types_tenant_id_name'))
    )
    with op.batch_alter_table('timeline_activity_types', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_timeline_activity_types_relationship_type_id'), ['relationship_type_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_timeline_activity_types_tenant_id'), ['tenant_id'], unique=False)

    op.create_table('timeline_activities',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('type', sa.String(length=60), nullable=False),
    sa.Column('subject', sa.String(length=255), nullable=False),
    sa.Column('notes', sa.Text(), nullable=False),
    sa.Column('occurred_at', tether.core.store.types.UTCDateTime(), nullable=False),
    sa.Column('duration_minutes', sa.Integer(), nullable=True),
    sa.Column('author', sa.String(length=200), nullable=False),
    sa.Column('internal_attendees', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.Column('external_attendees', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.Column('reporting_category', sa.String(length=80), nullable=True),
    sa.Column('company_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('relationship_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('opportunity_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('external_id', sa.String(length=64), nullable=True),
    sa.Column('tenant_id', sa.String(length=64), nullable=False),
    sa.Column('created_at', tether.core.store.types.UTCDateTime(), nullable=False),
    sa.Column('updated_at', tether.core.store.types.UTCDateTime(), nullable=False),
    sa.ForeignKeyConstraint(['company_id'], ['companies.id'], name=op.f('fk_timeline_activities_company_id_companies'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['opportunity_id'], ['opportunities.id'], name=op.f('fk_timeline_activities_opportunity_id_opportunities'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['relationship_id'], ['relationships.id'], name=op.f('fk_timeline_activities_relationship_id_relationships'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['tenant_id'], ['tenants.id'], name=op.f('fk_timeline_activities_tenant_id_tenants'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_timeline_activities'))
    )
    with op.batch_alter_table('timeline_activities', schema=None) as batch_op:
        batch_op.create_index('ix_timeline_activities_company', ['tenant_id', 'company_id', 'occurred_at', 'id'], unique=False)
        batch_op.create_index('ix_timeline_activities_opportunity', ['tenant_id', 'opportunity_id', 'occurred_at', 'id'], unique=False)
        batch_op.create_index('ix_timeline_activities_relationship', ['tenant_id', 'relationship_id', 'occurred_at', 'id'], unique=False)
        batch_op.create_index(batch_op.f('ix_timeline_activities_tenant_id'), ['tenant_id'], unique=False)
        batch_op.create_index('ix_timeline_activities_tenant_time', ['tenant_id', 'occurred_at', 'id'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('timeline_activities', schema=None) as batch_op:
        batch_op.drop_index('ix_timeline_activities_tenant_time')
        batch_op.drop_index(batch_op.f('ix_timeline_activities_tenant_id'))
        batch_op.drop_index('ix_timeline_activities_relationship')
        batch_op.drop_index('ix_timeline_activities_opportunity')
        batch_op.drop_index('ix_timeline_activities_company')

    op.drop_table('timeline_activities')
    with op.batch_alter_table('timeline_activity_types', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_timeline_activity_types_tenant_id'))
        batch_op.drop_index(batch_op.f('ix_timeline_activity_types_relationship_type_id'))

    op.drop_table('timeline_activity_types')
