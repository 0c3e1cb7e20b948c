"""health scores keyed by (tenant, kind, entity), no other index, no rowid on SQLite; runs by time

Revision ID: scorecards_0002
Revises: scorecards_0001
Create Date: 2026-11-25 16:12:00

Current scores are derived data: the table is recreated empty and the next scoring run
(hourly, or `tether scores run TENANT`) fills it again. History and overrides are kept.
"""
from alembic import op
import sqlalchemy as sa
import tether.core.store.types

revision = 'scorecards_0002'
down_revision = 'scorecards_0001'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.drop_table('health_scores')
    op.create_table('health_scores',
    sa.Column('tenant_id', sa.String(length=64), nullable=False),
    sa.Column('entity_kind', sa.String(length=20), nullable=False),
    sa.Column('entity_id', sa.BigInteger(), autoincrement=False, nullable=False),
    sa.Column('scorecard', sa.String(length=80), nullable=False),
    sa.Column('score', sa.Float(), nullable=True),
    sa.Column('label', sa.String(length=40), nullable=True),
    sa.Column('color', sa.String(length=7), nullable=True),
    sa.Column('previous_score', sa.Float(), nullable=True),
    sa.Column('trend', sa.String(length=4), nullable=True),
    sa.Column('exception', sa.String(length=80), nullable=True),
    sa.Column('overridden', sa.Boolean(), nullable=False),
    sa.Column('measure_scores', sa.LargeBinary(), nullable=True),
    sa.Column('run_id', sa.BigInteger(), nullable=True),
    sa.Column('computed_at', tether.core.store.types.UTCDateTime(), nullable=False),
    sa.ForeignKeyConstraint(['tenant_id'], ['tenants.id'], name=op.f('fk_health_scores_tenant_id_tenants'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('tenant_id', 'entity_kind', 'entity_id', name=op.f('pk_health_scores')),
    sqlite_with_rowid=False
    )
    with op.batch_alter_table('scorecard_runs', schema=None) as batch_op:
        batch_op.create_index('ix_scorecard_runs_started', ['tenant_id', 'started_at'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('scorecard_runs', schema=None) as batch_op:
        batch_op.drop_index('ix_scorecard_runs_started')
    op.drop_table('health_scores')
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
