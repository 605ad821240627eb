"""the provincial upstream push: its outbox and the count of records that do not go up

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-10 10:00:00
"""
from alembic import op
import sqlalchemy as sa


revision = '0011'
down_revision = '0010'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('upstream_outbox',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('message_key', sa.String(length=120), nullable=False),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('evaluation_no', sa.SmallInteger(), nullable=False),
    sa.Column('record_id', sa.String(length=36), nullable=False),
    sa.Column('case_id', sa.Integer(), nullable=True),
    sa.Column('payload', sa.JSON(), nullable=True),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('next_attempt_at', sa.DateTime(), nullable=False),
    sa.Column('sent_at', sa.DateTime(), nullable=True),
    sa.Column('last_attempt_at', sa.DateTime(), nullable=True),
    sa.Column('last_outcome', sa.String(length=16), nullable=True),
    sa.Column('last_status', sa.Integer(), nullable=True),
    sa.Column('last_failed_at', sa.DateTime(), nullable=True),
    sa.Column('last_error', sa.Text(), nullable=True),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.ForeignKeyConstraint(['record_id'], ['records.id'], name='fk_upstream_outbox_record_id'),
    sa.ForeignKeyConstraint(['case_id'], ['cases.id'], name='fk_upstream_outbox_case_id'),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('message_key')
    )
    op.create_index('ix_upstream_outbox_record_id', 'upstream_outbox', ['record_id'], unique=False)
    op.create_index('ix_upstream_outbox_pending', 'upstream_outbox', ['sent_at', 'next_attempt_at'],
                    unique=False)
    op.create_index('ix_upstream_outbox_failed', 'upstream_outbox', ['last_failed_at'], unique=False)
    op.create_table('upstream_skips',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('day', sa.Date(), nullable=False),
    sa.Column('window_id', sa.String(length=64), nullable=False),
    sa.Column('why', sa.String(length=16), nullable=False),
    sa.Column('count', sa.BigInteger(), nullable=False),
    sa.Column('last_record_id', sa.String(length=36), nullable=False),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('day', 'window_id', 'why', name='uq_upstream_skips_key')
    )


def downgrade() -> None:
    op.drop_table('upstream_skips')
    op.drop_index('ix_upstream_outbox_failed', table_name='upstream_outbox')
    op.drop_index('ix_upstream_outbox_pending', table_name='upstream_outbox')
    op.drop_index('ix_upstream_outbox_record_id', table_name='upstream_outbox')
    op.drop_table('upstream_outbox')
