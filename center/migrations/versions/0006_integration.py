"""integration clients (互联网+政务服务 platform) and the QR page's one-time ratings

Revision ID: 0006
Revises: 0003
Create Date: 2026-12-03 10:00:00
"""
from alembic import op
import sqlalchemy as sa


revision = '0006'
down_revision = '0005'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('integration_clients',
    sa.Column('name', sa.String(length=48), nullable=False),
    sa.Column('hall_id', sa.String(length=64), nullable=False),
    sa.Column('token_hash', sa.String(length=64), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('record_count', sa.BigInteger(), nullable=False),
    sa.Column('max_seq', sa.BigInteger(), nullable=False),
    sa.Column('seq_count', sa.BigInteger(), nullable=False),
    sa.Column('conflict_count', sa.BigInteger(), nullable=False),
    sa.Column('rejected_count', sa.BigInteger(), nullable=False),
    sa.Column('last_post_at', sa.DateTime(), nullable=True),
    sa.PrimaryKeyConstraint('name'),
    sa.UniqueConstraint('token_hash')
    )
    op.create_table('qr_ratings',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('hall_id', sa.String(length=64), nullable=False),
    sa.Column('case_no', sa.String(length=64), nullable=False),
    sa.Column('matter_code', sa.String(length=64), nullable=False),
    sa.Column('evaluation_no', sa.Integer(), nullable=False),
    sa.Column('record_id', sa.String(length=36), nullable=False),
    sa.Column('rated_at', sa.DateTime(), nullable=False),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('hall_id', 'case_no', 'matter_code', 'evaluation_no', name='uq_qr_ratings_once'),
    sa.UniqueConstraint('record_id')
    )


def downgrade() -> None:
    op.drop_table('qr_ratings')
    op.drop_table('integration_clients')
