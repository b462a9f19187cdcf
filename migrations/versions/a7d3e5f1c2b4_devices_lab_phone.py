"""lab and dock phones: devices.lab_phone (the no_network_adb rule does not apply to them)

Revision ID: a7d3e5f1c2b4
Revises: b8e4f6a2d3c5
Create Date: 2026-12-08 10:00:00

"""
import sqlalchemy as sa
from alembic import op

revision = 'a7d3e5f1c2b4'
down_revision = 'b8e4f6a2d3c5'
branch_labels = None
depends_on = None


def upgrade():
    # server_default false: every phone already registered is a work phone until IT says otherwise
    with op.batch_alter_table('devices', schema=None) as batch_op:
        batch_op.add_column(sa.Column('lab_phone', sa.Boolean(), server_default=sa.false(), nullable=False))


def downgrade():
    with op.batch_alter_table('devices', schema=None) as batch_op:
        batch_op.drop_column('lab_phone')
