"""health score digests: runs find changed scores without reading rows back

Revision ID: scorecards_0003
Revises: scorecards_0002
Create Date: 2026-11-25 16:58:18.951913
"""
from alembic import op
import sqlalchemy as sa


revision = 'scorecards_0003'
down_revision = 'scorecards_0002'
branch_labels = None
depends_on = None


def _has_digest() -> bool:
    return "digest" in {c["name"] for c in sa.inspect(op.get_bind()).get_columns("health_scores")}


def upgrade() -> None:
    if not _has_digest():  # idempotent: a database upgraded by a pre-release build may have it
        with op.batch_alter_table('health_scores', schema=None) as batch_op:
            batch_op.add_column(sa.Column('digest', sa.BigInteger(), nullable=True))


def downgrade() -> None:
    if _has_digest():
        with op.batch_alter_table('health_scores', schema=None) as batch_op:
            batch_op.drop_column('digest')
