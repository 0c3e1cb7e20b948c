"""relationship rules; one relationship per company, type and name

Revision ID: domain_0001
Revises: 
Create Date: 2026-11-25 15:38:56.024286
"""
from alembic import op
import sqlalchemy as sa
import tether.core.store.types
from sqlalchemy.dialects import postgresql

revision = 'domain_0001'
down_revision = None
branch_labels = ('domain',)
depends_on = 'core_0001'


def upgrade() -> None:
    op.create_table('relationship_rules',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('name', sa.String(length=100), nullable=False),
    sa.Column('type_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('entity', sa.String(length=40), nullable=False),
    sa.Column('field', sa.String(length=200), nullable=False),
    sa.Column('operator', sa.String(length=20), nullable=False),
    sa.Column('values', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.Column('relationship_name', sa.String(length=255), nullable=False),
    sa.Column('priority', sa.Integer(), nullable=False),
    sa.Column('enabled', sa.Boolean(), nullable=False),
    sa.Column('tenant_id', sa.String(length=64), nullable=False),
    sa.Column('created_at', tether.core.store.types.UTCDateTime(), nullable=False),
    sa.Column('updated_at', tether.core.store.types.UTCDateTime(), nullable=False),
    sa.ForeignKeyConstraint(['tenant_id'], ['tenants.id'], name=op.f('fk_relationship_rules_tenant_id_tenants'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['type_id'], ['relationship_types.id'], name=op.f('fk_relationship_rules_type_id_relationship_types'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_relationship_rules')),
    sa.UniqueConstraint('tenant_id', 'name', name=op.f('uq_relationship_rules_tenant_id_name'))
    )
    with op.batch_alter_table('relationship_rules', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_relationship_rules_tenant_id'), ['tenant_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_relationship_rules_type_id'), ['type_id'], unique=False)

    with op.batch_alter_table('relationships', schema=None) as batch_op:
        batch_op.create_unique_constraint(batch_op.f('uq_relationships_tenant_id_company_id_type_id_name'), ['tenant_id', 'company_id', 'type_id', 'name'])



def downgrade() -> None:
    with op.batch_alter_table('relationships', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('uq_relationships_tenant_id_company_id_type_id_name'), type_='unique')

    with op.batch_alter_table('relationship_rules', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_relationship_rules_type_id'))
        batch_op.drop_index(batch_op.f('ix_relationship_rules_tenant_id'))

    op.drop_table('relationship_rules')
