"""covering index for renewal rollups

Revision ID: renewals_0002
Revises: renewals_0001
Create Date: 2026-11-25 15:50:00

Replaces the plain due-date index with one that covers the rollup's GROUP BY and sums,
so forecast and metric queries read the index only.
"""
from alembic import op

revision = 'renewals_0002'
down_revision = 'renewals_0001'
branch_labels = None
depends_on = None

ROLLUP_COLUMNS = ['tenant_id', 'due_date', 'booking_type', 'is_closed', 'is_won', 'forecast_category',
                  'target_amount', 'forecast_amount', 'final_amount', 'probability']


def upgrade() -> None:
    with op.batch_alter_table('opportunities', schema=None) as batch_op:
        batch_op.drop_index('ix_opportunities_tenant_due')
        batch_op.create_index('ix_opportunities_renewal_rollup', ROLLUP_COLUMNS, unique=False)


def downgrade() -> None:
    with op.batch_alter_table('opportunities', schema=None) as batch_op:
        batch_op.drop_index('ix_opportunities_renewal_rollup')
        batch_op.create_index('ix_opportunities_tenant_due', ['tenant_id', 'due_date'], unique=False)
