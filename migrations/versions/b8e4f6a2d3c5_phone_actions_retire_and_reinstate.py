"""phone actions: who retired or reinstated a phone, when, and the reason they gave

Revision ID: b8e4f6a2d3c5
Revises: e5b1c9d7a3f2
Create Date: 2026-12-08 10:00:00

"""
import sqlalchemy as sa
from alembic import op

revision = 'b8e4f6a2d3c5'
down_revision = 'e5b1c9d7a3f2'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('phone_actions',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('device_id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('from_state', sa.String(length=24), nullable=False),
    sa.Column('to_state', sa.String(length=24), nullable=False),
    sa.Column('reason', sa.String(length=1000), nullable=False),
    sa.Column('by_id', sa.Integer(), nullable=True),
    sa.Column('at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint("kind IN ('retired', 'reinstated')", name=op.f('ck_phone_actions_kind_known')),
    sa.ForeignKeyConstraint(['by_id'], ['users.id'], name=op.f('fk_phone_actions_by_id_users'), ondelete='RESTRICT'),
    sa.ForeignKeyConstraint(['device_id'], ['devices.id'], name=op.f('fk_phone_actions_device_id_devices'), ondelete='RESTRICT'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_phone_actions'))
    )
    with op.batch_alter_table('phone_actions', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_phone_actions_device_id'), ['device_id'], unique=False)


def downgrade():
    with op.batch_alter_table('phone_actions', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_phone_actions_device_id'))

    op.drop_table('phone_actions')
