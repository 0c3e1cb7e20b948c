"""Cockpit: CTAs, tasks, comments, linked opportunities, playbooks, rules and rule occurrences

Revision ID: cockpit_0001
Revises: 
Create Date: 2026-11-25 16:57:52.880080
"""
from alembic import op
import sqlalchemy as sa
import tether.core.store.types
from sqlalchemy.dialects import postgresql

revision = 'cockpit_0001'
down_revision = None
branch_labels = ('cockpit',)
depends_on = 'core_0001'


def upgrade() -> None:
    op.create_table('cockpit_playbooks',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('name', sa.String(length=80), nullable=False),
    sa.Column('definition', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.Column('tenant_id', sa.String(length=64), nullable=False),
    sa.Column('created_at', tether.core.store.types.UTCDateTime(), nullable=False),
    sa.Column('updated_at', tether.core.store.types.UTCDateTime(), nullable=False),
    sa.ForeignKeyConstraint(['tenant_id'], ['tenants.id'], name=op.f('fk_cockpit_playbooks_tenant_id_tenants'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_cockpit_playbooks')),
    sa.UniqueConstraint('tenant_id', 'name', name=op.f('uq_cockpit_playbooks_tenant_id_name'))
    )
    with op.batch_alter_table('cockpit_playbooks', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_cockpit_playbooks_tenant_id'), ['tenant_id'], unique=False)

    op.create_table('cockpit_rule_occurrences',
    sa.Column('tenant_id', sa.String(length=64), nullable=False),
    sa.Column('rule_key', sa.String(length=80), nullable=False),
    sa.Column('occurrence_key', sa.String(length=200), nullable=False),
    sa.Column('company_id', sa.BigInteger(), nullable=True),
    sa.Column('cta_id', sa.BigInteger(), nullable=True),
    sa.Column('first_seen_at', tether.core.store.types.UTCDateTime(), nullable=False),
    sa.ForeignKeyConstraint(['tenant_id'], ['tenants.id'], name=op.f('fk_cockpit_rule_occurrences_tenant_id_tenants'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('tenant_id', 'rule_key', 'occurrence_key', name=op.f('pk_cockpit_rule_occurrences'))
    )
    op.create_table('cockpit_rules',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('name', sa.String(length=80), nullable=False),
    sa.Column('definition', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.Column('tenant_id', sa.String(length=64), nullable=False),
    sa.Column('created_at', tether.core.store.types.UTCDateTime(), nullable=False),
    sa.Column('updated_at', tether.core.store.types.UTCDateTime(), nullable=False),
    sa.ForeignKeyConstraint(['tenant_id'], ['tenants.id'], name=op.f('fk_cockpit_rules_tenant_id_tenants'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_cockpit_rules')),
    sa.UniqueConstraint('tenant_id', 'name', name=op.f('uq_cockpit_rules_tenant_id_name'))
    )
    with op.batch_alter_table('cockpit_rules', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_cockpit_rules_tenant_id'), ['tenant_id'], unique=False)

    op.create_table('cockpit_ctas',
    sa.Column('tenant_id', sa.String(length=64), nullable=False),
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('company_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('relationship_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('name', sa.String(length=255), nullable=False),
    sa.Column('type', sa.String(length=40), nullable=False),
    sa.Column('reason', sa.Text(), nullable=False),
    sa.Column('priority', sa.String(length=10), nullable=False),
    sa.Column('status', sa.String(length=40), nullable=False),
    sa.Column('is_closed', sa.Boolean(), nullable=False),
    sa.Column('owner', sa.String(length=200), nullable=True),
    sa.Column('due_date', sa.Date(), nullable=True),
    sa.Column('source', sa.String(length=20), nullable=False),
    sa.Column('rule_key', sa.String(length=80), nullable=True),
    sa.Column('occurrence_key', sa.String(length=200), nullable=True),
    sa.Column('playbook', sa.String(length=80), nullable=True),
    sa.Column('created_by', sa.String(length=200), nullable=True),
    sa.Column('closed_at', tether.core.store.types.UTCDateTime(), nullable=True),
    sa.Column('closed_by', sa.String(length=200), nullable=True),
    sa.Column('created_at', tether.core.store.types.UTCDateTime(), nullable=False),
    sa.Column('updated_at', tether.core.store.types.UTCDateTime(), nullable=False),
    sa.ForeignKeyConstraint(['company_id'], ['companies.id'], name=op.f('fk_cockpit_ctas_company_id_companies'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['relationship_id'], ['relationships.id'], name=op.f('fk_cockpit_ctas_relationship_id_relationships'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['tenant_id'], ['tenants.id'], name=op.f('fk_cockpit_ctas_tenant_id_tenants'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_cockpit_ctas'))
    )
    with op.batch_alter_table('cockpit_ctas', schema=None) as batch_op:
        batch_op.create_index('ix_cockpit_ctas_company', ['tenant_id', 'company_id'], unique=False)
        batch_op.create_index('ix_cockpit_ctas_owner', ['tenant_id', 'owner', 'is_closed', 'due_date', 'id'], unique=False)
        batch_op.create_index('ix_cockpit_ctas_relationship', ['tenant_id', 'relationship_id'], unique=False)
        batch_op.create_index('ix_cockpit_ctas_tenant_open', ['tenant_id', 'is_closed', 'due_date', 'id'], unique=False)
        batch_op.create_index('uq_cockpit_ctas_open_occurrence', ['tenant_id', 'rule_key', 'occurrence_key'], unique=True, sqlite_where=sa.text('is_closed = false'), postgresql_where=sa.text('is_closed = false'))

    op.create_table('cockpit_comments',
    sa.Column('tenant_id', sa.String(length=64), nullable=False),
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('cta_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('author', sa.String(length=200), nullable=False),
    sa.Column('body', sa.Text(), nullable=False),
    sa.Column('created_at', tether.core.store.types.UTCDateTime(), nullable=False),
    sa.ForeignKeyConstraint(['cta_id'], ['cockpit_ctas.id'], name=op.f('fk_cockpit_comments_cta_id_cockpit_ctas'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['tenant_id'], ['tenants.id'], name=op.f('fk_cockpit_comments_tenant_id_tenants'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_cockpit_comments'))
    )
    with op.batch_alter_table('cockpit_comments', schema=None) as batch_op:
        batch_op.create_index('ix_cockpit_comments_cta', ['tenant_id', 'cta_id', 'id'], unique=False)

    op.create_table('cockpit_cta_opportunities',
    sa.Column('tenant_id', sa.String(length=64), nullable=False),
    sa.Column('cta_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('opportunity_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.ForeignKeyConstraint(['cta_id'], ['cockpit_ctas.id'], name=op.f('fk_cockpit_cta_opportunities_cta_id_cockpit_ctas'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['opportunity_id'], ['opportunities.id'], name=op.f('fk_cockpit_cta_opportunities_opportunity_id_opportunities'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['tenant_id'], ['tenants.id'], name=op.f('fk_cockpit_cta_opportunities_tenant_id_tenants'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('cta_id', 'opportunity_id', name=op.f('pk_cockpit_cta_opportunities'))
    )
    with op.batch_alter_table('cockpit_cta_opportunities', schema=None) as batch_op:
        batch_op.create_index('ix_cockpit_cta_opportunities_opportunity', ['tenant_id', 'opportunity_id'], unique=False)

    op.create_table('cockpit_tasks',
    sa.Column('tenant_id', sa.String(length=64), nullable=False),
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('cta_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('name', sa.String(length=255), nullable=False),
    sa.Column('description', sa.Text(), nullable=False),
    sa.Column('owner', sa.String(length=200), nullable=True),
    sa.Column('due_date', sa.Date(), nullable=True),
    sa.Column('position', sa.Integer(), nullable=False),
    sa.Column('status', sa.String(length=20), nullable=False),
    sa.Column('completed_at', tether.core.store.types.UTCDateTime(), nullable=True),
    sa.Column('completed_by', sa.String(length=200), nullable=True),
    sa.Column('created_at', tether.core.store.types.UTCDateTime(), nullable=False),
    sa.Column('updated_at', tether.core.store.types.UTCDateTime(), nullable=False),
    sa.ForeignKeyConstraint(['cta_id'], ['cockpit_ctas.id'], name=op.f('fk_cockpit_tasks_cta_id_cockpit_ctas'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['tenant_id'], ['tenants.id'], name=op.f('fk_cockpit_tasks_tenant_id_tenants'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_cockpit_tasks'))
    )
    with op.batch_alter_table('cockpit_tasks', schema=None) as batch_op:
        batch_op.create_index('ix_cockpit_tasks_cta', ['tenant_id', 'cta_id', 'position'], unique=False)
        batch_op.create_index('ix_cockpit_tasks_owner', ['tenant_id', 'owner', 'status', 'due_date'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('cockpit_tasks', schema=None) as batch_op:
        batch_op.drop_index('ix_cockpit_tasks_owner')
        batch_op.drop_index('ix_cockpit_tasks_cta')

    op.drop_table('cockpit_tasks')
    with op.batch_alter_table('cockpit_cta_opportunities', schema=None) as batch_op:
        batch_op.drop_index('ix_cockpit_cta_opportunities_opportunity')

    op.drop_table('cockpit_cta_opportunities')
    with op.batch_alter_table('cockpit_comments', schema=None) as batch_op:
        batch_op.drop_index('ix_cockpit_comments_cta')

    op.drop_table('cockpit_comments')
    with op.batch_alter_table('cockpit_ctas', schema=None) as batch_op:
        batch_op.drop_index('uq_cockpit_ctas_open_occurrence', sqlite_where=sa.text('is_closed = false'), postgresql_where=sa.text('is_closed = false'))
        batch_op.drop_index('ix_cockpit_ctas_tenant_open')
        batch_op.drop_index('ix_cockpit_ctas_relationship')
        batch_op.drop_index('ix_cockpit_ctas_owner')
        batch_op.drop_index('ix_cockpit_ctas_company')

    op.drop_table('cockpit_ctas')
    with op.batch_alter_table('cockpit_rules', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_cockpit_rules_tenant_id'))

    op.drop_table('cockpit_rules')
    op.drop_table('cockpit_rule_occurrences')
    with op.batch_alter_table('cockpit_playbooks', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_cockpit_playbooks_tenant_id'))

    op.drop_table('cockpit_playbooks')
