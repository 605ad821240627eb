"""典型案例: cases a supervisor marked 表彰 or 通报 for the public page

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-05 10:00:00
"""
from alembic import op
import sqlalchemy as sa


revision = '0008'
down_revision = '0007'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('typical_cases',
    sa.Column('case_id', sa.Integer(), autoincrement=False, nullable=False),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('summary', sa.Text(), nullable=False),
    sa.Column('marked_by', sa.String(length=64), nullable=False),
    sa.Column('marked_at', sa.DateTime(), nullable=False),
    sa.CheckConstraint("kind IN ('commendation', 'notice')", name='ck_typical_cases_kind'),
    sa.ForeignKeyConstraint(['case_id'], ['cases.id'], name='fk_typical_cases_case_id'),
    sa.PrimaryKeyConstraint('case_id')
    )


def downgrade() -> None:
    op.drop_table('typical_cases')
