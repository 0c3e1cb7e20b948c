"""risk scores without a foreign key to opportunities

Revision ID: renewals_0004
Revises: renewals_0003
Create Date: 2026-11-25 16:40:00

Scores are rewritten wholesale by each scoring run; the per-row key check was half the
cost of writing 100,000 of them on PostgreSQL. Readers join to live opportunities.
"""
from alembic import op

revision = 'renewals_0004'
down_revision = 'renewals_0003'
branch_labels = None
depends_on = None

FK = 'fk_renewal_risk_scores_opportunity_id_opportunities'


def upgrade() -> None:
    with op.batch_alter_table('renewal_risk_scores', schema=None) as batch_op:
        batch_op.drop_constraint(FK, type_='foreignkey')


def downgrade() -> None:
    with op.batch_alter_table('renewal_risk_scores', schema=None) as batch_op:
        batch_op.create_foreign_key(FK, 'opportunities', ['opportunity_id'], ['id'], ondelete='CASCADE')
