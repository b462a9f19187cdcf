"""the gate: phone pre-checks, reassignment requests

Revision ID: e5b1c9d7a3f2
Revises: c4e1d7a90b12
Create Date: 2026-12-07 06:55:00

"""
from alembic import op
import sqlalchemy as sa



revision = 'e5b1c9d7a3f2'
down_revision = 'c4e1d7a90b12'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('device_prechecks',
    sa.Column('device_id', sa.Integer(), nullable=False),
    sa.Column('rule', sa.String(length=64), nullable=False),
    sa.Column('outcome', sa.String(length=16), nullable=False),
    sa.Column('severity', sa.String(length=16), nullable=False),
    sa.Column('observed', sa.Text(), nullable=True),
    sa.Column('checked_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('device_state', sa.String(length=24), nullable=False),
    sa.Column('rules_version', sa.Integer(), nullable=True),
    sa.CheckConstraint("outcome IN ('pass', 'fail', 'error', 'not_applicable')", name=op.f('ck_device_prechecks_outcome_known')),
    sa.ForeignKeyConstraint(['device_id'], ['devices.id'], name=op.f('fk_device_prechecks_device_id_devices'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('device_id', 'rule', name=op.f('pk_device_prechecks'))
    )
    with op.batch_alter_table('enrolment_requests', schema=None) as batch_op:
        batch_op.add_column(sa.Column('previous_staff_member_id', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('previous_service_id', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('previous_role', sa.String(length=16), nullable=True))
        batch_op.add_column(sa.Column('reassign_reason', sa.String(length=1000), nullable=True))
        batch_op.create_foreign_key(batch_op.f('fk_enrolment_requests_previous_service_id_services'), 'services', ['previous_service_id'], ['id'], ondelete='RESTRICT')
        batch_op.create_foreign_key(batch_op.f('fk_enrolment_requests_previous_staff_member_id_staff_members'), 'staff_members', ['previous_staff_member_id'], ['id'], ondelete='RESTRICT')



def downgrade():
    with op.batch_alter_table('enrolment_requests', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('fk_enrolment_requests_previous_staff_member_id_staff_members'), type_='foreignkey')
        batch_op.drop_constraint(batch_op.f('fk_enrolment_requests_previous_service_id_services'), type_='foreignkey')
        batch_op.drop_column('reassign_reason')
        batch_op.drop_column('previous_role')
        batch_op.drop_column('previous_service_id')
        batch_op.drop_column('previous_staff_member_id')

    op.drop_table('device_prechecks')
