"""scorecards: definitions, runs, current scores, history, overrides

Revision ID: scorecards_0001
Revises: 
Create Date: 2026-11-25 15:57:02.207810
"""
from alembic import op
import sqlalchemy as sa
import tether.core.store.types
from sqlalchemy.dialects import postgresql

revision = 'scorecards_0001'
down_revision = None
branch_labels = ('scorecards',)
depends_on = 'core_0001'


def upgrade() -> None:
    op.create_table('health_score_history',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('entity_kind', sa.String(length=20), nullable=False),
    sa.Column('entity_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('scorecard', sa.String(length=80), nullable=False),
    sa.Column('score', sa.Float(), nullable=True),
    sa.Column('label', sa.String(length=40), nullable=True),
    sa.Column('overridden', sa.Boolean(), nullable=False),
    sa.Column('snapshot_at', tether.core.store.types.UTCDateTime(), nullable=False),
    sa.Column('tenant_id', sa.String(length=64), nullable=False),
    sa.ForeignKeyConstraint(['tenant_id'], ['tenants.id'], name=op.f('fk_health_score_history_tenant_id_tenants'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_health_score_history'))
    )
    with op.batch_alter_table('health_score_history', schema=None) as batch_op:
        batch_op.create_index('ix_health_score_history_entity', ['tenant_id', 'entity_kind', 'entity_id', 'snapshot_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_health_score_history_tenant_id'), ['tenant_id'], unique=False)
        batch_op.create_index('ix_health_score_history_time', ['tenant_id', 'entity_kind', 'snapshot_at'], unique=False)

    op.create_table('health_score_overrides',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('entity_kind', sa.String(length=20), nullable=False),
    sa.Column('entity_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('measure', sa.String(length=120), nullable=True),
    sa.Column('score', sa.Float(), nullable=False),
    sa.Column('note', sa.Text(), nullable=False),
    sa.Column('author', sa.String(length=200), nullable=False),
    sa.Column('created_at', tether.core.store.types.UTCDateTime(), nullable=False),
    sa.Column('consumed_at', tether.core.store.types.UTCDateTime(), nullable=True),
    sa.Column('tenant_id', sa.String(length=64), nullable=False),
    sa.ForeignKeyConstraint(['tenant_id'], ['tenants.id'], name=op.f('fk_health_score_overrides_tenant_id_tenants'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_health_score_overrides'))
    )
    with op.batch_alter_table('health_score_overrides', schema=None) as batch_op:
        batch_op.create_index('ix_health_score_overrides_active', ['tenant_id', 'entity_kind', 'consumed_at', 'entity_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_health_score_overrides_tenant_id'), ['tenant_id'], unique=False)

    op.create_table('scorecard_definitions',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('name', sa.String(length=80), nullable=False),
    sa.Column('entity', sa.String(length=20), nullable=False),
    sa.Column('definition', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.Column('tenant_id', sa.String(length=64), nullable=False),
    sa.Column('created_at', tether.core.store.types.UTCDateTime(), nullable=False),
    sa.Column('updated_at', tether.core.store.types.UTCDateTime(), nullable=False),
    sa.ForeignKeyConstraint(['tenant_id'], ['tenants.id'], name=op.f('fk_scorecard_definitions_tenant_id_tenants'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_scorecard_definitions')),
    sa.UniqueConstraint('tenant_id', 'name', name=op.f('uq_scorecard_definitions_tenant_id_name'))
    )
    with op.batch_alter_table('scorecard_definitions', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_scorecard_definitions_tenant_id'), ['tenant_id'], unique=False)

    op.create_table('scorecard_runs',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('trigger', sa.String(length=20), nullable=False),
    sa.Column('started_at', tether.core.store.types.UTCDateTime(), nullable=False),
    sa.Column('finished_at', tether.core.store.types.UTCDateTime(), nullable=True),
    sa.Column('scored', sa.Integer(), nullable=False),
    sa.Column('layouts', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.Column('details', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.Column('tenant_id', sa.String(length=64), nullable=False),
    sa.ForeignKeyConstraint(['tenant_id'], ['tenants.id'], name=op.f('fk_scorecard_runs_tenant_id_tenants'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_scorecard_runs'))
    )
    with op.batch_alter_table('scorecard_runs', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_scorecard_runs_tenant_id'), ['tenant_id'], unique=False)

    op.create_table('health_scores',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('entity_kind', sa.String(length=20), nullable=False),
    sa.Column('entity_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('scorecard', sa.String(length=80), nullable=False),
    sa.Column('score', sa.Float(), nullable=True),
    sa.Column('label', sa.String(length=40), nullable=True),
    sa.Column('color', sa.String(length=7), nullable=True),
    sa.Column('previous_score', sa.Float(), nullable=True),
    sa.Column('trend', sa.String(length=4), nullable=True),
    sa.Column('exception', sa.String(length=80), nullable=True),
    sa.Column('overridden', sa.Boolean(), nullable=False),
    sa.Column('measure_scores', sa.LargeBinary(), nullable=True),
    sa.Column('run_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('computed_at', tether.core.store.types.UTCDateTime(), nullable=False),
    sa.Column('tenant_id', sa.String(length=64), nullable=False),
    sa.ForeignKeyConstraint(['run_id'], ['scorecard_runs.id'], name=op.f('fk_health_scores_run_id_scorecard_runs'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['tenant_id'], ['tenants.id'], name=op.f('fk_health_scores_tenant_id_tenants'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_health_scores')),
    sa.UniqueConstraint('tenant_id', 'entity_kind', 'entity_id', name=op.f('uq_health_scores_tenant_id_entity_kind_entity_id'))
    )
    with op.batch_alter_table('health_scores', schema=None) as batch_op:
        batch_op.create_index('ix_health_scores_label', ['tenant_id', 'entity_kind', 'label'], unique=False)
        batch_op.create_index(batch_op.f('ix_health_scores_tenant_id'), ['tenant_id'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('health_scores', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_health_scores_tenant_id'))
        batch_op.drop_index('ix_health_scores_label')

    op.drop_table('health_scores')
    with op.batch_alter_table('scorecard_runs', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_scorecard_runs_tenant_id'))

    op.drop_table('scorecard_runs')
    with op.batch_alter_table('scorecard_definitions', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_scorecard_definitions_tenant_id'))

    op.drop_table('scorecard_definitions')
    with op.batch_alter_table('health_score_overrides', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_health_score_overrides_tenant_id'))
        batch_op.drop_index('ix_health_score_overrides_active')

    op.drop_table('health_score_overrides')
    with op.batch_alter_table('health_score_history', schema=None) as batch_op:
        batch_op.drop_index('ix_health_score_history_time')
        batch_op.drop_index(batch_op.f('ix_health_score_history_tenant_id'))
        batch_op.drop_index('ix_health_score_history_entity')

    op.drop_table('health_score_history')
