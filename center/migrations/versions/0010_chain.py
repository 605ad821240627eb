"""tamper evidence: each device's reported chain head and its last audit

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-05 10:00:00
"""
from alembic import op
import sqlalchemy as sa


revision = '0010'
down_revision = '0009'
branch_labels = None
depends_on = None

COLUMNS = (
    ('chain_seq', sa.BigInteger()),
    ('chain_hash', sa.String(length=64)),
    ('chain_pending', sa.BigInteger()),
    ('chain_reported_at', sa.DateTime()),
    ('chain_audited_at', sa.DateTime()),
    ('chain_audit', sa.JSON()),
)


def upgrade() -> None:
    with op.batch_alter_table('devices') as batch:
        for name, kind in COLUMNS:
            batch.add_column(sa.Column(name, kind, nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('devices') as batch:
        for name, _ in reversed(COLUMNS):
            batch.drop_column(name)
