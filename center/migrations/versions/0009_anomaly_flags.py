"""anomaly flags for supervisors, and the staff id of a dashboard user

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-09 10:00:00
"""
from alembic import op
import sqlalchemy as sa


revision = '0009'
down_revision = '0008'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('anomaly_flags',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('key', sa.String(length=64), nullable=False),
    sa.Column('kind', sa.String(length=32), nullable=False),
    sa.Column('subject', sa.String(length=300), nullable=False),
    sa.Column('window_id', sa.String(length=64), nullable=True),
    sa.Column('staff_ids', sa.JSON(), nullable=False),
    sa.Column('summary', sa.Text(), nullable=False),
    sa.Column('evidence', sa.JSON(), nullable=False),
    sa.Column('facts', sa.JSON(), nullable=False),
    sa.Column('period_first', sa.Date(), nullable=True),
    sa.Column('period_last', sa.Date(), nullable=True),
    sa.Column('first_at', sa.DateTime(), nullable=True),
    sa.Column('last_at', sa.DateTime(), nullable=True),
    sa.Column('raised_at', sa.DateTime(), nullable=False),
    sa.Column('state', sa.String(length=16), nullable=False),
    sa.Column('superseded_by', sa.String(length=64), nullable=True),
    sa.Column('dismissed_by', sa.String(length=64), nullable=True),
    sa.Column('dismissed_at', sa.DateTime(), nullable=True),
    sa.Column('note', sa.Text(), nullable=True),
    sa.CheckConstraint("state IN ('open', 'dismissed', 'superseded')", name='ck_anomaly_flags_state'),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('key')
    )
    op.create_index('ix_anomaly_flags_state', 'anomaly_flags', ['state', 'raised_at'], unique=False)
    op.create_index('ix_anomaly_flags_subject', 'anomaly_flags', ['kind', 'subject'], unique=False)
    # nullable: added in place on SQLite too (no table copy)
    op.add_column('users', sa.Column('staff_id', sa.String(length=200), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('users') as batch:
        batch.drop_column('staff_id')
    op.drop_index('ix_anomaly_flags_subject', table_name='anomaly_flags')
    op.drop_index('ix_anomaly_flags_state', table_name='anomaly_flags')
    op.drop_table('anomaly_flags')
