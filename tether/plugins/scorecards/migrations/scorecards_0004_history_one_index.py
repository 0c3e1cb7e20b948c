"""health score history: one index (per entity, over time); snapshots no longer write two more

Revision ID: scorecards_0004
Revises: scorecards_0003
Create Date: 2026-12-07 08:50:00.000000
"""
from alembic import op


revision = 'scorecards_0004'
down_revision = 'scorecards_0003'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.drop_index('ix_health_score_history_time', table_name='health_score_history')
    op.drop_index('ix_health_score_history_tenant_id', table_name='health_score_history')


def downgrade() -> None:
    op.create_index('ix_health_score_history_tenant_id', 'health_score_history', ['tenant_id'], unique=False)
    op.create_index('ix_health_score_history_time', 'health_score_history', ['tenant_id', 'entity_kind', 'snapshot_at'],
                    unique=False)
