"""Timeline: partial indexes on the activities hidden at their source, per company and per relationship

Revision ID: timeline_0004
Revises: timeline_0003
Create Date: 2026-12-07 06:40:00
"""
from alembic import op
import sqlalchemy as sa


revision = 'timeline_0004'
down_revision = 'timeline_0003'
branch_labels = None
depends_on = None

INDEXES = {"ix_timeline_activities_hidden_company": "company_id",
           "ix_timeline_activities_hidden_relationship": "relationship_id"}


def upgrade() -> None:
    for name, column in INDEXES.items():
        op.create_index(name, 'timeline_activities', ['tenant_id', column], unique=False,
                        sqlite_where=sa.text('is_deleted = 1'), postgresql_where=sa.text('is_deleted'))


def downgrade() -> None:
    for name in INDEXES:
        op.drop_index(name, table_name='timeline_activities')
