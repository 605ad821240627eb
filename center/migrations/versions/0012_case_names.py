"""case names for the statistics: cases carry their record's staff and matter names

The statistics' covering index now holds every column they count cases by.
The statistics page grouped cases by staff or matter through a join with
records, one index lookup per case into the largest table: 2.8 s for a year
over 10,000,000 records. Now it reads cases alone, from one index.

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-04 10:00:00
"""
from alembic import op
import sqlalchemy as sa


revision = '0012'
down_revision = '0011'
branch_labels = None
depends_on = None

COVERED = ['voted_at', 'state', 'on_time', 'appeal', 'rectified_at', 'source', 'window_id', 'department',
           'staff_id', 'staff_name', 'matter_code', 'matter_name']
OLD_COVERED = ['voted_at', 'state', 'on_time', 'window_id', 'department', 'staff_id', 'matter_code']


def upgrade() -> None:
    with op.batch_alter_table('cases', schema=None) as batch_op:
        batch_op.add_column(sa.Column('staff_name', sa.String(length=200), nullable=True))
        batch_op.add_column(sa.Column('matter_name', sa.String(length=200), nullable=True))
        batch_op.drop_index('ix_cases_voted')
    op.execute("UPDATE cases SET "
               "staff_name = (SELECT records.staff_name FROM records WHERE records.id = cases.record_id), "
               "matter_name = (SELECT records.matter_name FROM records WHERE records.id = cases.record_id) "
               "WHERE record_id IS NOT NULL")
    with op.batch_alter_table('cases', schema=None) as batch_op:
        batch_op.create_index('ix_cases_voted', COVERED, unique=False)


def downgrade() -> None:
    with op.batch_alter_table('cases', schema=None) as batch_op:
        batch_op.drop_index('ix_cases_voted')
        batch_op.create_index('ix_cases_voted', OLD_COVERED, unique=False)
        batch_op.drop_column('matter_name')
        batch_op.drop_column('staff_name')
