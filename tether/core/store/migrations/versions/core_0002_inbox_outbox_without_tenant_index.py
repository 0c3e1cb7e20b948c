"""inbox and outbox without a tenant_id index of their own (their other indexes lead with it)

A webhook commit wrote each notification into four B-trees; the store's share of a
message's CPU went down ~9 % without this one.

Revision ID: core_0002
Revises: core_0001
Create Date: 2026-12-07 08:50:00.000000
"""
from alembic import op


revision = 'core_0002'
down_revision = 'core_0001'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.drop_index('ix_inbox_tenant_id', table_name='inbox')
    op.drop_index('ix_outbox_tenant_id', table_name='outbox')


def downgrade() -> None:
    op.create_index('ix_outbox_tenant_id', 'outbox', ['tenant_id'], unique=False)
    op.create_index('ix_inbox_tenant_id', 'inbox', ['tenant_id'], unique=False)
