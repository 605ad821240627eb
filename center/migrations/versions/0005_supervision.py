"""综合点评 entries and the cases they open; 监督查评 draws, items and return visits

Revision ID: 0005
Revises: 0003
Create Date: 2026-12-02 10:00:00

A case now comes from a tablet's bad review (record_id) or from a 综合点评
entry (comment_id): record_id becomes nullable, `source` says which, and a
check keeps exactly one of the two. Existing cases are source 'record'.
On SQLite the cases table is copied (a NOT NULL cannot be dropped in
place); center.db.migrate turns foreign keys off for that and checks them
before the commit.
"""
from alembic import op
import sqlalchemy as sa


revision = '0005'
down_revision = '0004'
branch_labels = None
depends_on = None

CASE_SOURCE_RULE = ("(source = 'record' AND record_id IS NOT NULL AND comment_id IS NULL) OR "
                    "(source = 'comment' AND comment_id IS NOT NULL AND record_id IS NULL)")


def upgrade() -> None:
    op.create_table('comments',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('source', sa.String(length=16), nullable=False),
    sa.Column('verdict', sa.String(length=8), nullable=False),
    sa.Column('negative', sa.Boolean(), nullable=False),
    sa.Column('text', sa.Text(), nullable=False),
    sa.Column('department', sa.String(length=200), nullable=True),
    sa.Column('window_id', sa.String(length=64), nullable=True),
    sa.Column('matter_code', sa.String(length=200), nullable=True),
    sa.Column('matter_name', sa.String(length=200), nullable=True),
    sa.Column('contact_phone', sa.String(length=20), nullable=True),
    sa.Column('received_at', sa.DateTime(), nullable=False),
    sa.Column('entered_by', sa.String(length=64), nullable=False),
    sa.Column('entered_at', sa.DateTime(), nullable=False),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_index('ix_comments_received', 'comments', ['received_at'], unique=False)
    op.create_index('ix_comments_window', 'comments', ['window_id'], unique=False)

    with op.batch_alter_table('cases') as batch_op:
        batch_op.alter_column('record_id', existing_type=sa.String(length=36), nullable=True)
        batch_op.add_column(sa.Column('source', sa.String(length=16), nullable=False,
                                      server_default='record'))
        batch_op.add_column(sa.Column('comment_id', sa.Integer(), nullable=True))
        batch_op.create_foreign_key('fk_cases_comment_id', 'comments', ['comment_id'], ['id'])
        batch_op.create_unique_constraint('uq_cases_comment_id', ['comment_id'])
        batch_op.create_check_constraint('ck_cases_source', CASE_SOURCE_RULE)

    op.create_table('samples',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('period_start', sa.Date(), nullable=False),
    sa.Column('period_end', sa.Date(), nullable=False),
    sa.Column('window_id', sa.String(length=64), nullable=True),
    sa.Column('share', sa.String(length=32), nullable=False),
    sa.Column('min_per_window', sa.Integer(), nullable=False),
    sa.Column('seed', sa.BigInteger(), nullable=False),
    sa.Column('population', sa.BigInteger(), nullable=False),
    sa.Column('population_by_window', sa.JSON(), nullable=False),
    sa.Column('drawn_by', sa.String(length=64), nullable=False),
    sa.Column('drawn_at', sa.DateTime(), nullable=False),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_table('sample_items',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('sample_id', sa.Integer(), nullable=False),
    sa.Column('record_id', sa.String(length=36), nullable=False),
    sa.Column('window_id', sa.String(length=64), nullable=False),
    sa.ForeignKeyConstraint(['record_id'], ['records.id'], ),
    sa.ForeignKeyConstraint(['sample_id'], ['samples.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('sample_id', 'record_id', name='uq_sample_items_record')
    )
    op.create_index(op.f('ix_sample_items_record_id'), 'sample_items', ['record_id'], unique=False)
    op.create_table('return_visits',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('item_id', sa.Integer(), nullable=False),
    sa.Column('channel', sa.String(length=16), nullable=False),
    sa.Column('reached', sa.Boolean(), nullable=False),
    sa.Column('phone_scale', sa.Integer(), nullable=True),
    sa.Column('phone_rating', sa.String(length=32), nullable=True),
    sa.Column('exact', sa.Boolean(), nullable=True),
    sa.Column('same_class', sa.Boolean(), nullable=True),
    sa.Column('remarks', sa.Text(), nullable=False),
    sa.Column('visited_by', sa.String(length=64), nullable=False),
    sa.Column('visited_at', sa.DateTime(), nullable=False),
    sa.ForeignKeyConstraint(['item_id'], ['sample_items.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_index(op.f('ix_return_visits_item_id'), 'return_visits', ['item_id'], unique=False)


def downgrade() -> None:
    op.drop_index(op.f('ix_return_visits_item_id'), table_name='return_visits')
    op.drop_table('return_visits')
    op.drop_index(op.f('ix_sample_items_record_id'), table_name='sample_items')
    op.drop_table('sample_items')
    op.drop_table('samples')
    # the cases from 综合点评 entries have no record: they cannot stay in the older schema
    op.execute("DELETE FROM case_log WHERE case_id IN (SELECT id FROM cases WHERE source = 'comment')")
    op.execute("DELETE FROM alerts WHERE case_id IN (SELECT id FROM cases WHERE source = 'comment')")
    op.execute("DELETE FROM cases WHERE source = 'comment'")
    with op.batch_alter_table('cases') as batch_op:
        batch_op.drop_constraint('ck_cases_source', type_='check')
        batch_op.drop_constraint('uq_cases_comment_id', type_='unique')
        batch_op.drop_constraint('fk_cases_comment_id', type_='foreignkey')
        batch_op.drop_column('comment_id')
        batch_op.drop_column('source')
        batch_op.alter_column('record_id', existing_type=sa.String(length=36), nullable=False)
    op.drop_index('ix_comments_window', table_name='comments')
    op.drop_index('ix_comments_received', table_name='comments')
    op.drop_table('comments')
