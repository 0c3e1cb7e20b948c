"""index for renewal history in customer and due-date order

Revision ID: renewals_0005
Revises: renewals_0004
Create Date: 2026-11-25 18:00:00

Risk scoring aggregates each customer's closed renewals (count, shortfalls, the last one's
place and target) from this index alone, in order, and reads the open renewals from it,
instead of reading every renewal from the table.
"""
from alembic import op

revision = 'renewals_0005'
down_revision = 'renewals_0004'
branch_labels = None
depends_on = None

COLUMNS = ['tenant_id', 'company_id', 'due_date', 'id', 'is_deleted', 'booking_type', 'is_closed', 'is_won',
           'target_amount', 'final_amount', 'relationship_id']


def upgrade() -> None:
    op.create_index('ix_opportunities_renewal_history', 'opportunities', COLUMNS, unique=False)


def downgrade() -> None:
    op.drop_index('ix_opportunities_renewal_history', table_name='opportunities')
