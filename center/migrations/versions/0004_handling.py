"""handling mechanism and directory

交办, 督办 (GB/T 39046 table 11 rows), 整改, 回复, 回访, 二次评价, 体制机制
with the rectification list; the directory of departments, windows, staff.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-03

Cases already stored keep their state; the new flags start false and the
督办 count at zero (server defaults), every other new column empty. The
directory starts empty: until a supervisor fills it, statistics by
department use the department the center's [departments] gave each record
at ingest, as before (DESIGN §13.6).
"""
from alembic import op
import sqlalchemy as sa


revision = '0004'
down_revision = '0003'
branch_labels = None
depends_on = None

CASE_COLUMNS = (
    ('ruled_on_spot', sa.Boolean(), False, sa.false()),
    ('assigned_department', sa.String(length=200), True, None),
    ('assigned_at', sa.DateTime(), True, None),
    ('supervision_count', sa.Integer(), False, '0'),
    ('last_supervised_at', sa.DateTime(), True, None),
    ('proposal', sa.Text(), True, None),
    ('proposed_at', sa.DateTime(), True, None),
    ('rectification', sa.Text(), True, None),
    ('rectified_at', sa.DateTime(), True, None),
    ('reply_told_at', sa.DateTime(), True, None),
    ('visited', sa.Boolean(), False, sa.false()),
    ('visit_method', sa.String(length=16), True, None),
    ('visited_at', sa.DateTime(), True, None),
    ('visit_satisfaction', sa.String(length=32), True, None),
    ('visit_note', sa.Text(), True, None),
    ('second_evaluated', sa.Boolean(), False, sa.false()),
    ('second_rating', sa.String(length=32), True, None),
    ('second_channel', sa.String(length=16), True, None),
    ('second_evaluated_at', sa.DateTime(), True, None),
    ('second_record_id', sa.String(length=36), True, None),
    ('structural', sa.Boolean(), False, sa.false()),
    ('structural_note', sa.Text(), True, None),
)


def upgrade() -> None:
    with op.batch_alter_table('cases', schema=None) as batch_op:
        for name, type_, nullable, default in CASE_COLUMNS:
            batch_op.add_column(sa.Column(name, type_, nullable=nullable, server_default=default))

    op.create_table('supervisions',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('case_id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('content', sa.Text(), nullable=False),
    sa.Column('issued_at', sa.DateTime(), nullable=False),
    sa.Column('department', sa.String(length=200), nullable=False),
    sa.Column('warning_code', sa.String(length=20), nullable=True),
    sa.Column('due_at', sa.DateTime(), nullable=False),
    sa.Column('actor', sa.String(length=64), nullable=False),
    sa.ForeignKeyConstraint(['case_id'], ['cases.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_index(op.f('ix_supervisions_case_id'), 'supervisions', ['case_id'], unique=False)

    op.create_table('second_evaluations',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('case_id', sa.Integer(), nullable=False),
    sa.Column('first_record_id', sa.String(length=36), nullable=False),
    sa.Column('evaluation_no', sa.SmallInteger(), nullable=False),
    sa.Column('scale', sa.SmallInteger(), nullable=False),
    sa.Column('rating', sa.String(length=32), nullable=False),
    sa.Column('satisfaction_code', sa.Integer(), nullable=False),
    sa.Column('bad', sa.Boolean(), nullable=False),
    sa.Column('channel', sa.String(length=16), nullable=False),
    sa.Column('at', sa.DateTime(), nullable=False),
    sa.Column('actor', sa.String(length=64), nullable=False),
    sa.Column('record_id', sa.String(length=36), nullable=True),
    sa.ForeignKeyConstraint(['case_id'], ['cases.id'], ),
    sa.ForeignKeyConstraint(['first_record_id'], ['records.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('case_id'),
    sa.UniqueConstraint('first_record_id', 'evaluation_no', name='uq_second_evaluations_first')
    )

    op.create_table('rectification_items',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('case_id', sa.Integer(), nullable=True),
    sa.Column('state', sa.String(length=16), nullable=False),
    sa.Column('cause', sa.Text(), nullable=False),
    sa.Column('department', sa.String(length=200), nullable=False),
    sa.Column('opened_at', sa.DateTime(), nullable=False),
    sa.Column('target_at', sa.DateTime(), nullable=True),
    sa.Column('plan', sa.Text(), nullable=True),
    sa.Column('started_at', sa.DateTime(), nullable=True),
    sa.Column('result', sa.Text(), nullable=True),
    sa.Column('done_at', sa.DateTime(), nullable=True),
    sa.Column('updated_at', sa.DateTime(), nullable=False),
    sa.ForeignKeyConstraint(['case_id'], ['cases.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_index(op.f('ix_rectification_items_case_id'), 'rectification_items', ['case_id'],
                    unique=False)
    op.create_index('ix_rectification_items_state', 'rectification_items', ['state', 'target_at'],
                    unique=False)

    op.create_table('rectification_log',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('item_id', sa.Integer(), nullable=False),
    sa.Column('at', sa.DateTime(), nullable=False),
    sa.Column('actor', sa.String(length=64), nullable=False),
    sa.Column('action', sa.String(length=16), nullable=False),
    sa.Column('from_state', sa.String(length=16), nullable=True),
    sa.Column('to_state', sa.String(length=16), nullable=True),
    sa.Column('note', sa.Text(), nullable=True),
    sa.ForeignKeyConstraint(['item_id'], ['rectification_items.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_index(op.f('ix_rectification_log_item_id'), 'rectification_log', ['item_id'],
                    unique=False)

    op.create_table('departments',
    sa.Column('id', sa.String(length=64), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_table('windows',
    sa.Column('id', sa.String(length=64), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('department_id', sa.String(length=64), nullable=False),
    sa.ForeignKeyConstraint(['department_id'], ['departments.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_index(op.f('ix_windows_department_id'), 'windows', ['department_id'], unique=False)
    op.create_table('staff',
    sa.Column('id', sa.String(length=200), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('window_id', sa.String(length=64), nullable=False),
    sa.ForeignKeyConstraint(['window_id'], ['windows.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_index(op.f('ix_staff_window_id'), 'staff', ['window_id'], unique=False)


def downgrade() -> None:
    op.drop_index(op.f('ix_staff_window_id'), table_name='staff')
    op.drop_table('staff')
    op.drop_index(op.f('ix_windows_department_id'), table_name='windows')
    op.drop_table('windows')
    op.drop_table('departments')
    op.drop_index(op.f('ix_rectification_log_item_id'), table_name='rectification_log')
    op.drop_table('rectification_log')
    op.drop_index('ix_rectification_items_state', table_name='rectification_items')
    op.drop_index(op.f('ix_rectification_items_case_id'), table_name='rectification_items')
    op.drop_table('rectification_items')
    op.drop_table('second_evaluations')
    op.drop_index(op.f('ix_supervisions_case_id'), table_name='supervisions')
    op.drop_table('supervisions')
    with op.batch_alter_table('cases', schema=None) as batch_op:
        for name, *_ in reversed(CASE_COLUMNS):
            batch_op.drop_column(name)
