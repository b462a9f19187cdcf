"""check-in stations: token scope station; where and when a phone last checked in; its due-date reminder

Revision ID: c4e1d7a90b12
Revises: 2f6311f819bd
Create Date: 2026-12-07 03:50:00

"""
from alembic import op
import sqlalchemy as sa


revision = 'c4e1d7a90b12'
down_revision = '2f6311f819bd'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('api_tokens', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('ck_api_tokens_scope_known'), type_='check')
        batch_op.create_check_constraint(batch_op.f('ck_api_tokens_scope_known'), "scope IN ('provision', 'agent', 'station')")
    with op.batch_alter_table('devices', schema=None) as batch_op:
        batch_op.add_column(sa.Column('checked_in_site', sa.String(length=120), nullable=True))
        batch_op.add_column(sa.Column('checked_in_at', sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('check_in_reminded_for', sa.Date(), nullable=True))


def downgrade():
    with op.batch_alter_table('devices', schema=None) as batch_op:
        batch_op.drop_column('check_in_reminded_for')
        batch_op.drop_column('checked_in_at')
        batch_op.drop_column('checked_in_site')
    op.execute("DELETE FROM api_tokens WHERE scope = 'station'")
    with op.batch_alter_table('api_tokens', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('ck_api_tokens_scope_known'), type_='check')
        batch_op.create_check_constraint(batch_op.f('ck_api_tokens_scope_known'), "scope IN ('provision', 'agent')")
