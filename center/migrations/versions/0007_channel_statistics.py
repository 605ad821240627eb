"""records and daily statistics by channel and rating

records get the channel (评价渠道) their body names; daily_stats is keyed by
channel and satisfaction code too (0: unrated), so the assessment report
counts evaluations by channel and the charts the ratings' distribution from
the rollup (DESIGN §10.5).

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-04

Existing records take the channel from their body (every schema-1 record
has one; a body without it counts as a hall tablet's, the only source
before channels existed). daily_stats is rebuilt from the records with the
new key, as `hall-center rebuild-stats` does: the same totals, split by
channel and rating.
"""
from alembic import op
import sqlalchemy as sa


revision = '0007'
down_revision = '0006'
branch_labels = None
depends_on = None

OLD_KEY = ('day', 'department', 'window_id', 'staff_id', 'staff_name', 'matter_code', 'matter_name')
NEW_KEY = OLD_KEY + ('channel', 'satisfaction_code')

records = sa.table('records', sa.column('id', sa.String), sa.column('body', sa.JSON),
                   sa.column('channel', sa.String), sa.column('result', sa.String),
                   sa.column('bad', sa.Boolean), sa.column('satisfaction_code', sa.Integer),
                   *(sa.column(c) for c in OLD_KEY))
cases = sa.table('cases', sa.column('record_id', sa.String), sa.column('appeal', sa.String))


def _daily_stats(key: tuple[str, ...]) -> None:
    extra = {'channel': sa.Column('channel', sa.String(length=16), nullable=False),
             'satisfaction_code': sa.Column('satisfaction_code', sa.SmallInteger(), nullable=False)}
    op.create_table('daily_stats',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('day', sa.Date(), nullable=False),
    sa.Column('department', sa.String(length=200), nullable=False),
    sa.Column('window_id', sa.String(length=64), nullable=False),
    sa.Column('staff_id', sa.String(length=200), nullable=False),
    sa.Column('staff_name', sa.String(length=200), nullable=False),
    sa.Column('matter_code', sa.String(length=200), nullable=False),
    sa.Column('matter_name', sa.String(length=200), nullable=False),
    *(extra[c] for c in key if c in extra),
    sa.Column('total', sa.BigInteger(), nullable=False),
    sa.Column('rated', sa.BigInteger(), nullable=False),
    sa.Column('good', sa.BigInteger(), nullable=False),
    sa.Column('bad', sa.BigInteger(), nullable=False),
    sa.Column('excluded', sa.BigInteger(), nullable=False),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint(*key, name='uq_daily_stats_key')
    )


def _fill_daily_stats(key: tuple[str, ...]) -> None:
    """The rollup from the records (center/stats.py rebuild_daily_stats's SQL)."""
    r = records.c
    cols = {'channel': r.channel, 'satisfaction_code': sa.func.coalesce(r.satisfaction_code, 0)}
    keys = [cols.get(c, getattr(r, c, None)) for c in key]
    upheld = sa.case((sa.and_(cases.c.appeal == 'upheld', r.bad.is_(True)), 1), else_=0)
    rated = sa.case((r.result == 'rated', 1), else_=0)
    bad = sa.case((r.bad.is_(True), 1), else_=0)
    good = sa.case((sa.and_(r.result == 'rated', r.bad.is_(False)), 1), else_=0)
    sel = (sa.select(*keys, sa.func.count(), sa.func.sum(rated), sa.func.sum(good), sa.func.sum(bad),
                     sa.func.sum(upheld))
           .select_from(records.outerjoin(cases, cases.c.record_id == r.id))
           .group_by(*keys))
    target = sa.table('daily_stats', *(sa.column(c) for c in key + ('total', 'rated', 'good', 'bad', 'excluded')))
    op.get_bind().execute(target.insert().from_select(
        list(key) + ['total', 'rated', 'good', 'bad', 'excluded'], sel))


def upgrade() -> None:
    with op.batch_alter_table('records', schema=None) as batch_op:
        batch_op.add_column(sa.Column('channel', sa.String(length=16), nullable=True))
    op.get_bind().execute(records.update().values(
        channel=sa.func.coalesce(records.c.body['channel'].as_string(), 'hall_tablet')))
    with op.batch_alter_table('records', schema=None) as batch_op:
        batch_op.alter_column('channel', existing_type=sa.String(length=16), nullable=False)
    op.drop_table('daily_stats')
    _daily_stats(NEW_KEY)
    _fill_daily_stats(NEW_KEY)


def downgrade() -> None:
    op.drop_table('daily_stats')
    _daily_stats(OLD_KEY)
    _fill_daily_stats(OLD_KEY)
    with op.batch_alter_table('records', schema=None) as batch_op:
        batch_op.drop_column('channel')
