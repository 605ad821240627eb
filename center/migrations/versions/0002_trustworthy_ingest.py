"""trustworthy ingest: region in the enrollment, seq and conflict counters, record_conflicts, device_log

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-02

Existing devices get the region of their latest stored record (what they
have been sending), and seq_count from the records already stored, so the
gap count is right from the first page view after the upgrade.
"""
from alembic import op
import sqlalchemy as sa


revision = '0002'
down_revision = '0001'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('devices', schema=None) as batch_op:
        batch_op.add_column(sa.Column('region_code', sa.String(length=6), nullable=True))
        batch_op.add_column(sa.Column('seq_count', sa.BigInteger(), nullable=False, server_default='0'))
        batch_op.add_column(sa.Column('conflict_count', sa.BigInteger(), nullable=False,
                                      server_default='0'))

    op.create_table('record_conflicts',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('record_id', sa.String(length=36), nullable=False),
    sa.Column('device_id', sa.String(length=64), nullable=False),
    sa.Column('received_at', sa.DateTime(), nullable=False),
    sa.Column('fields', sa.JSON(), nullable=False),
    sa.Column('body', sa.JSON(), nullable=False),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('record_conflicts', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_record_conflicts_record_id'), ['record_id'], unique=False)
        batch_op.create_index('ix_record_conflicts_device', ['device_id', 'id'], unique=False)

    op.create_table('device_log',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('device_id', sa.String(length=64), nullable=False),
    sa.Column('at', sa.DateTime(), nullable=False),
    sa.Column('action', sa.String(length=16), nullable=False),
    sa.Column('previous', sa.JSON(), nullable=True),
    sa.Column('enrollment', sa.JSON(), nullable=False),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('device_log', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_device_log_device_id'), ['device_id'], unique=False)

    op.execute("""
        UPDATE devices SET
          seq_count = (SELECT count(DISTINCT r.seq) FROM records r WHERE r.device_id = devices.device_id),
          region_code = (SELECT r.region_code FROM records r WHERE r.device_id = devices.device_id
                         ORDER BY r.seq DESC LIMIT 1)
    """)


def downgrade() -> None:
    with op.batch_alter_table('device_log', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_device_log_device_id'))
    op.drop_table('device_log')
    with op.batch_alter_table('record_conflicts', schema=None) as batch_op:
        batch_op.drop_index('ix_record_conflicts_device')
        batch_op.drop_index(batch_op.f('ix_record_conflicts_record_id'))
    op.drop_table('record_conflicts')
    with op.batch_alter_table('devices', schema=None) as batch_op:
        batch_op.drop_column('conflict_count')
        batch_op.drop_column('seq_count')
        batch_op.drop_column('region_code')
