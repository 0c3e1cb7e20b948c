"""rollup index leads with is_deleted

Revision ID: renewals_0003
Revises: renewals_0002
Create Date: 2026-11-25 16:05:00

Figures count only live opportunities; with ``is_deleted`` right after ``tenant_id`` the
rollup stays an index-only scan in due-date order.
"""
from alembic import op

revision = 'renewals_0003'
down_revision = 'renewals_0002'
branch_labels = None
depends_on = None

OLD_COLUMNS = ['tenant_id', 'due_date', 'booking_type', 'is_closed', 'is_won', 'forecast_category',
               'target_amount', 'forecast_amount', 'final_amount', 'probability']
NEW_COLUMNS = ['tenant_id', 'is_deleted'] + OLD_COLUMNS[1:]


def upgrade() -> None:
    with op.batch_alter_table('opportunities', schema=None) as batch_op:
        batch_op.drop_index('ix_opportunities_renewal_rollup')
        batch_op.create_index('ix_opportunities_renewal_rollup', NEW_COLUMNS, unique=False)


def downgrade() -> None:
    with op.batch_alter_table('opportunities', schema=None) as batch_op:
        batch_op.drop_index('ix_opportunities_renewal_rollup')
        batch_op.create_index('ix_opportunities_renewal_rollup', OLD_COLUMNS, unique=False)
