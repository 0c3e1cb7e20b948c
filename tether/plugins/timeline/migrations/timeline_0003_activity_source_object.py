"""Timeline: activity sources name connector and object ("salesforce:Task"): ids are unique per object only

Revision ID: timeline_0003
Revises: timeline_0002
Create Date: 2026-11-25 18:14:16.100185
"""
from alembic import op
import sqlalchemy as sa
import tether.core.store.types


revision = 'timeline_0003'
down_revision = 'timeline_0002'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('timeline_activities', schema=None) as batch_op:
        batch_op.alter_column('external_source',
               existing_type=sa.VARCHAR(length=40),
               type_=sa.String(length=120),
               existing_nullable=True)



def downgrade() -> None:
    with op.batch_alter_table('timeline_activities', schema=None) as batch_op:
        batch_op.alter_column('external_source',
               existing_type=sa.String(length=120),
               type_=sa.VARCHAR(length=40),
               existing_nullable=True)

